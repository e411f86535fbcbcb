"""What became of one device in a run: a valid result, or a failure with its codes and why.

Every device of a run gets exactly one :class:`ResultRow`. A valid result is stored through
``normalize_result`` (``details`` holds the job's details plus its ad-hoc keys, never a nested
``details.details``); anything else (an exception, a time-out, a wrong ``device_id``, an invalid
or unserializable value) becomes a failure row whose ``details`` say which codes, why, and show a
truncated ``repr`` of what the job returned. Everything a failure row holds is sanitized so that
the row itself can always be stored.
"""

from __future__ import annotations

import reprlib
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Final

from netraven_contracts import contract
from netraven_contracts.findings import Violation
from netraven_contracts.rules import RULES, Severity

from netraven.db.jsonb import JSONBError, JSONText
from netraven.db.models import result_key

#: Longest text of one field of a failure row (an exception message, the result's repr).
MAX_TEXT: Final = 2000
#: Violations listed one by one in a failure row; the count of the others is recorded.
MAX_VIOLATIONS: Final = 20
#: Traceback frames kept for NRJ030 (the innermost ones: where the job raised).
MAX_FRAMES: Final = 8


@dataclass(frozen=True, slots=True)
class ResultRow:
    """One ``job_results`` row, ready to insert (``details`` already serialized, strictly)."""

    result_key: str
    job_id: int
    device_id: int
    job_type: str
    status: str
    result_time: datetime
    details: JSONText

    def values(self) -> tuple[Any, ...]:
        """Column values in the order of the result writer's INSERT."""
        return (self.result_key, self.job_id, self.device_id, self.job_type, self.status,
                self.result_time, self.details)

    def to_record(self) -> dict[str, Any]:
        """The row as a JSON object (the spool's line format)."""
        return {"result_key": self.result_key, "job_id": self.job_id, "device_id": self.device_id,
                "job_type": self.job_type, "status": self.status,
                "result_time": self.result_time.isoformat(), "details": self.details.load()}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> ResultRow:
        """The inverse of :meth:`to_record`; raises KeyError/TypeError/ValueError on a bad record."""
        result_time = datetime.fromisoformat(record["result_time"])
        if result_time.tzinfo is None:
            raise ValueError("result_time has no time zone")
        details = record["details"]
        if not isinstance(details, dict):
            raise TypeError("details is not an object")
        ints = {name: record[name] for name in ("job_id", "device_id")}
        for name, value in ints.items():
            if type(value) is not int:
                raise TypeError(f"{name} is not an int")
        strings = {name: record[name] for name in ("result_key", "job_type", "status")}
        for name, value in strings.items():
            if not isinstance(value, str):
                raise TypeError(f"{name} is not a str")
        return cls(details=JSONText.of(details), result_time=result_time, **ints, **strings)

    @property
    def ok(self) -> bool:
        return self.status == contract.STATUS_SUCCESS


@dataclass(frozen=True, slots=True)
class Outcome:
    """A device's row plus what the CLI and the run report need to know about it."""

    device_id: int
    hostname: str
    row: ResultRow
    codes: tuple[str, ...] = ()        # error codes; empty for a success
    message: str = ""                  # why it failed, one line; empty for a success
    warnings: tuple[str, ...] = field(default=())  # warning codes of a stored result (NRJ012...)

    @property
    def ok(self) -> bool:
        return self.row.ok


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def safe_text(value: object, limit: int = MAX_TEXT) -> str:
    """``str(value)`` that JSONB can store: no NUL, no lone surrogate, at most ``limit`` chars."""
    try:
        text = value if type(value) is str else str(value)
    except Exception as exc:  # a hostile __str__
        text = f"<unprintable {type(value).__name__}: {type(exc).__name__}>"
    text = str.replace(text, "\x00", "\\x00")
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 15] + f"... [{len(text)} chars]"


_REPR: Final = reprlib.Repr()
_REPR.maxlevel = 4
_REPR.maxdict = _REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = 20
_REPR.maxstring = 200
_REPR.maxother = 200
_REPR.maxlong = 60


