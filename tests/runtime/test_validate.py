"""validate_result: every violation of one result, each with its code and the path to the value."""

from __future__ import annotations

import datetime
import decimal
import json
import math
from collections import OrderedDict, namedtuple
from types import MappingProxyType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netraven_contracts.findings import Violation
from netraven_contracts.rules import RULES, Severity
from netraven_contracts.runtime import validate_result


def ok(**details: object) -> dict[str, object]:
    return {"success": True, "device_id": 7, "details": details}


def found(result: object, **kwargs: object) -> list[tuple[str, str]]:
    return [(v.code, v.path) for v in validate_result(result, **kwargs)]


class Opaque:
    """An object whose every comparison, hash and repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")


class HostileKey(Opaque):
    """Hashable (so it can be a key), but comparing or printing it raises."""

    def __hash__(self) -> int:
        return 12345


class LyingDict(dict):
    """A dict subclass whose methods hide its content."""

    def items(self):  # type: ignore[override]
        return []

    def keys(self):  # type: ignore[override]
        return []

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0


class PretendsToBeDict:
    @property  # type: ignore[misc]
    def __class__(self):  # noqa: D401 - isinstance() believes this
        return dict


Point = namedtuple("Point", "x y")

CASES = [
    # whole-result faults
    ("none", None, [("NRJ003", "")]),
    ("list", [1, 2], [("NRJ004", "")]),
    ("bool", True, [("NRJ004", "")]),
    ("mappingproxy", MappingProxyType({"success": True, "device_id": 7}), [("NRJ004", "")]),
    ("lying __class__", PretendsToBeDict(), [("NRJ004", "")]),
    ("empty dict", {}, [("NRJ005", "success"), ("NRJ006", "device_id")]),
    ("ordereddict is a dict", OrderedDict(success=True, device_id=7), []),
    ("minimal", {"success": False, "device_id": 7}, []),
    # success
    ("success int", {"success": 1, "device_id": 7}, [("NRJ007", "success")]),
    ("success str", {"success": "yes", "device_id": 7}, [("NRJ007", "success")]),
    ("success None", {"success": None, "device_id": 7}, [("NRJ007", "success")]),
    # device_id
    ("device_id True", {"success": True, "device_id": True}, [("NRJ009", "device_id")]),
    ("device_id None", {"success": True, "device_id": None}, [("NRJ009", "device_id")]),
    ("device_id str", {"success": True, "device_id": "7"}, [("NRJ009", "device_id")]),
    ("device_id float", {"success": True, "device_id": 7.0}, [("NRJ009", "device_id")]),
    # every bad key at once
    ("all keys bad", {"success": "ok", "device_id": False, "details": "done", "status": "x", "note": 1},
     [("NRJ007", "success"), ("NRJ009", "device_id"), ("NRJ011", "details"), ("NRJ013", "status"),
      ("NRJ012", "note")]),
    ("details None", {"success": True, "device_id": 7, "details": None}, [("NRJ011", "details")]),
    ("details list", {"success": True, "device_id": 7, "details": [1]}, [("NRJ011", "details")]),
    ("reserved keys", {"success": True, "device_id": 7, "job_id": 3, "created_at": "now"},
     [("NRJ013", "job_id"), ("NRJ013", "created_at")]),
    ("non-str top-level key", {"success": True, "device_id": 7, 5: "x"},
     [("NRJ012", "[5]"), ("NRJ014", "[5]")]),
    # JSONB safety under details
    ("datetime", ok(meta={"when": datetime.datetime(2024, 1, 2)}), [("NRJ014", "details.meta.when")]),
    ("date time timedelta", ok(d=datetime.date(2024, 1, 2), t=datetime.time(1), s=datetime.timedelta(1)),
     [("NRJ014", "details.d"), ("NRJ014", "details.t"), ("NRJ014", "details.s")]),
    ("bytes", ok(raw=b"\x00\x01", buf=bytearray(b"x")), [("NRJ014", "details.raw"), ("NRJ014", "details.buf")]),
    ("decimal", ok(rate=decimal.Decimal("1.5")), [("NRJ014", "details.rate")]),
    ("set", ok(tags={"a"}, frozen=frozenset()), [("NRJ014", "details.tags"), ("NRJ014", "details.frozen")]),
    ("exception", ok(error=ValueError("boom")), [("NRJ014", "details.error")]),
    ("custom object", ok(thing=Opaque()), [("NRJ014", "details.thing")]),
    ("nan and infinities anywhere", ok(a=math.nan, b=[1.0, -math.inf], c={"d": math.inf}),
     [("NRJ014", "details.a"), ("NRJ014", "details.b[1]"), ("NRJ014", "details.c.d")]),
    ("nul in a value", ok(text="a\x00b"), [("NRJ014", "details.text")]),
    ("nul in a key", ok(**{"a\x00": 1}), [("NRJ014", 'details["a\\u0000"]')]),
    ("lone surrogate in a value", ok(text="bad \udc80 byte"), [("NRJ014", "details.text")]),
    ("lone surrogate in a key", ok(**{"k\ud800": 1}), [("NRJ014", 'details["k\\ud800"]')]),
    ("surrogate pair is no lone surrogate", ok(text="\ud83d\ude00"), []),
    ("int keys", ok(ports={22: "open", 443: "closed"}),
     [("NRJ014", "details.ports[22]"), ("NRJ014", "details.ports[443]")]),
    ("tuple key", ok(pairs={(1, 2): "x"}), [("NRJ014", "details.pairs[<tuple key>]")]),
    ("non-identifier key path", ok(**{"a.b": {"x y": datetime.date(2024, 1, 1)}}),
     [("NRJ014", 'details["a.b"]["x y"]')]),
    ("list index path", ok(items=[{"at": 1}, {"at": datetime.date(2024, 1, 1)}]),
     [("NRJ014", "details.items[1].at")]),
    ("json types are fine", ok(s="x", i=1, f=1.5, b=False, n=None, l=[1, "a"], t=(1, 2), p=Point(1, 2),
                               nested={"deep": [{"ok": True}]}, big=10**40, uni="läuft ✓"), []),
    ("ad-hoc value goes into details", {"success": True, "device_id": 7, "checked": datetime.date(2024, 1, 1)},
     [("NRJ012", "checked"), ("NRJ014", "checked")]),
    ("colliding ad-hoc value is dropped, not checked",
     {"success": True, "device_id": 7, "details": {"checked": "x"}, "checked": datetime.date(2024, 1, 1)},
     [("NRJ012", "checked")]),
    ("dict subclass cannot hide its content", ok(meta=LyingDict(when=datetime.date(2024, 1, 1))),
     [("NRJ014", "details.meta.when")]),
    ("int beyond the str conversion limit", ok(n=10**5000), [("NRJ014", "details.n")]),
]


@pytest.mark.parametrize(("result", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_result_yields_exactly_these_violations(result: object, expected: list[tuple[str, str]]) -> None:
    assert found(result) == expected


def test_messages_come_from_the_catalogue_with_the_value_described() -> None:
    [violation] = validate_result({"success": 1, "device_id": 7})
    assert violation == Violation("NRJ007", RULES["NRJ007"].format(kind="an int (1)", where=""), path="success")
    assert violation.severity is Severity.ERROR
    assert violation.message == '"success" is an int (1), not a bool; use True/False or a comparison'


def test_jsonb_message_names_the_path_the_type_and_the_fix() -> None:
    [violation] = validate_result(ok(meta={"when": datetime.datetime(2024, 1, 2)}))
    assert violation.message == ("details.meta.when is a datetime.datetime, which JSON cannot encode; "
                                 "store its .isoformat() string instead")


def test_int_key_message_says_what_json_does_to_it() -> None:
    [violation] = validate_result(ok(ports={22: "open"}))
    assert violation.message == ('details.ports[22] is an entry with the int key 22, which JSON silently '
                                 'turns into the string "22" (it comes back as a str); use str keys, e.g. "22"')


def test_device_id_of_another_device_is_nrj032() -> None:
    assert found({"success": True, "device_id": 9001}, device_id=101) == [("NRJ032", "device_id")]
    assert found({"success": True, "device_id": 101}, device_id=101) == []
    [violation] = validate_result({"success": True, "device_id": 9001}, device_id=101)
    assert violation.message == '"device_id" is 9001 but run() was called for device 101; use device.id'


def test_bool_device_id_is_nrj009_not_nrj032() -> None:
    assert found({"success": True, "device_id": True}, device_id=1) == [("NRJ009", "device_id")]


def test_ad_hoc_key_is_a_warning() -> None:
    [violation] = validate_result({"success": True, "device_id": 7, "serial": "X1"})
    assert (violation.code, violation.severity, violation.path) == ("NRJ012", Severity.WARNING, "serial")


def test_self_referencing_dict_is_reported_at_the_back_reference() -> None:
    meta: dict[str, object] = {"name": "x"}
    meta["again"] = meta
    [violation] = validate_result(ok(meta=meta))
    assert (violation.code, violation.path) == ("NRJ014", "details.meta.again")
    assert "a reference back to details.meta (a cycle)" in violation.message


def test_shared_subtree_is_no_cycle() -> None:
    shared = {"a": 1}
    assert validate_result(ok(x=shared, y=[shared, shared])) == []


def test_nesting_deeper_than_the_limit_is_reported_once_per_branch() -> None:
    deep: dict[str, object] = {}
    cursor = deep
    for _ in range(100_000):  # far beyond any recursion limit
        cursor["n"] = {}
        cursor = cursor["n"]  # type: ignore[assignment]
    [violation] = validate_result(ok(n=deep), max_depth=5)
    # details is level 1, details.n level 2, ... the first dict at level 6 is reported.
    assert (violation.code, violation.path) == ("NRJ014", "details.n.n.n.n.n")
    assert "nested 6 levels deep, which exceeds the limit of 5 levels" in violation.message


def test_nesting_at_the_limit_is_fine() -> None:
    assert validate_result(ok(a={"b": {"c": 1}}), max_depth=3) == []
    assert found(ok(a={"b": {"c": {}}}), max_depth=3) == [("NRJ014", "details.a.b.c")]


def test_size_limit_counts_the_compact_utf8_json_of_details_and_ad_hoc_keys() -> None:
    result = {"success": True, "device_id": 7, "details": {"text": "é" * 10, "n": [1, 2.5, None]}, "extra": True}
    size = len(json.dumps({"text": "é" * 10, "n": [1, 2.5, None], "extra": True},
                          separators=(",", ":"), ensure_ascii=False).encode())
    assert found(result, max_details_bytes=size) == [("NRJ012", "extra")]
    assert found(result, max_details_bytes=size - 1) == [("NRJ012", "extra"), ("NRJ014", "details")]


def test_default_size_limit_is_one_mebibyte() -> None:
    assert found(ok(blob="x" * (1024 * 1024 - 20))) == []
    [violation] = validate_result(ok(blob="x" * (1024 * 1024)))
    assert violation.path == "details"
    assert "exceeds the limit of 1 MiB (1,048,576 bytes, max_details_bytes)" in violation.message


def test_many_bad_values_are_listed_up_to_a_cap_then_summed_up() -> None:
    violations = validate_result(ok(values=[math.nan] * 250))
    assert [v.code for v in violations] == ["NRJ014"] * 101
    assert violations[99].path == "details.values[99]"
    assert "150 more such values" in violations[100].message


def test_hostile_values_never_raise() -> None:
    hostile = {HostileKey(): Opaque(), "x": [Opaque()], "y": PretendsToBeDict()}
    result = {"success": Opaque(), "device_id": Opaque(), "details": hostile, HostileKey(): Opaque()}
    key = "[<tests.runtime.test_validate.HostileKey key>]"
    assert found(result) == [
        ("NRJ007", "success"), ("NRJ009", "device_id"),
        ("NRJ014", f"details{key}"), ("NRJ014", f"details{key}"),  # the key, then its value
        ("NRJ014", "details.y"), ("NRJ014", "details.x[0]"),  # a container's scalars before its containers
        ("NRJ012", key), ("NRJ014", key), ("NRJ014", key),
    ]


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"device_id": True}, TypeError), ({"device_id": "7"}, TypeError),
    ({"max_details_bytes": 0}, ValueError), ({"max_depth": -1}, ValueError), ({"max_depth": 2.5}, ValueError),
])
def test_bad_arguments_are_refused_with_a_clear_error(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error, match="must be"):
        validate_result({}, **kwargs)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20,
)


def _storable(value: object) -> bool:
    """What PostgreSQL's JSONB would accept: strict JSON, no NUL, valid Unicode."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
        text.encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return "\\u0000" not in json.dumps(value)


@settings(max_examples=300, deadline=None)
@given(JSON_VALUES)
def test_verdict_on_json_like_values_matches_what_jsonb_stores(value: object) -> None:
    violations = validate_result(ok(value=value))
    assert (violations == []) == _storable(value)
