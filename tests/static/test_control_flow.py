"""Every control-flow form of run(): which paths return what, and where falling off is reported."""

from __future__ import annotations

import pytest

from .helpers import expected, found, module

CASES = {
    "if_elif_else_all_return_is_clean": """
        def run(device, job_id, config, db):
            if device.a:
                return {"success": True, "device_id": device.id}
            elif device.b:
                return {"success": False, "device_id": device.id}
            else:
                return {"success": False, "device_id": device.id}
        """,
    "if_without_else_falls_off_the_end": """
        def run(device, job_id, config, db):  #! NRJ003
            if device.a:
                return {"success": True, "device_id": device.id}
        """,
    "elif_chain_without_else_falls_off": """
        def run(device, job_id, config, db):  #! NRJ003
            out = device.driver.send_command("show version")
            if "a" in out:
                return {"success": True, "device_id": device.id}
            elif "b" in out:
                return {"success": False, "device_id": device.id}
        """,
    "one_line_if_suite_counts": """
        def run(device, job_id, config, db):
            if device.a: return {"success": True, "device_id": device.id}
            return {"success": False, "device_id": device.id}
        """,
    "statements_after_return_are_unreachable": """
        def run(device, job_id, config, db):
            return {"success": True, "device_id": device.id}
            return None
        """,
    "constant_true_test_has_no_else_path": """
        def run(device, job_id, config, db):
            if True:
                return {"success": True, "device_id": device.id}
        """,
    "except_branch_without_device_id": """
        def run(device, job_id, config, db):
            try:
                out = device.driver.send_command("show inventory")
            except ConnectionError as err:
                return {"success": False, "details": {"error": str(err)}}  #! NRJ006
            return {"success": True, "device_id": device.id, "details": {"out": out}}
        """,
    "try_else_returns_and_except_returns": """
        def run(device, job_id, config, db):
            try:
                out = device.driver.send_command("show inventory")
            except OSError:
                return {"success": False, "device_id": device.id}
            else:
                return {"success": True, "device_id": device.id, "details": {"out": out}}
        """,
    "except_that_only_logs_falls_off": """
        import logging

        def run(device, job_id, config, db):  #! NRJ003
            try:
                return {"success": True, "device_id": device.id, "details": {"v": device.driver.version()}}
            except Exception:
                logging.exception("failed")
        """,
    "except_reraising_does_not_fall_off": """
        def run(device, job_id, config, db):
            try:
                return {"success": True, "device_id": device.id, "details": {"v": device.driver.version()}}
            except Exception:
                raise
        """,
    "try_body_that_cannot_raise_never_enters_handlers": """
        def run(device, job_id, config, db):
            try:
                ok = True
            except Exception:
                return None
            return {"success": ok, "device_id": device.id}
        """,
    "handler_sees_the_state_before_the_failing_statement": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            try:
                result["details"] = {"out": device.driver.send_command("show clock")}
                result["success"] = True
            except OSError:
                pass
            return result  #! NRJ005
        """,
    "finally_runs_after_the_body": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            try:
                device.driver.connect()
            finally:
                result["success"] = False
            return result
        """,
    "with_block_return_is_clean": """
        def run(device, job_id, config, db):
            with device.driver.session() as conn:
                return {"success": True, "device_id": device.id, "details": {"out": conn.run("x")}}
        """,
    "with_block_can_fall_off": """
        def run(device, job_id, config, db):  #! NRJ003
            with device.driver.session() as conn:
                if conn.ok:
                    return {"success": True, "device_id": device.id}
        """,
    "key_set_only_in_for_body_is_missing_when_loop_runs_no_iteration": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            for port in device.ports:
                result["success"] = device.probe(port) == 0
            return result  #! NRJ005
        """,
    "for_over_non_empty_literal_runs_at_least_once": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            for port in (22, 443):
                result["success"] = device.probe(port) == 0
            return result
        """,
    "key_set_conditionally_in_a_loop_over_a_literal_may_stay_missing": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            for port in (22, 443):
                if device.probe(port) == 0:
                    result["success"] = True
            return result  #! NRJ005
        """,
    "for_else_return_covers_the_exhausted_loop": """
        def run(device, job_id, config, db):
            for line in device.lines:
                if line.startswith("uptime"):
                    return {"success": True, "device_id": device.id, "details": {"line": line}}
            else:
                return {"success": False, "device_id": device.id}
        """,
    "for_else_break_path_falls_off": """
        def run(device, job_id, config, db):  #! NRJ003
            for line in device.lines:
                if line == "stop":
                    break
            else:
                return {"success": False, "device_id": device.id}
        """,
    "while_true_left_only_by_return_or_raise": """
        import time

        def run(device, job_id, config, db):
            attempt = 0
            while True:
                attempt += 1
                try:
                    return {"success": True, "device_id": device.id, "details": {"out": device.check()}}
                except TimeoutError:
                    if attempt >= 3:
                        raise
                    time.sleep(1)
        """,
    "while_true_with_break_falls_off": """
        def run(device, job_id, config, db):  #! NRJ003
            while True:
                if device.poll():
                    break
        """,
    "while_condition_can_be_false_at_once": """
        def run(device, job_id, config, db):  #! NRJ003
            while device.busy():
                return {"success": True, "device_id": device.id}
        """,
    "continue_goes_back_to_the_loop": """
        def run(device, job_id, config, db):
            ok = True
            for item in device.items:
                if not item:
                    continue
                ok = ok and item.valid == 1
            return {"success": ok, "device_id": device.id}
        """,
    "match_with_wildcard_is_exhaustive": """
        def run(device, job_id, config, db):
            match device.device_type:
                case "cisco_ios" | "cisco_xe":
                    command = "show version"
                case _:
                    return {"success": False, "device_id": device.id}
            return {"success": True, "device_id": device.id, "details": {"command": command}}
        """,
    "match_without_wildcard_falls_through": """
        def run(device, job_id, config, db):  #! NRJ003
            match device.device_type:
                case "cisco_ios":
                    return {"success": True, "device_id": device.id}
                case "junos":
                    return {"success": True, "device_id": device.id}
        """,
    "match_capture_pattern_is_exhaustive": """
        def run(device, job_id, config, db):
            match device.device_type:
                case "cisco_ios":
                    return {"success": True, "device_id": device.id}
                case other:
                    return {"success": False, "device_id": device.id, "details": {"type": str(other)}}
        """,
    "match_wildcard_with_guard_is_not_exhaustive": """
        def run(device, job_id, config, db):  #! NRJ003
            match device.device_type:
                case _ if device.ok:
                    return {"success": True, "device_id": device.id}
        """,
    "match_case_missing_key": """
        def run(device, job_id, config, db):
            match device.device_type:
                case "cisco_ios":
                    return {"success": True}  #! NRJ006
                case _:
                    return {"success": False, "device_id": device.id}
        """,
    "raise_ends_a_path": """
        def run(device, job_id, config, db):
            if not device.ip_address:
                raise ValueError("no address")
            return {"success": True, "device_id": device.id}
        """,
    "assert_false_ends_a_path": """
        def run(device, job_id, config, db):
            if device.ok:
                return {"success": True, "device_id": device.id}
            assert False, "unreachable"
        """,
    "sys_exit_and_os_exit_end_a_path": """
        import os
        import sys
        from sys import exit as leave

        def run(device, job_id, config, db):
            if device.a:
                sys.exit(1)
            elif device.b:
                os._exit(2)
            elif device.c:
                leave(3)
            elif device.d:
                os.abort()
            else:
                return {"success": True, "device_id": device.id}
        """,
    "noreturn_helper_ends_a_path": """
        from typing import NoReturn

        def _fail(message: str) -> NoReturn:
            raise RuntimeError(message)

        def run(device, job_id, config, db):
            if device.a:
                _fail("bad device")
            return {"success": True, "device_id": device.id}
        """,
    "helper_that_always_raises_ends_a_path": """
        def _fail(message):
            raise RuntimeError(message)

        def run(device, job_id, config, db):
            if device.a:
                return {"success": True, "device_id": device.id}
            _fail("bad device")
        """,
    "nested_function_returns_are_not_runs": """
        def run(device, job_id, config, db):
            def describe():
                return "text"
            check = lambda: None
            class Local:
                def method(self):
                    return 42
            return {"success": True, "device_id": device.id, "details": {"d": describe()}}
        """,
    "bare_return": """
        def run(device, job_id, config, db):
            if not device.ok:
                return  #! NRJ003
            return {"success": True, "device_id": device.id}
        """,
    "return_none": """
        def run(device, job_id, config, db):
            if not device.ok:
                return None  #! NRJ003
            return {"success": True, "device_id": device.id}
        """,
    "variable_none_on_one_path_narrowed_by_is_none": """
        def run(device, job_id, config, db):
            result = None
            if device.ok:
                result = {"success": True, "device_id": device.id}
            if result is None:
                return {"success": False, "device_id": device.id}
            return result
        """,
    "variable_none_on_one_path_returned": """
        def run(device, job_id, config, db):
            result = None
            if device.ok:
                result = {"success": True, "device_id": device.id}
            return result  #! NRJ003
        """,
    "returned_if_expression_checks_both_sides": """
        def run(device, job_id, config, db):
            ok = device.ok
            return {"success": True, "device_id": device.id} if ok else None  #! NRJ003
        """,
    "generator_run_is_not_a_result": """
        def run(device, job_id, config, db):  #! NRJ004
            yield {"success": True, "device_id": device.id}
        """,
    "try_star_handlers_are_followed": """
        def run(device, job_id, config, db):
            try:
                out = device.driver.send_command("x")
            except* OSError:
                return {"success": False}  #! NRJ006
            return {"success": True, "device_id": device.id, "details": {"out": out}}
        """,
}


@pytest.mark.parametrize("snippet", CASES.values(), ids=CASES.keys())
def test_control_flow(snippet: str) -> None:
    source = module(snippet)
    assert found(source) == expected(source)


def test_fall_off_message_names_the_path() -> None:
    from netraven_contracts.static import check_source

    source = module(CASES["elif_chain_without_else_falls_off"])
    (finding,) = check_source(source, "jobs/uptime.py")
    assert finding.message.startswith(
        '`run` can reach the end of its body without a return on the path where "elif "b" in out" is false (line 6)')


def test_except_message_names_the_handler() -> None:
    from netraven_contracts.static import check_source

    (finding,) = check_source(module(CASES["except_branch_without_device_id"]), "jobs/inv.py")
    assert finding.message == ('result lacks "device_id" on the path through "except ConnectionError" (line 5); '
                               'add "device_id": device.id')


NONEMPTY = {
    "range_of_a_module_constant": ("RETRIES = 3\n", "range(RETRIES)"),
    "range_with_start_and_stop": ("", "range(1, 4)"),
    "items_of_a_module_dict": ('PORTS = {"ssh": 22, "https": 443}\n', "PORTS.items()"),
    "enumerate_of_a_literal": ("", "enumerate((22, 443))"),
}


@pytest.mark.parametrize("prelude,iterable", NONEMPTY.values(), ids=NONEMPTY.keys())
def test_loops_over_certainly_non_empty_iterables_run_at_least_once(prelude: str, iterable: str) -> None:
    source = module(prelude + f"""
def run(device, job_id, config, db):
    result = {{"device_id": device.id, "details": {{}}}}
    for item in {iterable}:
        result["success"] = item is not None
    return result
""")
    assert found(source) == []


def test_range_of_zero_may_run_no_iteration() -> None:
    source = module("""
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            for i in range(0):
                result["success"] = True
            return result  #! NRJ005
        """)
    assert found(source) == expected(source)


def test_a_bool_tested_twice_keeps_its_truth_on_each_path() -> None:
    source = module("""
        def run(device, job_id, config, db):
            out = device.driver.send_command("show version")
            ok = "uptime" in out
            result = {"device_id": device.id}
            if ok:
                result["success"] = True
            if not ok:
                result["success"] = False
            return result
        """)
    assert found(source) == []


def test_defensive_test_of_a_contract_attribute_is_still_checked() -> None:
    source = module("""
        def run(device, job_id, config, db):
            hostname = device.hostname
            if hostname is None:
                return {"success": False}  #! NRJ006
            return {"success": True, "device_id": device.id}
        """)
    assert found(source) == expected(source)


def test_noreturn_call_inside_try_reaches_the_handler() -> None:
    source = module("""
        from typing import NoReturn

        class JobAborted(Exception):
            pass

        def _abort(message) -> NoReturn:
            raise JobAborted(message)

        def run(device, job_id, config, db):
            try:
                if config is None:
                    _abort("no config")
            except JobAborted as exc:
                return {"success": False, "details": {"error": str(exc)}}  #! NRJ006
            return {"success": True, "device_id": device.id}
        """)
    assert found(source) == expected(source)
