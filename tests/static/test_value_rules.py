"""NRJ003-NRJ015 on the values themselves: what is certain, what is only possible, what is fine."""

from __future__ import annotations

import pytest

from .helpers import expected, found, module


def _returning(entries: str, prelude: str = "") -> str:
    return module(f"""
{prelude}
def run(device, job_id, config, db):
    out = device.driver.send_command("show version")
    return {{{entries}}}
""")


RETURNS = {
    "returns_true": ("return True", ["NRJ004"]),
    "returns_int": ("return 123", ["NRJ004"]),
    "returns_str": ('return "ok"', ["NRJ004"]),
    "returns_fstring": ('return f"ok {device.id}"', ["NRJ004"]),
    "returns_list": ("return [device.id]", ["NRJ004"]),
    "returns_tuple": ("return True, device.id", ["NRJ004"]),
    "returns_set": ("return {device.id}", ["NRJ004"]),
    "returns_comparison": ("return device.id == 1", ["NRJ004"]),
    "returns_function": ("return run", ["NRJ004"]),
    "returns_none": ("return None", ["NRJ003"]),
    "returns_unknown_call": ("return device.driver.result()", ["NRJ015"]),
    "returns_dict_comprehension": ("return {k: v for k, v in config.items()}", ["NRJ015"]),
}


@pytest.mark.parametrize("statement,codes", RETURNS.values(), ids=RETURNS.keys())
def test_returned_value_kinds(statement: str, codes: list[str]) -> None:
    source = module(f"def run(device, job_id, config, db):\n    {statement}\n")
    assert found(source) == [(code, 3) for code in codes]


SUCCESS = {
    "true_literal": ("True", []),
    "bool_call": ("bool(out)", []),
    "not": ("not out", []),
    "comparison": ('out == "ok"', []),
    "chained_comparison": ("0 < len(out) <= 10", []),
    "membership": ('"up" in out', []),
    "identity": ("out is not None", []),
    "isinstance": ("isinstance(out, str)", []),
    "hasattr_callable_issubclass": ('hasattr(out, "x") and callable(out) and issubclass(type(out), str)', []),
    "all_any": ("all(out) or any(out)", []),
    "if_expression_of_bools": ("True if out else False", []),
    "str_method_returning_bool": ('out.startswith("Cisco")', []),
    "string": ('"yes"', ["NRJ007"]),
    "int": ("1", ["NRJ007"]),
    "none": ("None", ["NRJ007"]),
    "list": ("[]", ["NRJ007"]),
    "fstring": ('f"{out}"', ["NRJ007"]),
    "str_call": ("str(out)", ["NRJ007"]),
    "len_call": ("len(out)", ["NRJ007"]),
    "if_expression_of_strings": ('"yes" if out else "no"', ["NRJ007"]),
    "or_of_gets": ('config.get("a") or config.get("b")', ["NRJ008"]),
    "get": ('config.get("ok")', ["NRJ008"]),
    "subscript": ('config["ok"]', ["NRJ008"]),
    "unknown_call": ("device.driver.is_ok()", ["NRJ008"]),
    "attribute": ("device.reachable", ["NRJ008"]),
    "and_with_unknown": ('out == "ok" and config["strict"]', ["NRJ008"]),
}


@pytest.mark.parametrize("value,codes", SUCCESS.values(), ids=SUCCESS.keys())
def test_success_value(value: str, codes: list[str]) -> None:
    source = _returning(f'"success": {value}, "device_id": device.id')
    assert found(source) == [(code, 4) for code in codes]


def test_success_variable_bound_to_bools_on_every_path_is_bool() -> None:
    source = module("""
        def run(device, job_id, config, db):
            ok = False
            if device.ping() == 0:
                ok = True
            elif device.tcp(22):
                ok = device.tcp(443) is not None
            return {"success": ok, "device_id": device.id}
        """)
    assert found(source) == []


def test_success_variable_not_bool_on_one_path_is_reported_where_used() -> None:
    source = module("""
        def run(device, job_id, config, db):
            ok = False
            if device.ping() == 0:
                ok = device.result
            return {"success": ok,  #! NRJ008
                    "device_id": device.id}
        """)
    assert found(source) == expected(source)


