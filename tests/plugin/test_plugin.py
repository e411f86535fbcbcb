"""The pytest plugin, run for real with pytester: items, outcomes, reports, options, fixtures."""

from __future__ import annotations

import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# Imported here, so the in-process runs below share this process's dry-run server instead of
# starting one each (pytester restores sys.modules after every run).
import netraven_contracts.static  # noqa: F401
from netraven_contracts.runtime import dryrun, zygote  # noqa: F401

ROOT = Path(__file__).parent.parent.parent
CORPUS = Path(__file__).parent.parent / "data" / "corpus" / "runtime"
META = 'JOB_META = {"label": "T", "description": "T.", "icon": "mdi-cog", "default_schedule": "daily"}\n\n\n'
OK_JOB = META + 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n'
FAST = ("--netraven-timeout", "1", "-p", "no:cacheprovider")


def corpus_header(path: Path) -> tuple[list[str], str]:
    first, second = path.read_text(encoding="utf-8").splitlines()[:2]
    codes = first.removeprefix("# dry-run:").split()
    return ([] if codes == ["clean"] else codes), second.removeprefix("# registry:").strip()


def outcomes(reprec) -> dict[str, str]:
    """nodeid -> outcome of the call phase of every item."""
    return {r.nodeid: r.outcome for r in reprec.getreports("pytest_runtest_logreport") if r.when == "call"}


def failure_text(reprec, nodeid: str) -> str:
    [report] = [r for r in reprec.getreports("pytest_runtest_logreport") if r.nodeid == nodeid and r.when == "call"]
    return str(report.longrepr)


def write_jobs(pytester: pytest.Pytester, **modules: str) -> Path:
    folder = pytester.mkdir("jobs")
    for name, text in modules.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return folder


# -- the handed corpus -------------------------------------------------------------------------
def test_corpus_reject_items_fail_with_every_header_code_and_accept_items_pass(pytester: pytest.Pytester) -> None:
    folder = pytester.mkdir("jobs")
    expected = {}
    for path in sorted(CORPUS.glob("*.py")):
        shutil.copy(path, folder / path.name)
        expected[f"jobs/{path.name}::contract"] = corpus_header(path)
    reprec = pytester.inline_run("--netraven-jobs", "jobs", *FAST)
    assert outcomes(reprec) == {nodeid: "passed" if registry == "accept" else "failed"
                                for nodeid, (_, registry) in expected.items()}
    for nodeid, (codes, registry) in expected.items():
        if registry == "reject":
            text = failure_text(reprec, nodeid)
            for code in codes:
                assert f": {code} [error]" in text, (nodeid, code)


# -- the product's jobs and the broken examples --------------------------------------------------
def test_product_jobs_pass(pytester: pytest.Pytester) -> None:
    jobs = ROOT / "netraven" / "worker" / "jobs"
    reprec = pytester.inline_run("--netraven-jobs", str(jobs), "-p", "no:cacheprovider")
    modules = sorted(p.name for p in jobs.glob("*.py") if not p.name.startswith("_"))
    assert sorted(Path(n.split("::")[0]).name for n, o in outcomes(reprec).items() if o == "passed") == modules


def test_broken_examples_fail_one_readable_item_each(pytester: pytest.Pytester) -> None:
    examples = ROOT / "examples" / "jobs"
    result = pytester.runpytest("--netraven-jobs", str(examples), "-p", "no:cacheprovider")
    modules = sorted(p.name for p in examples.glob("*.py") if not p.name.startswith("_"))
    result.assert_outcomes(failed=len(modules))
    for name in modules:
        result.stdout.fnmatch_lines([f"*{name} breaks the job-result contract (NRJ*): * error*"])


