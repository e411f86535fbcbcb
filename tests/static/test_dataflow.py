"""How the result dict is built: variables, mutations, merges, aliases, helpers, escapes."""

from __future__ import annotations

import pytest

from .helpers import expected, found, module

CASES = {
    "subscript_assignments_complete_the_dict": """
        def run(device, job_id, config, db):
            result = {"details": {}}
            result["success"] = True
            result["device_id"] = device.id
            return result
        """,
    "key_set_only_inside_if_is_missing_on_else_path": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id, "details": {}}
            if device.users:
                result["success"] = True
            return result  #! NRJ005
        """,
    "key_set_on_both_branches_is_present": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            if device.users:
                result["success"] = True
            else:
                result["success"] = False
            return result
        """,
    "update_with_keywords_and_with_a_dict": """
        def run(device, job_id, config, db):
            result = {}
            result.update(success=True)
            result.update({"device_id": device.id})
            return result
        """,
    "setdefault_adds_a_missing_key": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            result.setdefault("success", False)
            return result
        """,
    "del_removes_a_key": """
        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id}
            del result["device_id"]
            return result  #! NRJ006
        """,
    "pop_removes_a_key": """
        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id}
            ok = result.pop("success")
            return result  #! NRJ005
        """,
    "rebinding_replaces_the_dict": """
        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id}
            result = {"device_id": device.id}
            return result  #! NRJ005
        """,
    "dict_call_with_keywords": """
        def run(device, job_id, config, db):
            if device.a:
                return dict(success=True, device_id=device.id)
            return dict(success=False)  #! NRJ006
        """,
    "splat_of_a_tracked_dict": """
        def run(device, job_id, config, db):
            base = {"success": False, "details": {}}
            return {**base, "device_id": device.id}
        """,
    "splat_of_an_unknown_mapping_may_hold_any_key": """
        def run(device, job_id, config, db):
            return {**config["defaults"], "device_id": device.id}  #! NRJ015
        """,
    "dict_union_operator": """
        def run(device, job_id, config, db):
            base = {"success": False}
            result = base | {"device_id": device.id}
            result |= {"details": {}}
            return result
        """,
    "module_level_base_dict": """
        BASE = {"success": False, "details": {}}

        def run(device, job_id, config, db):
            return {**BASE, "device_id": device.id}
        """,
    "module_constant_used_as_a_key": """
        SUCCESS = "success"

        def run(device, job_id, config, db):
            return {SUCCESS: True, "device_id": device.id}
        """,
    "nested_subscript_mutation_through_the_result": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id, "success": False, "details": {"checks": {}}}
            for port in (22, 443):
                result["details"]["checks"][str(port)] = device.probe(port)
            result["success"] = all(result["details"]["checks"].values())
            return result
        """,
    "alias_sees_a_later_mutation": """
        from datetime import datetime

        def run(device, job_id, config, db):
            details = {}
            result = {"success": True, "device_id": device.id, "details": details}
            details["when"] = datetime.now()  #! NRJ014
            return result
        """,
    "dict_passed_to_unknown_code_may_gain_keys": """
        from netraven.worker.results import fill

        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            fill(result)
            return result  #! NRJ015
        """,
    "dict_passed_to_logging_keeps_its_keys": """
        import logging

        log = logging.getLogger(__name__)

        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            log.info("result %s", result)
            return result  #! NRJ005
        """,
    "helper_returning_a_dict_literal_is_followed": """
        def _result(device, ok, **details):
            return {"success": bool(ok), "device_id": device.id, "details": details}

        def run(device, job_id, config, db):
            try:
                value = device.snmp_get("1.3.6.1.2.1.1.3.0")
            except OSError as exc:
                return _result(device, False, error=str(exc))
            return _result(device, True, sys_uptime=value)
        """,
    "helper_fault_is_reported_at_runs_return": """
        def _failure(message):
            return {"success": False, "details": {"error": message}}

        def run(device, job_id, config, db):
            if not device.ok:
                return _failure("not ok")  #! NRJ006
            return {"success": True, "device_id": device.id}
        """,
    "helper_returning_none_on_one_path": """
        def _ios(device):
            return {"success": True, "device_id": device.id}

        def _dispatch(device):
            if device.device_type == "cisco_ios":
                return _ios(device)
            print("unsupported")

        def run(device, job_id, config, db):
            return _dispatch(device)  #! NRJ003
        """,
    "helper_mutating_the_callers_dict": """
        def _mark(result, ok):
            result["success"] = ok

        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            _mark(result, device.ping() == 0)
            return result
        """,
    "helper_argument_reaches_the_value": """
        def _result(device, ok):
            return {"success": ok, "device_id": device.id}

        def run(device, job_id, config, db):
            if device.ok:
                return _result(device, True)
            return _result(device, "no")  #! NRJ007
        """,
    "helper_kwargs_values_are_checked_at_the_keyword": """
        from datetime import datetime

        def _result(device, ok, **details):
            return {"success": ok, "device_id": device.id, "details": details}

        def run(device, job_id, config, db):
            return _result(device, True,
                           when=datetime.now())  #! NRJ014
        """,
    "nested_function_used_as_helper": """
        def run(device, job_id, config, db):
            def failure(message):
                return {"success": False, "device_id": device.id, "details": {"error": message}}
            if not device.ok:
                return failure("down")
            return {"success": True, "device_id": device.id}
        """,
    "call_through_a_table_is_unknown": """
        def _ios(device):
            return {"success": True, "device_id": device.id}

        HANDLERS = {"cisco_ios": _ios}

        def run(device, job_id, config, db):
            handler = HANDLERS.get(device.device_type)
            return handler(device)  #! NRJ015
        """,
    "imported_builder_is_unknown": """
        from netraven.worker.results import build_result

        def run(device, job_id, config, db):
            return build_result(device, ok=True)  #! NRJ015
        """,
    "returning_a_parameter_is_unknown": """
        def run(device, job_id, config, db):
            return config  #! NRJ015
        """,
    "recursive_helper_stops": """
        def _retry(device, attempts):
            if attempts <= 0:
                return {"success": False, "device_id": device.id}
            return _retry(device, attempts - 1)

        def run(device, job_id, config, db):
            return _retry(device, 3)
        """,
    "walrus_binds_in_a_condition": """
        def run(device, job_id, config, db):
            if (out := device.driver.send_command("x")) is not None:
                return {"success": True, "device_id": device.id, "details": {"out": out}}
            return {"success": False, "device_id": device.id}
        """,
    "copy_of_a_tracked_dict": """
        import copy

        def run(device, job_id, config, db):
            base = {"success": False, "device_id": device.id}
            result = copy.deepcopy(base)
            again = result.copy()
            return again
        """,
    "tuple_unpacking_from_a_tuple_literal": """
        def run(device, job_id, config, db):
            ok, message = False, "down"
            return {"success": ok, "device_id": device.id, "details": {"message": message}}
        """,
    "local_import_of_datetime": """
        def run(device, job_id, config, db):
            import datetime as dt
            return {"success": True, "device_id": device.id,
                    "details": {"at": dt.datetime.now(dt.timezone.utc)}}  #! NRJ014
        """,
    "non_literal_key_makes_the_dict_open": """
        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            result[config["key"]] = True
            return result  #! NRJ015
        """,
}


