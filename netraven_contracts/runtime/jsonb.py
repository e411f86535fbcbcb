"""JSONB safety of one value, checked on the real objects: every problem, with its path (NRJ014).

What PostgreSQL's JSONB column accepts is stricter than what ``json.dumps`` writes: no NaN or
Infinity, no ``\\u0000`` and no lone surrogate in any string (keys included), str keys only
(``json.dumps`` silently turns ``22`` into ``"22"``), and only dict/list/str/int/float/bool/None.

The walk is iterative (no recursion limit, whatever ``max_depth`` is), reads containers through
their real storage (``dict.items(d)``, ``list.__iter__(l)``) so a dict subclass that overrides
``items()`` cannot hide anything, never calls a method of a foreign object (no ``__eq__``,
``__hash__``, ``__repr__``), stops descending at the depth limit and at a reference to one of the
container's own ancestors (a cycle), and computes the exact size of the compact UTF-8 JSON text
(``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``) on the way.
"""

from __future__ import annotations

import math
import re
from json.encoder import encode_basestring
from math import isfinite as _isfinite
from typing import Any, Final

from .. import contract
from ..findings import Violation
from ..rules import RULES
from .describe import Index, describe, render_key, render_path, type_name

#: NRJ014 violations listed one by one for one result; the rest are summed up in one more.
MAX_REPORTED: Final = 100

_NRJ014: Final = RULES["NRJ014"]
_SMALL_INT: Final = 10**300  # far below the int -> str digit limit
_EXIT: Final = object()  # stack marker: leaving a container (its id is no longer an ancestor)
_FORBIDDEN: Final = tuple(contract.JSONB_FORBIDDEN_CHARS)
_LONE_SURROGATE: Final = re.compile(
    "[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]"
)

_NOT_JSON: Final = "JSON cannot encode"
_GENERIC_FIX: Final = "convert it to a str, int, float, bool, None, list or dict"
#: (module, class name) anywhere in the MRO -> what to write instead.
_FIXES: Final = {
    ("datetime", "datetime"): "store its .isoformat() string instead",
    ("datetime", "date"): "store its .isoformat() string instead",
    ("datetime", "time"): "store its .isoformat() string instead",
    ("datetime", "timedelta"): "store .total_seconds() instead",
    ("builtins", "bytes"): 'decode it to a str (.decode(errors="replace")) or base64-encode it',
    ("builtins", "bytearray"): 'decode it to a str (.decode(errors="replace")) or base64-encode it',
    ("builtins", "memoryview"): "store bytes(value).hex() or base64-encode it",
    ("decimal", "Decimal"): "store str(value) (exact) or float(value)",
    ("fractions", "Fraction"): "store str(value) or float(value)",
    ("builtins", "set"): "store sorted(value), a list, instead",
    ("builtins", "frozenset"): "store sorted(value), a list, instead",
    ("builtins", "complex"): "store [value.real, value.imag] instead",
    ("builtins", "BaseException"): "store str(exc) (and type(exc).__name__) instead",
    ("uuid", "UUID"): "store str(value) instead",
    ("pathlib", "PurePath"): "store str(value) instead",
    ("ipaddress", "_IPAddressBase"): "store str(value) instead",
    ("enum", "Enum"): "store .value or .name instead",
    ("numpy", "generic"): "store value.item(), a plain Python number, instead",
    ("numpy", "ndarray"): "store value.tolist() instead",
}


def _fix_for(value: object) -> str:
    try:
        mro = type.__dict__["__mro__"].__get__(type(value))
        for cls in mro:
            key = (type.__dict__["__module__"].__get__(cls), type.__dict__["__qualname__"].__get__(cls))
            fix = _FIXES.get(key)
            if fix is not None:
                return fix
    except Exception:  # a metaclass that lies about its MRO or names
        pass
    return _GENERIC_FIX


def _is_container(cls: type) -> bool:
    return cls is dict or cls is list or issubclass(cls, (dict, list, tuple))


def _real_str(value: str) -> str:
    """The characters of a str subclass as an exact str, without calling its methods."""
    return "".join((value,))


