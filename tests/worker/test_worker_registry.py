"""The job registry: static check + dry run per module, loud rejections, nothing at import time."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest

from netraven.worker.job_registry import RegistryError, load_registry
from netraven.worker.jobs import config_backup, reachability

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "tests" / "data" / "corpus" / "runtime"

GOOD = '''JOB_META = {"label": "Good", "description": "Good.", "icon": "mdi-check", "default_schedule": "daily"}


def run(device, job_id, config, db):
    return {"success": True, "device_id": device.id}
'''


def corpus_headers() -> dict[str, tuple[set[str], str]]:
    """stem -> (codes of the `# dry-run:` header, `accept` or `reject`)."""
    out = {}
    for path in sorted(CORPUS.glob("*.py")):
        first, second = path.read_text().splitlines()[:2]
        codes = set(first.split(":", 1)[1].split()) - {"clean"}
        out[path.stem] = (codes, second.split(":", 1)[1].strip())
    return out


def test_jobs_list_json_rejects_exactly_the_corpus_modules_marked_reject() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "netraven.cli", "jobs", "list", "--format", "json",
         "--jobs-dir", "tests/data/corpus/runtime"],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stderr  # documented: 1 when a module was rejected
    listing = json.loads(proc.stdout)
    headers = corpus_headers()

    assert set(listing) == {"registered", "rejected"}
    registered = {job["job_type"]: job for job in listing["registered"]}
    rejected = {Path(module["path"]).stem: module for module in listing["rejected"]}
    assert set(registered) == {stem for stem, (_c, verdict) in headers.items()
                               if verdict == "accept"}
    assert set(rejected) == {stem for stem, (_c, verdict) in headers.items()
                             if verdict == "reject"}
    for stem, module in rejected.items():
        found = {finding["code"] for finding in module["findings"]}
        assert headers[stem][0] <= found, (stem, found)
        assert module["module"] == stem
        for finding in module["findings"]:
            assert set(finding) == {"code", "severity", "message", "line"}
            assert finding["severity"] in ("error", "warning")
    for job_type, job in registered.items():
        assert set(job) == {"job_type", "module", "path", "meta"}
        assert job["meta"]["job_type"] == job_type
        assert {"label", "description", "icon", "default_schedule"} <= set(job["meta"])
    # One log line per rejected module, naming its codes.
    lines = [line for line in proc.stderr.splitlines() if "rejected job module" in line]
    assert len(lines) == len(rejected)
    for line in lines:
        stem = Path(re.search(r"rejected job module (\S+):", line).group(1)).stem  # type: ignore[union-attr]
        assert all(code in line for code in headers[stem][0]), line


def test_the_products_own_jobs_are_registered_with_their_meta_and_job_type() -> None:
    registry = load_registry()
    assert list(registry.registered) == ["config_backup", "reachability"]
    assert registry.rejected == ()
    backup = registry.registered["config_backup"]
    assert backup.module == "netraven.worker.jobs.config_backup"
    assert backup.run is config_backup.run
    assert dict(backup.meta) == {**config_backup.JOB_META, "job_type": "config_backup"}
    assert "job_type" not in config_backup.JOB_META  # the module's own dict is untouched
    with pytest.raises(TypeError):
        backup.meta["label"] = "x"  # type: ignore[index]
    assert registry.registered["reachability"].run is reachability.run
    assert {w.code for w in registry.registered["reachability"].warnings} == {"NRJ033"}


def test_job_types_limits_the_work_to_the_named_modules() -> None:
    registry = load_registry(job_types=["reachability"])
    assert list(registry.registered) == ["reachability"]


def test_a_module_that_hangs_on_import_is_rejected_and_the_others_still_load(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "sleeper.py").write_text("import time\n\ntime.sleep(3600)\n" + GOOD)
    (tmp_path / "crasher.py").write_text("import os\n\nos._exit(7)\n" + GOOD)
    (tmp_path / "_private.py").write_text("raise SystemExit('never loaded')\n")
    with caplog.at_level(logging.INFO, logger="netraven.registry"):
        registry = load_registry(tmp_path, dry_run_timeout=1.0)
    assert list(registry.registered) == ["good"]
    # The dry run reports an import that dies or never finishes as a failed import (NRJ034).
    assert {r.module: r.codes for r in registry.rejected} == {
        "crasher": ["NRJ034"], "sleeper": ["NRJ034"]}
    errors = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert len(errors) == 2
    assert "crasher.py: NRJ034" in errors[0] and "os._exit(7)" in errors[0]
    assert "sleeper.py: NRJ034" in errors[1] and "did not finish within 1 s" in errors[1]


def test_two_modules_of_the_same_job_type_are_both_rejected(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "backup.py").write_text(GOOD)
    (tmp_path / "a" / "other.py").write_text(GOOD)
    registry = load_registry([tmp_path / "a", tmp_path / "b"])
    assert list(registry.registered) == ["other"]
    assert sorted(str(r.path) for r in registry.rejected) == [
        str(tmp_path / "a" / "backup.py"), str(tmp_path / "b" / "backup.py")]
    for rejected in registry.rejected:
        (finding,) = rejected.findings
        assert (finding.code, finding.source) == ("NRJ035", "registry")
        other = "b" if rejected.path.parent.name == "a" else "a"
        assert finding.message == (f"job type 'backup' is also defined by {tmp_path / other / 'backup.py'}; "
                                   "rename one of the modules")


def test_a_job_type_longer_than_the_column_is_rejected(tmp_path: Path) -> None:
    (tmp_path / ("x" * 33 + ".py")).write_text(GOOD)
    registry = load_registry(tmp_path)
    assert not registry.registered
    finding = registry.rejected[0].findings[-1]
    assert (finding.code, finding.message) == (
        "NRJ036", f"job type {'x' * 33!r} is 33 characters, longer than the 32 of job_results.job_type; "
                  "rename the module")


def test_a_missing_jobs_folder_is_an_error_not_an_empty_registry(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="is not a folder of job modules"):
        load_registry(tmp_path / "nope")


def test_the_projects_ignore_list_applies_as_in_the_cli(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "no_icon.py").write_text(GOOD.replace('"icon": "mdi-check", ', ""))
    assert [r.codes for r in load_registry(jobs).rejected] == [["NRJ021"]]
    (tmp_path / "pyproject.toml").write_text('[tool.netraven-contracts]\nextend-ignore = ["NRJ021"]\n')
    registry = load_registry(jobs)
    assert list(registry.registered) == ["no_icon"] and not registry.rejected


def test_a_broken_project_configuration_stops_loading_with_its_file(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "ok.py").write_text(GOOD)
    (tmp_path / "pyproject.toml").write_text('[tool.netraven-contracts]\nselect = ["E501"]\n')
    with pytest.raises(RegistryError, match='select: "E501" is not a rule code'):
        load_registry(jobs)
