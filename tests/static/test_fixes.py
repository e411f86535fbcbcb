"""check --fix: what it repairs, that nothing else changes, and that a second run changes nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netraven_contracts.static import check_source
from netraven_contracts.static.fixes import FIXABLE, fix_source

from .helpers import META

CORPUS = sorted((Path(__file__).parent.parent / "data" / "corpus" / "static").glob("*.py"))


def _codes(source: str) -> set[str]:
    return {f.code for f in check_source(source, "jobs/j.py")}


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_fixing_a_handed_case_removes_its_fixable_findings_and_is_idempotent(path: Path) -> None:
    source = path.read_text()
    before = _codes(source)
    fixed, applied = fix_source(source, str(path))
    assert sorted(set(applied)) == sorted(before & FIXABLE - ({"NRJ003"} if "s05" not in path.name else set()))
    assert _codes(fixed) == before - set(applied)
    assert fix_source(fixed, str(path)) == (fixed, [])


def _fix(snippet: str) -> str:
    return fix_source(META + textwrap.dedent(snippet).lstrip("\n"))[0][len(META):]


def test_moves_ad_hoc_keys_of_a_multiline_literal_keeping_layout_and_comments() -> None:
    assert _fix('''
        def run(device, job_id, config, db):
            # the result
            return {
                "success": True,   # always
                "serial": device.serial_number,
                "device_id": device.id,  # the row's device
                "model": device.model,
            }
        ''') == textwrap.dedent('''\
        def run(device, job_id, config, db):
            # the result
            return {
                "success": True,   # always
                "device_id": device.id,  # the row's device
                "details": {"serial": device.serial_number, "model": device.model},
            }
        ''')


def test_merges_into_an_existing_details_literal_of_a_returned_variable() -> None:
    assert _fix('''
        def run(device, job_id, config, db):
            result = {"success": False, "device_id": device.id, "details": {"a": 1}, "error": "x"}
            result["details"]["b"] = 2
            return result
        ''') == textwrap.dedent('''\
        def run(device, job_id, config, db):
            result = {"success": False, "device_id": device.id, "details": {"a": 1, "error": "x"}}
            result["details"]["b"] = 2
            return result
        ''')


@pytest.mark.parametrize("snippet", [
    # details is a variable: merging would need a copy of it
    '''
    def run(device, job_id, config, db):
        details = {"a": 1}
        return {"success": True, "device_id": device.id, "details": details, "error": None}
    ''',
    # details already has the key: moving would overwrite it
    '''
    def run(device, job_id, config, db):
        return {"success": True, "device_id": device.id, "details": {"error": 1}, "error": None}
    ''',
    # details is replaced after the literal: the moved key would be lost
    '''
    def run(device, job_id, config, db):
        result = {"success": True, "device_id": device.id, "error": None}
        result["details"] = {"x": 1}
        return result
    ''',
    # the key is set by a subscript assignment, not in the literal
    '''
    def run(device, job_id, config, db):
        result = {"success": True, "device_id": device.id}
        result["error"] = None
        return result
    ''',
    # suppressed
    '''
    def run(device, job_id, config, db):
        return {"success": True, "device_id": device.id, "error": None}  # noqa: NRJ012
    ''',
])
def test_does_not_move_keys_when_it_is_not_safe(snippet: str) -> None:
    source = META + textwrap.dedent(snippet).lstrip("\n")
    assert fix_source(source) == (source, [])


def test_adds_device_id_in_run_but_not_inside_a_helper() -> None:
    assert _fix('''
        def _failure(message):
            return {"success": False, "details": {"error": message}}

        def run(device, job_id, config, db):
            if not device.ok:
                return _failure("down")
            return {"success": True}
        ''') == textwrap.dedent('''\
        def _failure(message):
            return {"success": False, "details": {"error": message}}

        def run(device, job_id, config, db):
            if not device.ok:
                return _failure("down")
            return {"success": True, "device_id": device.id}
        ''')


def test_uses_the_name_of_runs_first_parameter() -> None:
    fixed = _fix('''
        def run(dev, job_id, config, db):
            return {"success": True}
        ''')
    assert 'return {"success": True, "device_id": dev.id}' in fixed


def test_wraps_a_parenthesised_success_value_once() -> None:
    fixed = _fix('''
        def run(device, job_id, config, db):
            return {"success": (config.get("a")
                                or config.get("b")), "device_id": device.id}
        ''')
    assert '"success": bool(config.get("a")\n                        or config.get("b"))' in fixed


def test_appends_a_failure_result_where_run_can_fall_off_its_end() -> None:
    assert _fix('''
        def run(device, job_id, config, db):
            for line in device.lines:
                if line:
                    return {"success": True, "device_id": device.id}
        ''') == textwrap.dedent('''\
        def run(device, job_id, config, db):
            for line in device.lines:
                if line:
                    return {"success": True, "device_id": device.id}
            return {"success": False, "device_id": device.id, "details": {"error": "no result"}}
        ''')


def test_only_selected_codes_are_fixed() -> None:
    from netraven_contracts.config import Settings

    source = META + 'def run(device, job_id, config, db):\n    return {"success": config.get("ok"), "x": 1}\n'
    fixed, applied = fix_source(source, settings=Settings(select=("NRJ008",)))
    assert applied == ["NRJ008"]
    assert fixed.endswith('return {"success": bool(config.get("ok")), "x": 1}\n')


def test_crlf_and_encoding_cookie_survive(tmp_path: Path) -> None:
    from netraven_contracts.static.fixes import fix_file

    path = tmp_path / "job.py"
    source = ("# -*- coding: latin-1 -*-\r\n" + META.replace("\n", "\r\n")
              + 'def run(device, job_id, config, db):\r\n    return {"success": True, "note": "caf\xe9"}\r\n')
    path.write_bytes(source.encode("latin-1"))
    outcome = fix_file(path)
    outcome.write()
    data = path.read_bytes()
    assert data.decode("latin-1").endswith(
        'return {"success": True, "device_id": device.id, "details": {"note": "caf\xe9"}}\r\n')
    assert data.count(b"\r\n") == source.count("\r\n") and b"\n" not in data.replace(b"\r\n", b"")


def test_cli_fix_rewrites_and_exits_by_what_remains(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for case in ("s02_except_without_device_id.py", "s07_details_string.py"):
        shutil.copy(CORPUS[0].parent / case, jobs / case)
    cli = [sys.executable, "-m", "netraven_contracts", "check", "--no-cache"]
    diff = subprocess.run(cli + ["--diff", "jobs"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert diff.returncode == 1 and diff.stdout.count("+++ b/jobs/") == 2
    assert (jobs / "s02_except_without_device_id.py").read_text() == (CORPUS[0].parent / "s02_except_without_device_id.py").read_text()
    fixed = subprocess.run(cli + ["--fix", "jobs"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    # s07's details string (NRJ011) cannot be fixed: it remains, so the exit status is 1
    assert fixed.returncode == 1
    assert [line.split(": ")[1].split()[0] for line in fixed.stdout.splitlines()] == ["NRJ011"]
    assert fixed.stderr.splitlines()[0] == "Fixed 3 findings in 2 files."
    again = subprocess.run(cli + ["--fix", "jobs/s02_except_without_device_id.py"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stderr.splitlines()[0] == "Fixed 0 findings in 0 files."


@pytest.mark.parametrize("snippet", [
    # the key is popped again later (through a variable): moving it would store it after all
    '''
    def run(device, job_id, config, db):
        raw = device.driver.send_command("show running-config")
        result = {"success": bool(raw), "device_id": device.id, "details": {}, "_raw": raw}
        for key in ("_raw",):
            result.pop(key, None)
        return result
    ''',
    # the key is read later: after the move the read would raise KeyError
    '''
    def run(device, job_id, config, db):
        result = {"success": True, "device_id": device.id, "details": {}, "hostname": device.hostname}
        result["details"]["label"] = f"{result['hostname']}"
        return result
    ''',
    # on another path "details" is replaced: the moved key would be lost there
    '''
    def run(device, job_id, config, db):
        out = device.driver.send_command("show clock")
        result = {"success": False, "device_id": device.id, "hostname": device.hostname, "details": {}}
        if out:
            result["success"] = True
        else:
            result["details"] = {"error": "empty output"}
        return result
    ''',
    # the element carries a comment, which belongs to its line
    '''
    def run(device, job_id, config, db):
        return {
            "success": True,
            "device_id": device.id,
            "version": device.version,  # parsed
        }
    ''',
])
def test_keys_that_are_used_later_or_carry_comments_are_not_moved(snippet: str) -> None:
    source = META + textwrap.dedent(snippet).lstrip("\n")
    fixed, applied = fix_source(source)
    assert "NRJ012" not in applied and fixed == source


def test_a_moved_key_goes_before_a_splat_so_details_still_wins() -> None:
    assert _fix('''
        def run(device, job_id, config, db):
            facts = device.driver.get_facts()
            return {"success": True, "device_id": device.id, "hostname": device.hostname, "details": {**facts}}
        ''').endswith('return {"success": True, "device_id": device.id, "details": {"hostname": device.hostname, '
                      '**facts}}\n')


def test_comments_stay_on_their_lines_when_device_id_is_added() -> None:
    assert _fix('''
        def run(device, job_id, config, db):
            return {
                "success": False,  # failed to talk to it
                "details": {"error": "x"},  # why
            }
        ''') == textwrap.dedent('''\
        def run(device, job_id, config, db):
            return {
                "success": False,  # failed to talk to it
                "device_id": device.id,
                "details": {"error": "x"},  # why
            }
        ''')


def test_a_comment_inside_wrapped_parentheses_survives() -> None:
    fixed = _fix('''
        def run(device, job_id, config, db):
            return {"success": (  # either probe is enough
                        config.get("a") or config.get("b")), "device_id": device.id}
        ''')
    assert '"success": bool((  # either probe is enough\n' in fixed


def test_run_without_a_device_parameter_gets_no_device_id_fix() -> None:
    source = META + 'def run(*args, **kwargs):\n    return {"success": True}\n'
    assert fix_source(source) == (source, [])


def test_cr_only_line_endings_keep_the_final_newline() -> None:
    source = (META + 'def run(device, job_id, config, db):\n    if device.ok:\n'
              '        return {"success": True, "device_id": device.id}\n').replace("\n", "\r")
    fixed, applied = fix_source(source)
    assert applied == ["NRJ003"]
    assert fixed.endswith('"details": {"error": "no result"}}\r') and "\n" not in fixed