def _json_key_text(key: object) -> str | None:
    """What ``json.dumps`` writes for a non-str key, or ``None`` when it refuses the key."""
    if key is None:
        return "null"
    if key is True:
        return "true"
    if key is False:
        return "false"
    if isinstance(key, int):
        return int.__repr__(key)
    if isinstance(key, float):
        return float.__repr__(key)
    return None


class JsonbWalker:
    """Walks values destined for ``job_results.details``, appending NRJ014 violations to ``out``."""

    __slots__ = ("out", "max_depth", "reported", "suppressed")

    def __init__(self, out: list[Violation], *, max_depth: int) -> None:
        self.out = out
        self.max_depth = max_depth
        self.reported = 0
        self.suppressed = 0

    # -- reporting -------------------------------------------------------------------------
    def report(self, root: str, keys: tuple[object, ...], kind: str, why: str, fix: str) -> None:
        if self.reported >= MAX_REPORTED:
            self.suppressed += 1
            return
        self.reported += 1
        at = "".join(render_key(key) for key in keys)
        message = _NRJ014.format(at=at, kind=kind, why=why, fix=fix)
        self.out.append(Violation("NRJ014", message, path=render_path(root, keys)))

    def finish(self) -> None:
        """Sum up what was not listed one by one."""
        if self.suppressed:
            message = _NRJ014.format(
                at="",
                kind=f"a structure with {self.suppressed} more such values",
                why=f"are not listed one by one (the report stops after {MAX_REPORTED})",
                fix="fix the ones listed and run the check again",
            )
            self.out.append(Violation("NRJ014", message, path=contract.DETAILS_KEY))

    # -- the walk --------------------------------------------------------------------------
    def walk(self, value: object, root: str, keys: tuple[object, ...], depth: int) -> int:
        """Check ``value`` (at ``depth``: 1 for the details dict itself); return its JSON size.

        Problems are reported container by container in insertion order: a container's own
        scalar entries first, then its nested containers (depth first).
        """
        if not _is_container(type(value)):
            return self.scalar(value, root, keys)
        size = 0
        on_path: dict[int, tuple[object, ...]] = {}  # id of an ancestor container -> its keys
        stack: list[tuple[object, Any, int]] = [(value, keys, depth)]
        pop, push = stack.pop, stack.append
        while stack:
            value, keys, depth = pop()
            if value is _EXIT:
                del on_path[keys]  # here ``keys`` holds the id of the container being left
                continue
            ident = id(value)
            if ident in on_path:
                where = render_path(root, on_path[ident]) or "the result"
                self.report(root, keys, f"a reference back to {where} (a cycle)",
                            "JSON cannot represent", "store a copy without the back-reference")
                continue
            if depth > self.max_depth:
                self.report(root, keys, f"{describe(value)} nested {depth} levels deep",
                            f"exceeds the limit of {self.max_depth} levels (max_depth)",
                            "flatten the structure")
                continue
            cls = type(value)
            if cls is dict or issubclass(cls, dict):
                items = list(dict.items(value))  # type: ignore[arg-type]  # real storage
                size += 2 * len(items) + 1 if items else 2  # braces, colons, commas
            else:
                elements = (list.__iter__(value) if issubclass(cls, list)  # type: ignore[arg-type]
                            else tuple.__iter__(value))  # type: ignore[arg-type]
                items = [(Index(index), element) for index, element in enumerate(elements)]
                size += len(items) + 1 if items else 2  # brackets, commas
                cls = None  # keys of a list are positions, not JSON text
            nested: list[tuple[object, Any, int]] = []
            for key, item in items:
                if cls is None:
                    pass
                elif type(key) is str and key.isascii():
                    for char in _FORBIDDEN:
                        if char in key:
                            size += self.key(key, root, keys + (key,))
                            break
                    else:
                        size += len(encode_basestring(key))
                else:
                    size += self.key(key, root, keys + (key,))
                item_cls = type(item)
                # Inline fast paths for the common exact types; everything else in scalar().
                if item_cls is str and item.isascii():  # type: ignore[union-attr]
                    for char in _FORBIDDEN:
                        if char in item:  # type: ignore[operator]
                            size += self.scalar(item, root, keys + (key,))
                            break
                    else:
                        size += len(encode_basestring(item))
                elif item_cls is int and -_SMALL_INT < item < _SMALL_INT:  # type: ignore[operator]
                    size += len(int.__repr__(item))  # type: ignore[arg-type]
                elif item_cls is bool or item is None:
                    size += 5 if item is False else 4
                elif item_cls is float and _isfinite(item):  # type: ignore[arg-type]
                    size += len(float.__repr__(item))  # type: ignore[arg-type]
                elif _is_container(item_cls):
                    nested.append((item, keys + (key,), depth + 1))
                else:
                    size += self.scalar(item, root, keys + (key,))
            if nested:
                on_path[ident] = keys
                push((_EXIT, ident, 0))
                nested.reverse()
                stack.extend(nested)
        return size

    def scalar(self, value: object, root: str, keys: tuple[object, ...]) -> int:
        """Check one value that is not a list/tuple/dict; return the size of its JSON text."""
        cls = type(value)
        if cls is bool or value is None:
            return 5 if value is False else 4
        if issubclass(cls, str):
            what = "a str containing" if cls is str else f"a {type_name(value)} containing"
            return self._str(_real_str(value), root, keys, what)  # type: ignore[arg-type]
        if issubclass(cls, int):
            return self._int(value, root, keys)  # type: ignore[arg-type]
        if issubclass(cls, float):
            return self._float(value, root, keys)  # type: ignore[arg-type]
        self.report(root, keys, describe(value), _NOT_JSON, _fix_for(value))
        return 0

    def key(self, key: object, root: str, keys: tuple[object, ...]) -> int:
        """Check one dict key (its entry is at ``keys``); return the size of its JSON text."""
        if type(key) is str:
            return self._str(key, root, keys, "an entry whose key contains")  # type: ignore[arg-type]
        if isinstance(key, str):
            return self._str(_real_str(key), root, keys, "an entry whose key contains")
        text = _json_key_text(key)
        if text is None:
            self.report(root, keys, f"an entry with a {type_name(key)} key",
                        "json.dumps refuses (JSON object keys are strings)", "use str keys")
            return 0
        shown = text if isinstance(key, (int, float)) and not isinstance(key, bool) else repr(key)
        self.report(root, keys, f"an entry with the {type_name(key)} key {shown}",
                    f'JSON silently turns into the string "{text}" (it comes back as a str)',
                    f'use str keys, e.g. "{text}"')
        return len(text) + 2

    def _str(self, text: str, root: str, keys: tuple[object, ...], what: str) -> int:
        for char in _FORBIDDEN:
            if char in text:
                self.report(root, keys,
                            f"{what} {char!a} (at index {text.index(char)})",
                            "PostgreSQL's JSONB refuses (SQLite would store it)",
                            f"remove it, e.g. value.replace({char!a}, \"\")")
        escaped = encode_basestring(text)
        if text.isascii():
            return len(escaped)
        try:
            return len(escaped.encode("utf-8"))
        except UnicodeEncodeError:
            pass
        lone = [match.start() for match in _LONE_SURROGATE.finditer(text)]
        if lone:
            more = f" and {len(lone) - 1} more" if len(lone) > 1 else ""
            self.report(root, keys,
                        f"{what} the lone surrogate {text[lone[0]]!a} "
                        f"(at index {lone[0]}{more})",
                        "is not valid Unicode, so PostgreSQL's JSONB refuses it",
                        'decode the source bytes with errors="replace"')
        return len(escaped.encode("utf-8", "surrogatepass"))

    def _int(self, value: int, root: str, keys: tuple[object, ...]) -> int:
        try:
            return len(int.__repr__(value))
        except ValueError:  # beyond sys.get_int_max_str_digits()
            self.report(root, keys, f"an int of {value.bit_length()} bits",
                        "is too large to be written as JSON text", "store it as a str")
            return 0

    def _float(self, value: float, root: str, keys: tuple[object, ...]) -> int:
        if math.isfinite(value):
            return len(float.__repr__(value))
        self.report(root, keys, f"the float {float.__repr__(value)}",
                    "JSON cannot represent (json.dumps writes it as a bare NaN/Infinity, "
                    "which PostgreSQL refuses)",
                    "store None, or a finite number")
        return 0