@pytest.mark.parametrize("snippet", CASES.values(), ids=CASES.keys())
def test_dataflow(snippet: str) -> None:
    source = module(snippet)
    assert found(source) == expected(source)


def test_conditional_key_message_names_the_false_branch() -> None:
    from netraven_contracts.static import check_source

    (finding,) = check_source(module(CASES["key_set_only_inside_if_is_missing_on_else_path"]), "j.py")
    assert finding.message == 'result lacks "success" on the path where "if device.users" is false (line 4); ' \
                              'add "success": True or False'


def test_many_sequential_branches_stay_fast_and_exact() -> None:
    # 40 independent ifs: 2**40 paths, merged at each join; the missing key is still found
    lines = ["def run(device, job_id, config, db):", "    result = {'device_id': device.id}"]
    for i in range(40):
        lines += [f"    if device.flag{i}:", f"        result['k{i}'] = {i}"]
    lines += ["    if device.last:", "        result['success'] = True", "    return result  #! NRJ005"]
    source = module("\n".join(lines) + "\n")
    codes = found(source)
    assert ("NRJ005", len(source.splitlines())) in codes
    assert {c for c, _ in codes} == {"NRJ005", "NRJ012"}


def test_nested_function_changes_runs_dict_through_the_closure() -> None:
    source = module("""
        def run(device, job_id, config, db):
            result = {"device_id": device.id, "details": {}}

            def finish(ok, note):
                result["success"] = ok
                result["details"]["note"] = note
                return result

            if not device.ok:
                return finish(False, "down")
            finish(True, "up")
            return result
        """)
    assert found(source) == []


def test_key_removed_through_a_variable_may_be_gone_so_no_ad_hoc_warning() -> None:
    source = module("""
        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id, "_raw": device.raw}
            for key in ("_raw",):
                result.pop(key, None)
            return result
        """)
    assert found(source) == []


def test_an_overload_stub_is_not_the_run_that_exists() -> None:
    source = module("""
        from typing import overload

        @overload
        def run(device, job_id, config, db) -> dict: ...

        def run(device, job_id, config, db):
            return {"success": True, "device_id": device.id}
        """)
    assert found(source) == []


def _work(source: str) -> int:
    import libcst as cst

    from netraven_contracts.static import interpreter
    from netraven_contracts.static.checks import Reporter, check_module

    made: list[interpreter.Interpreter] = []
    original = interpreter.Interpreter.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        made.append(self)

    interpreter.Interpreter.__init__ = init
    try:
        check_module(cst.parse_module(source), Reporter())
    finally:
        interpreter.Interpreter.__init__ = original
    return sum(i.work for i in made)


def test_sequential_helper_calls_with_two_returns_stay_bounded() -> None:
    # 2**16 combinations of paths if nothing merged them
    calls = "\n".join(f"    f{i} = _field(r'F{i}: (\\\\S+)', out)" for i in range(16))
    source = module(f"""
import re

def _field(pattern, text):
    m = re.search(pattern, text)
    if m is None:
        return None
    return m.group(1).strip()

def run(device, job_id, config, db):
    out = device.driver.send_command("show version")
{calls}
    return {{"success": f0 is not None, "device_id": device.id, "details": {{"f15": f15}}}}
""")
    from netraven_contracts.static.interpreter import WORK_BUDGET

    assert found(source) == []
    assert _work(source) < WORK_BUDGET


def test_deeply_nested_loops_coarsen_instead_of_exploding() -> None:
    from netraven_contracts.static.interpreter import WORK_BUDGET

    lines = ["def run(device, job_id, config, db):", "    d = {}"]
    for level in range(10):
        pad = "    " * (level + 1)
        lines += [f"{pad}for x{level} in config['l{level}']:", f"{pad}    if x{level}:",
                  f"{pad}        d['a{level}'] = x{level}", f"{pad}    else:", f"{pad}        d['b{level}'] = 1"]
    lines += ["    return {'success': True, 'device_id': device.id, 'details': d}"]
    source = module("\n".join(lines) + "\n")
    assert found(source) == []
    assert _work(source) < 4 * WORK_BUDGET