DEVICE_ID = {
    "device_id_attribute": ("device.id", []),
    "int_call": ("int(config['id'])", []),
    "job_id_is_an_int_runtime_catches_the_mixup": ("job_id", []),
    "unknown": ("config['device']", []),
    "string": ('"abc"', ["NRJ009"]),
    "float": ("1.5", ["NRJ009"]),
    "none": ("None", ["NRJ009"]),
    "bool": ("True", ["NRJ009"]),
    "fstring": ('f"{device.id}"', ["NRJ009"]),
    "str_of_id": ("str(device.id)", ["NRJ009"]),
    "hostname": ("device.hostname", ["NRJ009"]),
    "getattr_default_none": ('getattr(device, "id", None)', ["NRJ010"]),
    "maybe_none_if_expression": ("device.id if device else None", ["NRJ010"]),
    "get_without_default": ('config.get("device_id")', ["NRJ010"]),
}


@pytest.mark.parametrize("value,codes", DEVICE_ID.values(), ids=DEVICE_ID.keys())
def test_device_id_value(value: str, codes: list[str]) -> None:
    source = _returning(f'"success": True, "device_id": {value}')
    assert found(source) == [(code, 4) for code in codes]


DETAILS = {
    "dict": ('{"out": out}', []),
    "dict_call": ("dict(out=out)", []),
    "unknown": ("device.facts()", []),
    "string": ('"Job completed."', ["NRJ011"]),
    "list": ("[out]", ["NRJ011"]),
    "none": ("None", ["NRJ011"]),
    "int": ("0", ["NRJ011"]),
    "datetime_now": ('{"at": datetime.now()}', ["NRJ014"]),
    "date_today": ('{"on": date.today()}', ["NRJ014"]),
    "bytes_literal": ('{"raw": b"\\x00"}', ["NRJ014"]),
    "encoded_str": ('{"raw": str(out).encode()}', ["NRJ014"]),
    "set_literal": ('{"ports": {22, 443}}', ["NRJ014"]),
    "set_call": ('{"ports": set(out)}', ["NRJ014"]),
    "float_nan": ('{"limit": float("nan")}', ["NRJ014"]),
    "math_nan_and_inf": ('{"a": math.nan, "b": math.inf}', ["NRJ014", "NRJ014"]),
    "decimal": ('{"price": Decimal("1.5")}', ["NRJ014"]),
    "object": ('{"o": object()}', ["NRJ014"]),
    "nested_in_list": ('{"items": [out, datetime.now()]}', ["NRJ014"]),
    "nested_in_dict": ('{"meta": {"when": datetime.now()}}', ["NRJ014"]),
    "generator": ('{"lines": (l for l in out)}', ["NRJ014"]),
    "dict_view": ('{"keys": config.keys()}', []),
    "int_literal_key": ('{"ports": {22: "open"}}', ["NRJ014"]),
    "the_device_object": ('{"device": device}', ["NRJ014"]),
    "isoformat_is_fine": ('{"at": datetime.now().isoformat()}', []),
    "str_of_nan_is_fine": ('{"x": str(float("nan"))}', []),
}
_PRELUDE = "import math\nfrom datetime import date, datetime\nfrom decimal import Decimal\n"


@pytest.mark.parametrize("value,codes", DETAILS.values(), ids=DETAILS.keys())
def test_details_value(value: str, codes: list[str]) -> None:
    source = _returning(f'"success": True, "device_id": device.id, "details": {value}', _PRELUDE)
    assert found(source) == [(code, 8) for code in codes]


def test_exception_object_bound_by_except_in_details() -> None:
    source = module("""
        def run(device, job_id, config, db):
            try:
                out = device.driver.send_command("x")
            except OSError as exc:
                return {"success": False, "device_id": device.id,
                        "details": {"error": exc}}  #! NRJ014
            return {"success": True, "device_id": device.id, "details": {"out": out}}
        """)
    assert found(source) == expected(source)


def test_nrj014_message_gives_the_path_and_the_fix() -> None:
    from netraven_contracts.static import check_source

    source = _returning('"success": True, "device_id": device.id, "details": {"meta": {"when": datetime.now()}}',
                        _PRELUDE)
    (finding,) = check_source(source, "j.py")
    assert finding.message == 'details["meta"]["when"] is a datetime, which JSON cannot encode; store its ' \
                              '.isoformat() string'


