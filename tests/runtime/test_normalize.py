"""normalize_result: a valid result onto job_results fields; an invalid one refused with every violation."""

from __future__ import annotations

import datetime
import enum
import json
from collections import OrderedDict

import pytest

from netraven_contracts import contract
from netraven_contracts.runtime import InvalidResultError, NormalizedResult, normalize_result


class Level(enum.IntEnum):
    HIGH = 3


class LyingDict(dict):
    def items(self):  # type: ignore[override]
        return [("fake", "content")]


def test_success_maps_to_status_and_details_are_kept() -> None:
    normalized = normalize_result({"success": True, "device_id": 7, "details": {"a": [1, "x"]}})
    assert normalized == NormalizedResult(status=contract.STATUS_SUCCESS, device_id=7,
                                          details={"a": [1, "x"]}, warnings=())


def test_failure_maps_to_failure_status() -> None:
    assert normalize_result({"success": False, "device_id": 7}).status == contract.STATUS_FAILURE


def test_missing_details_is_an_empty_dict() -> None:
    assert normalize_result({"success": True, "device_id": 7}).details == {}


def test_ad_hoc_keys_are_folded_into_details_after_its_own_keys() -> None:
    normalized = normalize_result({"serial": "X1", "success": True, "device_id": 7, "details": {"a": 1}, "b": 2})
    assert list(normalized.details.items()) == [("a", 1), ("serial", "X1"), ("b", 2)]
    assert [(w.code, w.path) for w in normalized.warnings] == [("NRJ012", "serial"), ("NRJ012", "b")]


def test_on_a_collision_the_details_value_wins_and_a_warning_names_the_key() -> None:
    normalized = normalize_result({"success": True, "device_id": 7, "details": {"error": "kept"}, "error": "dropped"})
    assert normalized.details == {"error": "kept"}
    assert [(w.code, w.path) for w in normalized.warnings] == [("NRJ012", "error")]
    assert normalized.warnings[0].message == (
        'top-level key "error" is not part of the contract and collides with details["error"]: the details '
        'value is stored, this one is dropped; move it under "details"')


def test_details_are_a_plain_copy_of_what_was_validated() -> None:
    inner = {"n": 1}
    details = OrderedDict(t=(1, 2), level=Level.HIGH, inner=inner, lying=LyingDict(real="value"))
    normalized = normalize_result({"success": True, "device_id": 7, "details": details})
    inner["n"] = 2  # the job mutates its result after returning: the stored copy does not change
    assert normalized.details == {"t": [1, 2], "level": 3, "inner": {"n": 1}, "lying": {"real": "value"}}
    assert type(normalized.details) is dict and type(normalized.details["level"]) is int
    assert type(normalized.details["lying"]) is dict
    json.dumps(normalized.details, allow_nan=False)


def test_deep_details_copy_without_recursion() -> None:
    deep: dict[str, object] = {}
    cursor = deep
    for _ in range(5000):
        cursor["n"] = {}
        cursor = cursor["n"]  # type: ignore[assignment]
    normalized = normalize_result({"success": True, "device_id": 7, "details": deep}, max_depth=6000)
    copied, levels = normalized.details, 0
    while copied:  # == would recurse
        assert copied is not deep
        copied, levels = copied["n"], levels + 1
    assert levels == 5000


def test_invalid_result_raises_with_every_violation_errors_first() -> None:
    result = {"success": "yes", "extra": 1, "details": {"when": datetime.date(2024, 1, 1)}}
    with pytest.raises(InvalidResultError) as caught:
        normalize_result(result)
    assert [(v.code, v.path) for v in caught.value.violations] == [
        ("NRJ006", "device_id"), ("NRJ007", "success"), ("NRJ014", "details.when"), ("NRJ012", "extra")]
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith("the result breaks the job-result contract (3 errors): NRJ006 at device_id:")


def test_device_of_another_device_is_refused_when_the_expected_id_is_given() -> None:
    with pytest.raises(InvalidResultError) as caught:
        normalize_result({"success": True, "device_id": 9001}, device_id=101)
    assert [v.code for v in caught.value.violations] == ["NRJ032"]


def test_none_is_refused_as_nrj003() -> None:
    with pytest.raises(InvalidResultError) as caught:
        normalize_result(None)  # type: ignore[arg-type]
    assert [v.code for v in caught.value.violations] == ["NRJ003"]
