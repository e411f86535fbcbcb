"""Strict JSON for the ``details`` and ``config_metadata`` columns.

PostgreSQL's JSONB refuses NaN/Infinity, ``\\u0000`` and lone surrogates; SQLite would store all
three, and Python's ``json`` module writes NaN by default. The engine serializes every JSON column
value with :func:`serialize_json`, so a value that PostgreSQL would refuse is refused on SQLite
too, with the same :class:`JSONBError` raised before anything reaches the driver.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Final

from netraven_contracts.contract import JSONB_FORBIDDEN_CHARS

# A surrogate code point in a Python str is always a lone one (pairs decode to one code point).
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# json.dumps escapes the forbidden control characters as \u00XX; a backslash that escapes a
# backslash must not count, hence the even run of backslashes before the escape.
_FORBIDDEN_ESCAPES: Final = re.compile(
    r"(?<!\\)(?:\\\\)*\\u(?:" + "|".join(f"{ord(c):04x}" for c in JSONB_FORBIDDEN_CHARS) + ")"
)
_QUICK_ESCAPES: Final = tuple(f"\\u{ord(c):04x}" for c in JSONB_FORBIDDEN_CHARS)


class JSONBError(ValueError):
    """The value cannot be stored in a JSONB column (and so is not stored on SQLite either)."""


def _refuse(value: object) -> Any:
    raise JSONBError(f"{type(value).__name__} object is not JSON serializable")


def dumps_strict(value: object) -> str:
    """Serialize ``value`` as compact JSON that PostgreSQL's JSONB accepts, or raise JSONBError."""
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"),
                          default=_refuse)
    except JSONBError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        raise JSONBError(str(exc)) from exc
    if any(escape in text for escape in _QUICK_ESCAPES) and _FORBIDDEN_ESCAPES.search(text):
        raise JSONBError("a string contains \\u0000, which PostgreSQL's JSONB refuses")
    if _SURROGATE.search(text):
        raise JSONBError("a string contains a lone surrogate, which is not valid UTF-8")
    return text


@dataclass(frozen=True, slots=True)
class JSONText:
    """A document already serialized by :func:`dumps_strict`.

    The dispatcher serializes each result in the worker thread that produced it, so a value that
    cannot be stored is attributed to its device and the stored document is a snapshot (the job
    cannot change it afterwards). The engine's serializer passes the text through unchanged.
    """

    text: str

    @classmethod
    def of(cls, value: object) -> JSONText:
        return cls(dumps_strict(value))

    def load(self) -> Any:
        return json.loads(self.text)


def serialize_json(value: object) -> str:
    """The engine's ``json_serializer``: strict, and pass-through for :class:`JSONText`."""
    if isinstance(value, JSONText):
        return value.text
    return dumps_strict(value)
