"""Normalisation of a valid result onto the fields of one ``job_results`` row.

``success`` becomes ``status`` (``"success"``/``"failure"``), ``device_id`` stays, and ``details``
is the ``details`` dict plus every ad-hoc top-level key (the contract's design: keys that map to no
column go into ``details``; when an ad-hoc key collides with a key of ``details``, the ``details``
value wins and the NRJ012 warning of that key says it was not kept).

The returned ``details`` is a fresh tree of plain ``dict``/``list``/``str``/``int``/``float``/
``bool``/``None`` copied from the real storage of what was validated: a dict subclass that
overrides ``items()``, a tuple, an ``IntEnum`` come out as what ``json.dumps`` would make of them,
and a job that keeps mutating its result after returning cannot change what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import contract
from ..findings import Violation
from ..rules import Severity
from .validate import check_arguments, check_result


@dataclass(frozen=True, slots=True)
class NormalizedResult:
    """The ``job_results`` fields of one valid result."""

    status: str  # contract.STATUS_SUCCESS or contract.STATUS_FAILURE
    device_id: int
    details: dict[str, Any]
    warnings: tuple[Violation, ...] = ()  # every non-error violation (NRJ012 ad-hoc keys, ...)


class InvalidResultError(ValueError):
    """The result breaks the contract; ``violations`` holds every violation (errors first)."""

    def __init__(self, violations: list[Violation] | tuple[Violation, ...]) -> None:
        ranked = sorted(violations, key=lambda violation: -violation.severity.rank)
        self.violations: tuple[Violation, ...] = tuple(ranked)
        errors = [str(violation) for violation in ranked if violation.severity is Severity.ERROR]
        super().__init__(f"the result breaks the job-result contract ({len(errors)} error"
                         f"{'s' if len(errors) != 1 else ''}): " + "; ".join(errors))


def normalize_result(
    result: Mapping[str, object],
    *,
    device_id: int | None = None,
    max_details_bytes: int = contract.DEFAULT_MAX_DETAILS_BYTES,
    max_depth: int = contract.DEFAULT_MAX_DETAILS_DEPTH,
) -> NormalizedResult:
    """Validate ``result`` (as :func:`~netraven_contracts.runtime.validate_result` does, same
    arguments) and map it onto ``job_results`` fields.

    Raises :class:`InvalidResultError` (a ``ValueError``) carrying every violation when one of them
    is an error; warnings travel in :attr:`NormalizedResult.warnings`.
    """
    check_arguments(device_id, max_details_bytes, max_depth)
    violations = check_result(result, device_id=device_id, max_details_bytes=max_details_bytes,
                              max_depth=max_depth)
    if any(violation.severity is Severity.ERROR for violation in violations):
        raise InvalidResultError(violations)

    # Validated: a real dict with exact-str known keys, JSON-only values, acyclic, bounded depth.
    entries = list(dict.items(result))  # type: ignore[arg-type]
    known = {key: value for key, value in entries if type(key) is str and key in contract.KNOWN_KEYS}
    details = _plain_copy(known.get(contract.DETAILS_KEY, {}))
    for key, value in entries:
        if type(key) is str and key in contract.KNOWN_KEYS:
            continue
        key = "".join((key,))  # type: ignore[arg-type]  # a str subclass key, as JSON writes it
        if key not in details:
            details[key] = _plain_copy(value)
    status = contract.STATUS_SUCCESS if known[contract.SUCCESS_KEY] else contract.STATUS_FAILURE
    return NormalizedResult(
        status=status,
        device_id=int.__int__(known[contract.DEVICE_ID_KEY]),  # type: ignore[arg-type]
        details=details,
        warnings=tuple(violations),
    )


def _plain_copy(value: object) -> Any:
    """A plain JSON tree equal to what ``json.dumps(value)`` writes; iterative (no recursion
    limit). Only called on validated values: JSON types, str keys, no cycles."""
    holder: list[Any] = [None]
    stack: list[tuple[object, Any, Any]] = [(value, holder, 0)]
    while stack:
        source, target, slot = stack.pop()
        cls = type(source)
        if cls is str or cls is bool or source is None or cls is int or cls is float:
            target[slot] = source
        elif issubclass(cls, dict):
            copy: dict[str, Any] = {}
            target[slot] = copy
            for key, item in dict.items(source):  # type: ignore[arg-type]
                key = "".join((key,))
                copy[key] = None  # keeps the order; filled below
                stack.append((item, copy, key))
        elif issubclass(cls, (list, tuple)):
            items = list(list.__iter__(source) if issubclass(cls, list)  # type: ignore[arg-type]
                         else tuple.__iter__(source))  # type: ignore[arg-type]
            copy_list: list[Any] = [None] * len(items)
            target[slot] = copy_list
            stack.extend((item, copy_list, index) for index, item in enumerate(items))
        elif issubclass(cls, str):
            target[slot] = "".join((source,))  # type: ignore[arg-type]
        elif issubclass(cls, int):
            target[slot] = int.__int__(source)  # type: ignore[arg-type]
        else:  # a float subclass: validation lets nothing else through
            target[slot] = float.__float__(source)  # type: ignore[arg-type]
    return holder[0]
