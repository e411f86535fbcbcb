"""The flake8 plugin, through real `flake8` in a subprocess, against `netraven-contracts check`.

The job-path rule under flake8: flake8 hands the plugin every file, whether named on its command
line or found by walking a folder (and editors and pre-commit's flake8 hook name every file), so
the plugin checks a file only when it matches the configured job paths, named or walked. The CLI
checks a named file whatever its path. Both are tested here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.sources import MISSING_ID, UNKNOWN, job_project
from tests.sources import STATIC_CORPUS as CORPUS


MISSING_ID_LINE = 'NRJ006 result lacks "device_id"; add "device_id": device.id'
ADHOC_LINE = 'NRJ012 top-level key "serial" is not part of the contract; move it under "details"'

Row = tuple[str, int, int, str, str]  # path, line, column, code, message


def flake8(*args: str, cwd: Path, stdin: str | None = None, isolated: bool = True) -> subprocess.CompletedProcess[str]:
    # --isolated: no flake8 config of the machine or of a parent folder changes the outcome
    command = [sys.executable, "-m", "flake8", *(["--isolated"] if isolated else []), *args]
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True, timeout=300)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "--no-cache", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def flake8_rows(stdout: str) -> set[Row]:
    rows = set()
    for line in stdout.splitlines():
        path, row, col, rest = line.split(":", 3)
        code, message = rest.strip().split(" ", 1)
        rows.add((path, int(row), int(col), code, message))
    return rows


def cli_rows(stdout: str) -> set[Row]:
    return {(f["path"], f["line"], f["column"], f["code"], f["message"]) for f in json.loads(stdout)
            if f["severity"] != "info"}


@pytest.fixture
def corpus_jobs(tmp_path: Path) -> Path:
    """The handed corpus as job modules (inside a folder named jobs)."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for path in CORPUS:
        shutil.copy(path, jobs / path.name)
    return tmp_path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return job_project(tmp_path)


def test_flake8_reports_what_the_cli_reports_on_every_corpus_file(corpus_jobs: Path) -> None:
    named = [f"jobs/{p.name}" for p in CORPUS]
    ours = cli("--format", "json", *named, cwd=corpus_jobs)
    theirs = flake8("--select", "NRJ", *named, cwd=corpus_jobs)
    assert ours.returncode == theirs.returncode == 1, theirs.stderr
    expected = cli_rows(ours.stdout)
    # flake8 cannot parse the syntax-error case, so it runs no plugin on it (its own E999 says so)
    unparseable = {row for row in expected if row[3] == "NRJ900"}
    assert {row[0] for row in unparseable} == {"jobs/s17_syntax_error.py"}
    assert flake8_rows(theirs.stdout) == expected - unparseable
    # the comparison covers every kind of finding of the corpus, warnings included
    assert {row[3] for row in expected - unparseable} == {
        "NRJ001", "NRJ002", "NRJ003", "NRJ004", "NRJ005", "NRJ006", "NRJ007", "NRJ008", "NRJ010", "NRJ011",
        "NRJ012", "NRJ013", "NRJ014", "NRJ021"}


def test_a_file_flake8_cannot_parse_is_its_e999_on_the_line_of_our_nrj900(corpus_jobs: Path) -> None:
    proc = flake8("--select", "NRJ,E999", "jobs/s17_syntax_error.py", cwd=corpus_jobs)
    ours = cli_rows(cli("--format", "json", "jobs/s17_syntax_error.py", cwd=corpus_jobs).stdout)
    ((_, line, _, code, _),) = ours
    ((path, e999_line, _, e999, message),) = flake8_rows(proc.stdout)
    assert (code, path, e999, e999_line, message) == ("NRJ900", "jobs/s17_syntax_error.py", "E999", line,
                                                      "SyntaxError: expected ':'")


def test_walking_gives_the_same_findings_as_naming(corpus_jobs: Path) -> None:
    walked = flake8("--select", "NRJ", ".", cwd=corpus_jobs)
    ours = cli("--format", "json", ".", cwd=corpus_jobs)
    unparseable = {row for row in cli_rows(ours.stdout) if row[3] == "NRJ900"}
    assert flake8_rows(walked.stdout) == cli_rows(ours.stdout) - unparseable
    assert all(row[0].startswith("./jobs/") for row in flake8_rows(walked.stdout))


def test_flake8_applies_noqa_itself(corpus_jobs: Path) -> None:
    # s19 carries `# noqa: NRJ012`: flake8 drops the finding the plugin gave it, unless told not to
    quiet = flake8("--select", "NRJ", "jobs/s19_noqa.py", cwd=corpus_jobs)
    loud = flake8("--select", "NRJ", "--disable-noqa", "jobs/s19_noqa.py", cwd=corpus_jobs)
    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert loud.returncode == 1
    assert loud.stdout == ('jobs/s19_noqa.py:9:9: NRJ012 top-level key "serial" is not part of the contract; '
                           'move it under "details"\n')