# -- the failure report --------------------------------------------------------------------------
def test_failure_report_shows_codes_messages_value_paths_source_lines_and_reached_returns(
        pytester: pytest.Pytester) -> None:
    write_jobs(pytester, stamp=META + textwrap.dedent("""\
        import datetime


        def run(device, job_id, config, db):
            if device.hostname:
                when = datetime.datetime.now(datetime.timezone.utc)
                return {"success": True, "device_id": device.id, "details": {"meta": {"when": when}}}
            return {"success": False, "device_id": device.id}
        """))
    result = pytester.runpytest("--netraven-jobs", "jobs", *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "jobs/stamp.py breaks the job-result contract (NRJ014): 2 errors, 0 warnings",
        "static check:",
        "  jobs/stamp.py:10:*: NRJ014 [[]error] *",
        "dry run (*):",
        "  jobs/stamp.py:10: NRJ014 [[]error] details.meta.when is a datetime.datetime, which JSON cannot encode; "
        "store its .isoformat() string instead",
        "      value: details.meta.when",
        '        10 |         return {"success": True, "device_id": device.id, "details": {"meta": {"when": when}}}',
        "      in scenarios: happy-path, optional-attributes-absent, database-fails",
        "  return statements of run() reached: 10 (of 10, 11)",
        "  never reached in the dry run: 11",
    ])


def test_static_errors_and_the_dry_run_are_both_reported(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, both=META + textwrap.dedent("""\
        def run(device, job_id, config, db):
            return {"success": 1, "device_id": device.id, "status": "done"}
        """))
    result = pytester.runpytest("--netraven-jobs", "jobs", *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "static check:", "  jobs/both.py:5:*: NRJ007 [[]error] *", "  jobs/both.py:5:*: NRJ013 [[]error] *",
        "dry run (*):", "  jobs/both.py:5: NRJ007 [[]error] *", "  jobs/both.py:5: NRJ013 [[]error] *",
    ])


def test_unparsable_module_reports_nrj900_and_skips_the_dry_run(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, broken=META + "def run(device, job_id, config, db)\n    return {}\n")
    result = pytester.runpytest("--netraven-jobs", "jobs", *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*NRJ900 [[]error]*", "dry run: not run, the file cannot be parsed (NRJ900)"])


def test_hanging_exiting_and_crashing_jobs_fail_and_the_run_goes_on(pytester: pytest.Pytester) -> None:
    write_jobs(
        pytester,
        a_hangs=META + "import time\n\n\ndef run(device, job_id, config, db):\n    while True:\n        time.sleep(0.05)\n",
        b_exits=META + "import os\n\n\ndef run(device, job_id, config, db):\n    os._exit(3)\n",
        c_segfaults=META + "import ctypes\n\n\ndef run(device, job_id, config, db):\n    ctypes.string_at(0)\n"
                           '    return {"success": True, "device_id": device.id}\n',
        d_fine=OK_JOB,
    )
    reprec = pytester.inline_run("--netraven-jobs", "jobs", "--netraven-timeout", "0.5", "-p", "no:cacheprovider")
    assert outcomes(reprec) == {"jobs/a_hangs.py::contract": "failed", "jobs/b_exits.py::contract": "failed",
                                "jobs/c_segfaults.py::contract": "failed", "jobs/d_fine.py::contract": "passed"}
    assert "NRJ031 [error] run() did not return within 0.5 s" in failure_text(reprec, "jobs/a_hangs.py::contract")
    assert "NRJ030 [error] run() ended the process with os._exit(3) at line 8" in failure_text(
        reprec, "jobs/b_exits.py::contract")
    assert "killed by SIGSEGV (segmentation fault) at line 8" in failure_text(reprec, "jobs/c_segfaults.py::contract")


# -- warnings ----------------------------------------------------------------------------------
NETWORK_JOB = META + textwrap.dedent("""\
    import socket


    def run(device, job_id, config, db):
        try:
            socket.create_connection((device.ip_address, 22), timeout=1).close()
        except OSError as exc:
            return {"success": False, "device_id": device.id, "details": {"error": str(exc)}}
        return {"success": True, "device_id": device.id}
    """)


def test_warnings_are_shown_but_do_not_fail(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, net=NETWORK_JOB)
    result = pytester.runpytest("--netraven-jobs", "jobs", *FAST)
    result.assert_outcomes(passed=1)
    # counted by name: pytest may add warnings of its own in-process (assertion rewriting of an
    # already imported plugin module), which are not the plugin's
    shown = [line for line in result.stdout.lines if "NetRavenContractWarning" in line]
    assert len(shown) == 1
    result.stdout.fnmatch_lines(["*jobs/net.py:9: NetRavenContractWarning: NRJ033 during the dry run, run() "
                                 "tried to connect to 192.0.2.10:22; the sandbox blocked it*"])


@pytest.mark.parametrize("how", [["--netraven-strict"], ["-o", "netraven_strict=true"]])
def test_strict_makes_warnings_fail(pytester: pytest.Pytester, how: list[str]) -> None:
    write_jobs(pytester, net=NETWORK_JOB)
    result = pytester.runpytest("--netraven-jobs", "jobs", *how, *FAST)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["jobs/net.py breaks the job-result contract (NRJ033): 0 errors, 1 warning "
                                 "(--netraven-strict: warnings fail)"])