def test_top_level_keys() -> None:
    source = module("""
        def run(device, job_id, config, db):
            return {
                "success": True,
                "device_id": device.id,
                "details": {},
                "job_type": "facts",  #! NRJ013
                "status": "done",  #! NRJ013
                "created_at": None,  #! NRJ013
                "model": device.model,  #! NRJ012
                "error": None,  #! NRJ012
            }
        """)
    assert found(source) == expected(source)


def test_key_added_by_subscript_is_reported_at_that_key() -> None:
    source = module("""
        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id}
            result["message"] = "done"  #! NRJ012
            return result
        """)
    assert found(source) == expected(source)


def test_or_with_a_non_none_right_side_is_never_none() -> None:
    source = _returning('"success": True, "device_id": getattr(device, "id", None) or 0')
    assert found(source) == []


def test_if_expression_is_named_whole_in_the_message() -> None:
    from netraven_contracts.static import check_source

    (finding,) = check_source(_returning('"success": True, "device_id": device.id if out else None'), "j.py")
    assert finding.message.startswith('"device_id" may be None (`device.id if out else None`)')


MORE_DETAILS = {
    "replaced_datetime": ('{"at": datetime.now().replace(microsecond=0)}', ["NRJ014"]),
    "datetime_plus_timedelta": ('{"due": datetime.now() + timedelta(hours=1)}', ["NRJ014"]),
    "minus_infinity": ('{"low": -math.inf}', ["NRJ014"]),
}


@pytest.mark.parametrize("value,codes", MORE_DETAILS.values(), ids=MORE_DETAILS.keys())
def test_more_certainly_non_json_values(value: str, codes: list[str]) -> None:
    source = _returning(f'"success": True, "device_id": device.id, "details": {value}',
                        "import math\nfrom datetime import datetime, timedelta\n")
    assert found(source) == [(code, 7) for code in codes]


def test_infinity_used_as_a_sentinel_and_replaced_is_fine() -> None:
    source = module("""
        import math

        def run(device, job_id, config, db):
            best = math.inf
            for sample in device.samples():
                best = min(best, sample)
            if best == math.inf:
                best = None
            return {"success": True, "device_id": device.id, "details": {"best": best}}
        """)
    assert found(source) == []


def test_deepcopy_does_not_share_nested_dicts() -> None:
    source = module("""
        import copy
        from datetime import datetime

        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id, "details": {"meta": {}}}
            audit = copy.deepcopy(result)
            audit["details"]["meta"]["at"] = datetime.now()
            return result
        """)
    assert found(source) == []


def test_list_items_replaced_by_index_are_no_longer_known() -> None:
    source = module("""
        def run(device, job_id, config, db):
            errors = []
            try:
                device.driver.connect()
            except OSError as exc:
                errors.append(exc)
            for i, error in enumerate(errors):
                errors[i] = str(error)
            return {"success": not errors, "device_id": device.id, "details": {"errors": errors}}
        """)
    assert found(source) == []


def test_appending_to_a_list_inside_details() -> None:
    source = module("""
        from datetime import datetime

        def run(device, job_id, config, db):
            result = {"success": True, "device_id": device.id, "details": {"checks": []}}
            result["details"]["checks"].append({"at": datetime.now()})  #! NRJ014
            return result
        """)
    assert found(source) == expected(source)


def test_popping_until_empty_leaves_the_loop() -> None:
    source = module("""
        def run(device, job_id, config, db):
            pending = ["a", "b"]
            while pending:
                device.probe(pending.pop())
            return {"success": True, "device_id": "abc"}  #! NRJ009
        """)
    assert found(source) == expected(source)


def test_logging_a_result_does_not_hide_a_missing_key() -> None:
    source = module("""
        import logging

        def run(device, job_id, config, db):
            result = {"device_id": device.id}
            logging.info("result %s", result)
            return result  #! NRJ005
        """)
    assert found(source) == expected(source)


def test_none_from_a_call_is_named_by_its_code() -> None:
    from netraven_contracts.static import check_source

    source = module("""
        def _log(message):
            print(message)

        def run(device, job_id, config, db):
            return _log("done")
        """)
    (finding,) = check_source(source, "j.py")
    assert finding.message.startswith("`run` returns None (from _log() reaching the end of its body); ")
    source = module("""
        def run(device, job_id, config, db):
            errors = []
            return errors.append("x")
        """)
    assert [(f.code, f.message.split(";")[0]) for f in check_source(source, "j.py")] == [
        ("NRJ003", '`run` returns None (from `errors.append("x")`)')]
