"""`netraven-contracts check` as users run it: a real subprocess, exact output and exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.sources import ADHOC, GOOD, META, MISSING_ID, UNKNOWN, job_project


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "netraven_contracts", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    job_project(tmp_path)
    (tmp_path / "pkg" / "jobs" / "good.py").write_text(GOOD)
    return tmp_path


def test_walk_checks_only_job_modules_and_exits_1_on_errors(project: Path) -> None:
    proc = cli("check", ".", cwd=project)
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        './pkg/jobs/adhoc.py:3:54: NRJ012 top-level key "serial" is not part of the contract; move it under "details"',
        './pkg/jobs/missing_id.py:3:5: NRJ006 result lacks "device_id"; add "device_id": device.id',
    ]
    assert proc.stderr == "Found 1 error, 1 warning in 2 of 3 files checked.\n"


def test_warnings_alone_exit_0_unless_fail_on_warning(project: Path) -> None:
    assert cli("check", "pkg/jobs/adhoc.py", cwd=project).returncode == 0
    assert cli("check", "--fail-on", "warning", "pkg/jobs/adhoc.py", cwd=project).returncode == 1


def test_named_file_is_checked_even_outside_job_paths(project: Path) -> None:
    proc = cli("check", "pkg/not_a_job.py", cwd=project)
    assert proc.returncode == 1
    assert [line.split(": ")[1].split()[0] for line in proc.stdout.splitlines()] == ["NRJ001", "NRJ020"]


def test_folder_named_jobs_given_directly(project: Path) -> None:
    proc = cli("check", "--format", "json", "jobs", cwd=project / "pkg")
    assert sorted({f["path"] for f in json.loads(proc.stdout)}) == ["jobs/adhoc.py", "jobs/missing_id.py"]


def test_json_has_every_finding_with_its_fields(project: Path) -> None:
    (project / "pkg" / "jobs" / "unknown.py").write_text(UNKNOWN)
    proc = cli("check", "--format", "json", "pkg/jobs/unknown.py", "pkg/jobs/missing_id.py", cwd=project)
    assert proc.returncode == 1
    data = json.loads(proc.stdout)
    assert data == [
        {"path": "pkg/jobs/missing_id.py", "line": 3, "column": 5, "code": "NRJ006", "severity": "error",
         "message": 'result lacks "device_id"; add "device_id": device.id'},
        {"path": "pkg/jobs/unknown.py", "line": 5, "column": 5, "code": "NRJ015", "severity": "info",
         "message": "the shape of the value returned here cannot be known statically (`build(device)`); "
                    "the runtime checks (dry run, dispatcher) cover it"},
    ]


def test_info_is_hidden_in_text_unless_asked(project: Path) -> None:
    (project / "pkg" / "jobs" / "unknown.py").write_text(UNKNOWN)
    hidden = cli("check", "pkg/jobs/unknown.py", cwd=project)
    shown = cli("check", "--show-info", "pkg/jobs/unknown.py", cwd=project)
    assert (hidden.returncode, hidden.stdout) == (0, "")
    assert "info hidden" in hidden.stderr
    assert shown.stdout.startswith("pkg/jobs/unknown.py:5:5: NRJ015 ")


def test_missing_and_unparseable_files_are_findings_not_tracebacks(project: Path) -> None:
    (project / "broken.py").write_bytes(b"def run(:\n")
    proc = cli("check", "nope.py", "broken.py", "pkg/jobs/good.py", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("broken.py:1:") and " NRJ900 cannot analyse this file: syntax error" in lines[0]
    assert lines[1] == ("nope.py:1:1: NRJ900 cannot analyse this file: cannot read it "
                        "(No such file or directory); check the path")


def test_select_ignore_and_noqa(project: Path) -> None:
    assert cli("check", "--select", "NRJ012", "pkg/jobs/missing_id.py", cwd=project).stdout == ""
    assert cli("check", "--ignore", "NRJ0", "pkg/jobs/missing_id.py", cwd=project).returncode == 0
    assert cli("check", "--select", "NRJ", "--ignore", "NRJ00", "--select", "NRJ006",
               "pkg/jobs/missing_id.py", cwd=project).returncode == 1  # the last --select wins, longest prefix
    (project / "pkg" / "jobs" / "noqa.py").write_text(
        MISSING_ID.replace('{"success": True}', '{"success": True}  # noqa: NRJ006'))
    assert cli("check", "pkg/jobs/noqa.py", cwd=project).returncode == 0


def test_noqa_applies_to_the_finding_line_as_in_flake8(project: Path) -> None:
    source = META + textwrap.dedent('''\
        def run(device, job_id, config, db):
            return {
                "success": True,
                "device_id": device.id,
                "serial": device.serial_number,  # noqa: NRJ012
            }
        ''')
    path = project / "pkg" / "jobs" / "multi.py"
    path.write_text(source)
    assert cli("check", "--fail-on", "warning", str(path), cwd=project).returncode == 0
    # like flake8: a comment after the closing bracket does not cover the lines inside it
    path.write_text(source.replace("  # noqa: NRJ012", "").replace("    }\n", "    }  # noqa: NRJ012\n"))
    assert cli("check", "--fail-on", "warning", str(path), cwd=project).returncode == 1
    path.write_text(source.replace("# noqa: NRJ012", "# noqa: NRJ008"))
    assert cli("check", "--fail-on", "warning", str(path), cwd=project).returncode == 1


def test_pyproject_config_is_found_from_the_current_directory(project: Path) -> None:
    (project / "pyproject.toml").write_text(textwrap.dedent('''\
        [tool.netraven-contracts]
        job-paths = ["pkg/*.py", "**/jobs/*.py"]
        extend-ignore = ["NRJ012"]
        per-file-ignores = { "missing_id.py" = ["NRJ006"] }
        '''))
    proc = cli("check", "--format", "json", ".", cwd=project / "pkg")
    assert [(f["path"], f["code"]) for f in json.loads(proc.stdout)] == [
        ("./not_a_job.py", "NRJ001"), ("./not_a_job.py", "NRJ020")]


def test_bad_config_exits_2_with_the_file_and_the_fix(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.netraven-contracts]\nselect = ["E501"]\n')
    proc = cli("check", ".", cwd=project)
    assert proc.returncode == 2 and proc.stdout == ""
    assert 'select: "E501" is not a rule code or the prefix of one' in proc.stderr
    (project / "pyproject.toml").write_text('[tool.netraven-contracts]\nfoo = 1\n')
    proc = cli("check", ".", cwd=project)
    assert proc.returncode == 2 and "unknown key in [tool.netraven-contracts]: foo" in proc.stderr


def test_usage_error_exits_2(project: Path) -> None:
    proc = cli("check", "--format", "xml", ".", cwd=project)
    assert proc.returncode == 2 and "invalid choice: 'xml'" in proc.stderr
    assert cli(cwd=project).returncode == 2


def test_many_files_in_parallel_give_the_same_findings(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for i in range(40):
        (jobs / f"job_{i:02}.py").write_text([GOOD, ADHOC, MISSING_ID][i % 3])
    serial = cli("check", "--format", "json", "--jobs", "1", "jobs", cwd=tmp_path)
    parallel = cli("check", "--format", "json", "--jobs", "2", "jobs", cwd=tmp_path)
    assert serial.returncode == parallel.returncode == 1
    assert json.loads(serial.stdout) == json.loads(parallel.stdout)
    assert len(json.loads(serial.stdout)) == 26


def test_statistics_counts_per_code(project: Path) -> None:
    proc = cli("check", "--statistics", "--quiet", "pkg/jobs", cwd=project)
    assert proc.stdout.splitlines()[-2:] == ["    1  NRJ006  missing-device-id", "    1  NRJ012  ad-hoc-key"]
    assert proc.stderr == ""


def test_a_named_folder_without_job_modules_is_nothing_to_check(tmp_path: Path) -> None:
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "probe.py").write_text(MISSING_ID)
    proc = cli("check", "tasks", cwd=tmp_path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == ("netraven-contracts: error: nothing to check: tasks holds no job module (job paths: "
                           "**/jobs/*.py, from the defaults); name the files, or set job-paths in "
                           "[tool.netraven-contracts]\n")


@pytest.mark.parametrize("selector", ["NRJ06", "NRJ6", "E501"])
def test_a_selector_that_names_no_rule_is_a_usage_error(project: Path, selector: str) -> None:
    proc = cli("check", "--select", selector, "pkg/jobs", cwd=project)
    assert proc.returncode == 2 and f'"{selector}" is not a rule code or the prefix of one' in proc.stderr
    assert cli("check", "--select", "", "pkg/jobs", cwd=project).returncode == 2


def test_the_exit_status_survives_a_closed_pipe(project: Path) -> None:
    reader = subprocess.Popen(["head", "-c", "1"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    proc = subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "pkg/jobs"], cwd=project,
                          stdout=reader.stdin, stderr=subprocess.PIPE, text=True, timeout=60)
    reader.stdin.close()
    reader.wait(timeout=30)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