# -- collection --------------------------------------------------------------------------------
def test_one_item_per_module_named_path_contract(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, alpha=OK_JOB, beta=OK_JOB, _private=OK_JOB, __init__="")
    (pytester.path / "jobs" / "notes.txt").write_text("not a module")
    result = pytester.runpytest("--netraven-jobs", "jobs", "--collect-only", "-q", *FAST)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["jobs/alpha.py::contract", "jobs/beta.py::contract", "", "2 tests collected*"])


def test_a_single_module_file_can_be_named(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, alpha=OK_JOB, beta=OK_JOB)
    reprec = pytester.inline_run("--netraven-jobs", "jobs/beta.py", *FAST)
    assert outcomes(reprec) == {"jobs/beta.py::contract": "passed"}


@pytest.mark.parametrize("args", [
    ["jobs", "--netraven-jobs", "jobs"],
    [".", "--netraven-jobs", "jobs"],
    ["--netraven-jobs", "jobs", "--netraven-jobs", "jobs/alpha.py"],
], ids=["same-folder", "parent-folder", "folder-and-file"])
def test_no_double_collection_when_jobs_are_also_test_paths(pytester: pytest.Pytester, args: list[str]) -> None:
    write_jobs(pytester, alpha=OK_JOB, beta=OK_JOB)
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    reprec = pytester.inline_run(*args, *FAST)
    contract_items = [n for n in outcomes(reprec) if n.endswith("::contract")]
    assert sorted(contract_items) == ["jobs/alpha.py::contract", "jobs/beta.py::contract"]


def test_ini_option_collects_the_jobs_folder(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, alpha=OK_JOB)
    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nnetraven_jobs = ["jobs"]\n')
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    assert set(outcomes(pytester.inline_run(*FAST))) == {"jobs/alpha.py::contract", "test_other.py::test_other"}
    # Like testpaths, the ini paths are not added when the command line names what to run...
    assert set(outcomes(pytester.inline_run("test_other.py", *FAST))) == {"test_other.py::test_other"}
    # ...but a named job file is still recognised as one.
    assert set(outcomes(pytester.inline_run("jobs/alpha.py", *FAST))) == {"jobs/alpha.py::contract"}


def test_missing_jobs_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--netraven-jobs", "nowhere", *FAST)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--netraven-jobs / netraven_jobs: */nowhere does not exist; name a folder*"])


def test_items_carry_a_registered_marker(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, alpha=OK_JOB)
    pytester.makepyfile(test_other="def test_other():\n    pass\n")
    reprec = pytester.inline_run("--netraven-jobs", "jobs", "-m", "not netraven_contract", "--strict-markers", *FAST)
    assert set(outcomes(reprec)) == {"test_other.py::test_other"}


def test_junit_xml_names_the_module(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, config_backup=OK_JOB)
    pytester.runpytest("--netraven-jobs", "jobs", "--junitxml=out.xml", *FAST)
    [case] = ET.parse(pytester.path / "out.xml").getroot().iter("testcase")
    assert (case.get("classname"), case.get("name")) == ("jobs.config_backup", "contract")


def test_runs_with_xdist(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    write_jobs(pytester, alpha=OK_JOB, beta=OK_JOB, gamma=NETWORK_JOB,
               delta=META + "def run(device, job_id, config, db):\n    return None\n")
    result = pytester.runpytest_subprocess("--netraven-jobs", "jobs", "-n", "2", *FAST)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["FAILED jobs/delta.py::contract*"])