def test_file_level_noqa_of_netraven_contracts_is_honoured(project: Path) -> None:
    (project / "pkg" / "jobs" / "legacy.py").write_text("# netraven-contracts: noqa\n" + MISSING_ID)
    proc = flake8("--select", "NRJ", "pkg/jobs/legacy.py", cwd=project)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_walked_files_outside_the_job_paths_are_not_checked(project: Path) -> None:
    proc = flake8("--select", "NRJ", ".", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [f"./pkg/jobs/adhoc.py:3:54: {ADHOC_LINE}",
                                        f"./pkg/jobs/missing_id.py:3:5: {MISSING_ID_LINE}"]


def test_named_files_outside_the_job_paths_are_not_checked_unlike_the_cli(project: Path) -> None:
    named = ["pkg/not_a_job.py", "pkg/jobs/__init__.py", "pkg/jobs/_shared.py"]
    theirs = flake8("--select", "NRJ", *named, cwd=project)
    ours = cli("--format", "json", *named, cwd=project)
    assert (theirs.returncode, theirs.stdout) == (0, "")
    assert {(f["path"], f["code"]) for f in json.loads(ours.stdout)} == {
        (path, code) for path in named for code in ("NRJ001", "NRJ020")}


def test_named_job_module_is_checked(project: Path) -> None:
    proc = flake8("--select", "NRJ", "pkg/jobs/missing_id.py", cwd=project)
    assert (proc.returncode, proc.stdout) == (1, f"pkg/jobs/missing_id.py:3:5: {MISSING_ID_LINE}\n")


def test_project_config_decides_job_paths_and_codes_as_for_the_cli(project: Path) -> None:
    (project / "pyproject.toml").write_text(textwrap.dedent('''\
        [tool.netraven-contracts]
        job-paths = ["pkg/*.py", "**/jobs/*.py"]
        exclude = ["pkg/jobs/adhoc.py"]
        extend-ignore = ["NRJ020"]
        '''))
    proc = flake8("--select", "NRJ", ".", cwd=project)
    assert proc.stdout.splitlines() == [
        "./pkg/jobs/missing_id.py:3:5: " + MISSING_ID_LINE,
        "./pkg/not_a_job.py:1:1: NRJ001 job module defines no module-level function `run`; add "
        "`def run(device, job_id, config, db):` that returns the result dict",
    ]
    assert flake8_rows(proc.stdout) == cli_rows(cli("--format", "json", ".", cwd=project).stdout)


def test_config_file_option_on_the_command_line_and_in_flake8_config(project: Path) -> None:
    elsewhere = project / "conf" / "pyproject.toml"
    elsewhere.parent.mkdir()
    elsewhere.write_text('[tool.netraven-contracts]\nignore = ["NRJ006"]\n')
    given = flake8("--select", "NRJ", "--netraven-contracts-config", str(elsewhere), "pkg/jobs", cwd=project)
    assert given.stdout == f"pkg/jobs/adhoc.py:3:54: {ADHOC_LINE}\n"
    (project / ".flake8").write_text(f"[flake8]\nnetraven-contracts-config = {elsewhere}\n")
    configured = flake8("--select", "NRJ", "pkg/jobs", cwd=project, isolated=False)
    assert configured.stdout == given.stdout


def test_bad_config_stops_flake8_with_one_clear_message(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.netraven-contracts]\nselect = ["E501"]\n')
    proc = flake8("--select", "NRJ", ".", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[:2] == [
        "There was a critical error during execution of Flake8:",
        f'netraven-contracts: {project / "pyproject.toml"}: select: "E501" is not a rule code or the prefix of '
        "one; codes look like NRJ005 (prefixes such as NRJ0 select several); `netraven-contracts rules` lists them",
    ]


def test_info_level_findings_are_not_shown(project: Path) -> None:
    (project / "pkg" / "jobs" / "unknown.py").write_text(UNKNOWN)
    theirs = flake8("--select", "NRJ", "pkg/jobs/unknown.py", cwd=project)
    ours = json.loads(cli("--format", "json", "pkg/jobs/unknown.py", cwd=project).stdout)
    assert (theirs.returncode, theirs.stdout) == (0, "")
    assert [f["code"] for f in ours] == ["NRJ015"]


def test_stdin_is_checked_under_its_display_name(project: Path) -> None:
    named = flake8("--select", "NRJ", "--stdin-display-name", "pkg/jobs/typed.py", "-", cwd=project,
                   stdin=MISSING_ID)
    anonymous = flake8("--select", "NRJ", "-", cwd=project, stdin=MISSING_ID)
    assert named.stdout == f"pkg/jobs/typed.py:3:5: {MISSING_ID_LINE}\n"
    assert (anonymous.returncode, anonymous.stdout) == (0, "")


def test_default_flake8_run_includes_nrj_next_to_pyflakes(project: Path) -> None:
    (project / "pkg" / "jobs" / "missing_id.py").write_text("import os\n" + MISSING_ID)
    # no --select: the plugin's codes are on by default (pycodestyle's style codes left out here)
    proc = flake8("--extend-ignore", "E,W", "pkg/jobs/missing_id.py", cwd=project)
    assert proc.stdout.splitlines() == [
        "pkg/jobs/missing_id.py:1:1: F401 'os' imported but unused",
        f"pkg/jobs/missing_id.py:4:5: {MISSING_ID_LINE}",
    ]


def test_plugin_module_imports_libcst_only_to_check_a_job_module(tmp_path: Path) -> None:
    script = textwrap.dedent('''\
        import argparse, sys
        from netraven_contracts.flake8_plugin import NetravenContractsChecker as Checker
        print("libcst" in sys.modules)
        Checker.parse_options(argparse.Namespace(netraven_contracts_config=None))
        print(list(Checker(None, "lib/util.py", ["x = 1\\n"]).run()), "libcst" in sys.modules)
        print(len(list(Checker(None, "jobs/a.py", ["x = 1\\n"]).run())), "libcst" in sys.modules)
        ''')
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.stdout.splitlines() == ["False", "[] False", "2 True"], proc.stderr