def truncated_repr(value: object, limit: int = MAX_TEXT) -> str:
    """A bounded ``repr``: nested containers, long strings and big ints are cut (reprlib), and a
    ``__repr__`` that raises yields a placeholder instead of an exception."""
    try:
        text = _REPR.repr(value)
    except Exception as exc:
        text = f"<{type(value).__name__} whose repr raised {type(exc).__name__}>"
    return safe_text(text, limit)


def _violation_dict(violation: Violation) -> dict[str, Any]:
    return {"code": violation.code, "message": safe_text(violation.message, 500),
            "path": safe_text(violation.path, 200)}


def stored_outcome(*, job_id: int, job_type: str, device_id: int, hostname: str, status: str,
                   details: Mapping[str, Any], warnings: Iterable[str] = (),
                   result_time: datetime | None = None) -> Outcome:
    """A valid result, stored as the job reported it (``status`` from its ``success``).

    Raises :class:`JSONBError` when ``details`` cannot be serialized strictly.
    """
    row = ResultRow(result_key(job_id, device_id), job_id, device_id, job_type, status,
                    result_time or utcnow(), JSONText.of(details))
    message = ""
    if status != contract.STATUS_SUCCESS:
        error = details.get("error") if isinstance(details, Mapping) else None
        message = safe_text(error, 300) if error else "the job reported failure"
    return Outcome(device_id, hostname, row, message=message, warnings=tuple(warnings))


def failure_outcome(*, job_id: int, job_type: str, device_id: int, hostname: str,
                    violations: Iterable[Violation], result: object = None,
                    has_result: bool = False, extra: Mapping[str, Any] | None = None,
                    message: str | None = None, result_time: datetime | None = None) -> Outcome:
    """A failure row for ``violations``, with a truncated repr of ``result`` when the job
    returned one. ``message`` is the ``error`` text when no violation explains the failure (an
    interrupted run); ``extra`` adds the dispatcher's own fields (exception, time limit)."""
    listed = list(violations)
    errors = [v for v in listed if v.severity is Severity.ERROR] or listed
    codes = tuple(dict.fromkeys(v.code for v in errors))
    if message is None:
        message = errors[0].message if errors else "the job failed"
    message = safe_text(message, 500)
    details: dict[str, Any] = {
        "error": message,
        "codes": list(codes),
        "violations": [_violation_dict(v) for v in errors[:MAX_VIOLATIONS]],
    }
    if len(errors) > MAX_VIOLATIONS:
        details["violations_not_listed"] = len(errors) - MAX_VIOLATIONS
    details["result_repr"] = truncated_repr(result) if has_result else None
    if extra:
        details.update(extra)
    try:
        text = JSONText.of(details)
    except JSONBError:  # cannot happen with sanitized text; keep the row storable regardless
        text = JSONText.of({"error": message, "codes": list(codes), "result_repr": None})
    row = ResultRow(result_key(job_id, device_id), job_id, device_id, job_type,
                    contract.STATUS_FAILURE, result_time or utcnow(), text)
    return Outcome(device_id, hostname, row, codes=codes, message=message)


def exception_details(exc: BaseException) -> dict[str, Any]:
    """The exception as JSON-safe fields: type, message and the innermost traceback frames."""
    frames = traceback.extract_tb(exc.__traceback__)[-MAX_FRAMES:]
    return {"exception": {
        "type": safe_text(type(exc).__qualname__, 200),
        "message": safe_text(exc),
        "traceback": [f"{safe_text(f.filename, 300)}:{f.lineno} in {safe_text(f.name, 100)}"
                      for f in frames],
    }}


def raised_violation(exc: BaseException) -> Violation:
    """NRJ030 for an exception that escaped ``run()``."""
    described = f"raised {type(exc).__name__}: {safe_text(exc, 300)}"
    frames = traceback.extract_tb(exc.__traceback__)
    line = frames[-1].lineno if frames else None
    return Violation("NRJ030", RULES["NRJ030"].format(what=described), line=line)


def timeout_violation(timeout: float) -> Violation:
    """NRJ031 for a job still running when its time limit passed."""
    return Violation("NRJ031", RULES["NRJ031"].format(timeout=timeout, where=""))