# -- fixtures and the assertion helper for job authors ---------------------------------------------
def test_fixtures_and_assert_valid_result_for_job_authors(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, backup=META + textwrap.dedent("""\
        def run(device, job_id, config, db):
            db.add({"device_id": device.id, "text": "hostname r1"})
            db.commit()
            return {"success": True, "device_id": device.id, "details": {"patterns": config["redaction"]["patterns"]}}
        """))
    pytester.makepyfile(test_backup=textwrap.dedent("""\
        import datetime

        import pytest

        from pytest_plugin import assert_valid_result


        def test_backup_stores_a_snapshot(run_job, fake_db, fake_device, job_config):
            result = run_job("jobs/backup.py")
            assert result["device_id"] == fake_device.id
            assert fake_db.added == [{"device_id": fake_device.id, "text": "hostname r1"}]
            assert fake_db.committed
            assert result["details"]["patterns"] == job_config["redaction"]["patterns"]


        def test_run_job_fails_on_a_broken_result(run_job):
            run_job(lambda device, job_id, config, db: {"success": "yes", "device_id": job_id})


        def test_assert_valid_result_lists_every_error():
            assert_valid_result({"success": 1, "details": {"when": datetime.date(2024, 1, 1)}})


        def test_strict_counts_warnings():
            assert_valid_result({"success": True, "device_id": 1, "extra": 1}, strict=True)
        """))
    reprec = pytester.inline_run("test_backup.py", *FAST)
    assert outcomes(reprec) == {
        "test_backup.py::test_backup_stores_a_snapshot": "passed",
        "test_backup.py::test_run_job_fails_on_a_broken_result": "failed",
        "test_backup.py::test_assert_valid_result_lists_every_error": "failed",
        "test_backup.py::test_strict_counts_warnings": "failed",
    }
    broken = failure_text(reprec, "test_backup.py::test_run_job_fails_on_a_broken_result")
    assert "the result breaks the job-result contract (2 violations):" in broken
    assert "NRJ007 [error] at success" in broken and "NRJ032 [error] at device_id" in broken
    every = failure_text(reprec, "test_backup.py::test_assert_valid_result_lists_every_error")
    assert ["NRJ006", "NRJ007", "NRJ014"] == [code for code in ("NRJ006", "NRJ007", "NRJ014") if code in every]
    assert "NRJ012 [warning] at extra" in failure_text(reprec, "test_backup.py::test_strict_counts_warnings")


@pytest.mark.parametrize("setting,message", [
    ('[pytest]\nnetraven_timeout = abc\n', "netraven_timeout (ini): 'abc' is not a number of seconds, e.g. 5"),
    ('[pytest]\nnetraven_timeout = -1\n', "netraven_timeout (ini) must be a positive number of seconds, not '-1'"),
    ('[pytest]\nnetraven_strict = maybe\n', "invalid truth value 'maybe'"),
])
def test_a_bad_setting_is_one_usage_error_not_a_failure_per_item(
        pytester: pytest.Pytester, setting: str, message: str) -> None:
    write_jobs(pytester, ok=OK_JOB, other=OK_JOB)
    pytester.makefile(".ini", pytest=setting)
    result = pytester.runpytest("--netraven-jobs", "jobs", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1 and errors[0].startswith(f"ERROR: {message}")
    assert "Traceback" not in result.stdout.str() + result.stderr.str()


def test_a_bad_project_configuration_is_one_usage_error(pytester: pytest.Pytester) -> None:
    write_jobs(pytester, ok=OK_JOB)
    pytester.makepyprojecttoml('[tool.netraven-contracts]\nselect = ["E501"]\n')
    result = pytester.runpytest("--netraven-jobs", "jobs", "--netraven-timeout", "0", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.startswith("ERROR: ")] == [
        "ERROR: --netraven-timeout must be a positive number of seconds, not 0.0"]
    result = pytester.runpytest("--netraven-jobs", "jobs", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (error,) = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert error.startswith('ERROR: [tool.netraven-contracts]: ') and 'select: "E501" is not a rule code' in error
