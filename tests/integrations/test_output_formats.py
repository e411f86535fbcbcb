"""`check --format github` and `--format sarif`: exact output, GitHub's escaping, SARIF validity.

The SARIF output is validated against the official SARIF 2.1.0 JSON schema, shipped as
`tests/data/sarif-schema-2.1.0.json`: the OASIS Standard's schema with errata 01
(`$id` https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json),
copied byte for byte from `Schemata/sarif-schema-2.1.0.json` of the OASIS SARIF TC's repository
https://github.com/oasis-tcs/sarif-spec (commit 0a8091f7d4057e57b6d8d9b56129e5f918747b34).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from netraven_contracts import __version__
from netraven_contracts.findings import Finding
from netraven_contracts.output import format_github, format_sarif
from netraven_contracts.ruledocs import explain
from netraven_contracts.rules import RULES, Severity
from tests.sources import ADHOC, ADHOC_MESSAGE, MISSING_ID, MISSING_ID_MESSAGE, UNKNOWN, UNKNOWN_MESSAGE
from tests.sources import STATIC_CORPUS as CORPUS

SCHEMA_PATH = Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "--no-cache", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    jobs = tmp_path / "pkg" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "adhoc.py").write_text(ADHOC)
    (jobs / "missing_id.py").write_text(MISSING_ID)
    (jobs / "unknown.py").write_text(UNKNOWN)
    return tmp_path


@pytest.fixture(scope="module")
def sarif_validator() -> jsonschema.Draft4Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    # every format jsonschema knows: the schema is draft 4 but uses draft 6's "uri-reference" too.
    # Without a URI library jsonschema skips "uri" formats silently; the test would then prove less.
    checker = jsonschema.FormatChecker()
    assert {"uri", "uri-reference"} <= set(checker.checkers), "install the test extras (rfc3986-validator)"
    return jsonschema.Draft4Validator(schema, format_checker=checker)


def _errors(validator: jsonschema.Draft4Validator, log: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(log)]


# ---------------------------------------------------------------------------------------- github

def test_github_format_is_one_workflow_command_per_error_and_warning(project: Path) -> None:
    proc = cli("--format", "github", "pkg/jobs", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout == (
        f"::warning file=pkg/jobs/adhoc.py,line=3,col=54,title=NRJ012::{ADHOC_MESSAGE}\n"
        f"::error file=pkg/jobs/missing_id.py,line=3,col=5,title=NRJ006::{MISSING_ID_MESSAGE}\n"
    )
    assert proc.stderr == ("Found 1 error, 1 warning, 1 info in 3 of 3 files checked "
                           "(info hidden; --show-info shows it).\n")


def test_github_format_shows_info_as_notice_only_when_asked(project: Path) -> None:
    proc = cli("--format", "github", "--show-info", "pkg/jobs/unknown.py", cwd=project)
    assert (proc.returncode, proc.stdout) == (
        0, f"::notice file=pkg/jobs/unknown.py,line=5,col=5,title=NRJ015::{UNKNOWN_MESSAGE}\n")


def test_github_format_names_walked_and_absolute_paths_relative_to_the_workspace(project: Path) -> None:
    walked = cli("--format", "github", ".", cwd=project / "pkg")
    absolute = cli("--format", "github", str(project / "pkg" / "jobs" / "missing_id.py"), cwd=project)
    assert [line.split(",")[0] for line in walked.stdout.splitlines()] == [
        "::warning file=jobs/adhoc.py", "::error file=jobs/missing_id.py"]
    assert absolute.stdout.startswith("::error file=pkg/jobs/missing_id.py,line=3,col=5,")


def test_github_format_escapes_data_and_properties() -> None:
    finding = Finding("jobs/a,b:c%.py", 7, 3, "NRJ006", 'lacks "device_id" (100%)\r\nsee: here, there',
                      Severity.ERROR)
    assert format_github([finding]) == (
        "::error file=jobs/a%2Cb%3Ac%25.py,line=7,col=3,title=NRJ006::"
        'lacks "device_id" (100%25)%0D%0Asee: here, there\n')


def test_statistics_follow_the_annotations(project: Path) -> None:
    proc = cli("--format", "github", "--statistics", "--quiet", "pkg/jobs", cwd=project)
    assert proc.stdout.splitlines() == [
        f"::warning file=pkg/jobs/adhoc.py,line=3,col=54,title=NRJ012::{ADHOC_MESSAGE}",
        f"::error file=pkg/jobs/missing_id.py,line=3,col=5,title=NRJ006::{MISSING_ID_MESSAGE}",
        "    1  NRJ006  missing-device-id",
        "    1  NRJ012  ad-hoc-key",
        "    1  NRJ015  unknown-result-shape",
    ]


# ----------------------------------------------------------------------------------------- sarif

def _location(uri: str, line: int, column: int) -> list[dict[str, object]]:
    return [{"physicalLocation": {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"},
                                  "region": {"startLine": line, "startColumn": column}}}]


def test_sarif_results_for_a_small_case(project: Path, sarif_validator: jsonschema.Draft4Validator) -> None:
    proc = cli("--format", "sarif", "pkg/jobs", cwd=project)
    assert proc.returncode == 1
    log = json.loads(proc.stdout)
    assert _errors(sarif_validator, log) == []
    assert log["$schema"] == ("https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/"
                              "sarif-schema-2.1.0.json")
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    assert run["tool"]["driver"]["name"] == "netraven-contracts"
    assert run["tool"]["driver"]["version"] == run["tool"]["driver"]["semanticVersion"] == __version__
    assert run["columnKind"] == "unicodeCodePoints"
    assert run["results"] == [
        {"ruleId": "NRJ012", "ruleIndex": 11, "level": "warning", "message": {"text": ADHOC_MESSAGE},
         "locations": _location("pkg/jobs/adhoc.py", 3, 54)},
        {"ruleId": "NRJ006", "ruleIndex": 5, "level": "error", "message": {"text": MISSING_ID_MESSAGE},
         "locations": _location("pkg/jobs/missing_id.py", 3, 5)},
    ]


def test_sarif_info_is_a_note_only_when_asked(project: Path) -> None:
    hidden = json.loads(cli("--format", "sarif", "pkg/jobs/unknown.py", cwd=project).stdout)
    shown = json.loads(cli("--format", "sarif", "--show-info", "pkg/jobs/unknown.py", cwd=project).stdout)
    assert hidden["runs"][0]["results"] == []
    assert shown["runs"][0]["results"] == [
        {"ruleId": "NRJ015", "ruleIndex": 14, "level": "note", "message": {"text": UNKNOWN_MESSAGE},
         "locations": _location("pkg/jobs/unknown.py", 5, 5)}]


def test_sarif_has_one_rule_per_catalogue_entry_with_help_and_examples(project: Path) -> None:
    rules = json.loads(cli("--format", "sarif", "pkg/jobs/adhoc.py", cwd=project).stdout)["runs"][0]["tool"][
        "driver"]["rules"]
    assert [r["id"] for r in rules] == list(RULES)
    nrj006 = rules[5]
    assert nrj006["id"] == "NRJ006"
    assert nrj006["name"] == "missing-device-id"
    assert nrj006["helpUri"] == "https://github.com/netraven/netraven-contracts/blob/main/docs/rules.md#nrj006"
    assert nrj006["defaultConfiguration"] == {"level": "error"}
    assert nrj006["shortDescription"] == {"text": RULES["NRJ006"].summary}
    assert nrj006["help"]["text"] == explain(RULES["NRJ006"])
    for rule, descriptor in zip(RULES.values(), rules):
        help_markdown = descriptor["help"]["markdown"]
        assert f"```python\n{rule.bad.rstrip()}\n```" in help_markdown, rule.code
        assert f"```python\n{rule.good.rstrip()}\n```" in help_markdown, rule.code
        assert rule.bad.rstrip() in descriptor["help"]["text"].replace("\n    ", "\n"), rule.code
        assert descriptor["fullDescription"]["text"].endswith(rule.rationale), rule.code
        levels = {"error": "error", "warning": "warning", "info": "note"}
        assert descriptor["defaultConfiguration"]["level"] == levels[rule.severity.value], rule.code


def test_sarif_of_the_whole_corpus_validates_and_meets_code_scanning_needs(
        sarif_validator: jsonschema.Draft4Validator, tmp_path: Path) -> None:
    proc = cli("--format", "sarif", "--show-info", *(str(p) for p in CORPUS), cwd=CORPUS[0].parent)
    assert proc.returncode == 1, proc.stderr
    log = json.loads(proc.stdout)
    assert _errors(sarif_validator, log) == []
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert {r["ruleId"] for r in run["results"]} >= {"NRJ003", "NRJ006", "NRJ012", "NRJ900"}
    # what GitHub code scanning reads beyond the schema
    for rule in rules:
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"] and rule["help"]["text"]
    for res in run["results"]:
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in {"error", "warning", "note"}
        (location,) = res["locations"]
        # files named by absolute path come out relative to the current directory (the checkout)
        assert location["physicalLocation"]["artifactLocation"]["uri"] in {p.name for p in CORPUS}
        assert location["physicalLocation"]["region"]["startLine"] >= 1


def test_sarif_schema_rejects_what_code_scanning_would_reject(sarif_validator: jsonschema.Draft4Validator) -> None:
    finding = Finding("jobs/a.py", 3, 5, "NRJ006", MISSING_ID_MESSAGE, Severity.ERROR)
    log = json.loads(format_sarif([finding]))
    assert _errors(sarif_validator, log) == []
    log["runs"][0]["results"][0]["level"] = "info"
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    log["runs"][0]["tool"]["driver"]["rules"][0]["helpUri"] = "docs/rules.md#nrj001"
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "jobs/a b.py"
    assert sorted(_errors(sarif_validator, log)) == [
        "runs/0/results/0/level: 'info' is not one of ['none', 'note', 'warning', 'error']",
        "runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri: 'jobs/a b.py' is not a "
        "'uri-reference'",
        "runs/0/results/0/locations/0/physicalLocation/region/startLine: 0 is less than the minimum of 1",
        "runs/0/tool/driver/rules/0/helpUri: 'docs/rules.md#nrj001' is not a 'uri'",
    ]


def test_sarif_uris_are_percent_encoded_and_outside_paths_absolute(
        tmp_path: Path, sarif_validator: jsonschema.Draft4Validator, monkeypatch: pytest.MonkeyPatch) -> None:
    inside, outside = tmp_path / "repo", tmp_path / "elsewhere"
    inside.mkdir()
    outside.mkdir()
    monkeypatch.chdir(inside)
    findings = [Finding("jobs/my job.py", 1, 1, "NRJ001", "m", Severity.ERROR),
                Finding(str(outside / "jobs" / "x.py"), 1, 1, "NRJ001", "m", Severity.ERROR)]
    log = json.loads(format_sarif(findings))
    assert _errors(sarif_validator, log) == []
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in log["runs"][0]["results"]] == [
        {"uri": "jobs/my%20job.py", "uriBaseId": "%SRCROOT%"},
        {"uri": (outside / "jobs" / "x.py").as_uri()},
    ]


def test_statistics_go_to_stderr_so_sarif_and_json_stay_parseable(project: Path) -> None:
    for fmt in ("sarif", "json"):
        proc = cli("--format", fmt, "--statistics", "--quiet", "pkg/jobs", cwd=project)
        json.loads(proc.stdout)
        assert proc.stderr.splitlines() == ["    1  NRJ006  missing-device-id", "    1  NRJ012  ad-hoc-key",
                                            "    1  NRJ015  unknown-result-shape"], fmt
