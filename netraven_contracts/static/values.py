"""Abstract values: what the analyzer knows about a Python value without running the code.

The analysis follows each path of ``run`` separately, so a value here is what one path knows:

* :class:`Ty`: the possible types (``tags``), and whether anything else is possible (``open``);
* :class:`Ref`: a dict the analysis tracks key by key, stored in the path's heap (so aliases
  such as ``details = {}; result = {"details": details}; details["x"] = 1`` are seen);
* :class:`Seq`: a list, tuple or set literal with its items;
* :class:`Func`: a function defined in the job module (followed when called);
* :class:`Qual`: an imported name (``datetime.datetime``), resolved by qualified name;
* :class:`Device`: ``run``'s first parameter, whose ``id`` is an int.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

import libcst as cst

# Type tags. JSON-safe ones first; NON_JSON are certainly refused by json.dumps / JSONB.
NONE, BOOL, INT, FLOAT, STR, LIST, TUPLE, DICT = "none", "bool", "int", "float", "str", "list", "tuple", "dict"
BYTES, SET, DATETIME, DATE, TIME, TIMEDELTA, DECIMAL, EXCEPTION, OBJECT, NAN = (
    "bytes", "set", "datetime", "date", "time", "timedelta", "decimal", "exception", "object", "nan",
)
UUID, PATH, IPADDR, COMPLEX, GENERATOR, ITERATOR, VIEW, RANGE, FUNC, CLASS, DEVICE_OBJ, SESSION = (
    "uuid", "path", "ipaddr", "complex", "generator", "iterator", "view", "range", "function", "class",
    "device", "session",
)

NON_JSON = frozenset({
    BYTES, SET, DATETIME, DATE, TIME, TIMEDELTA, DECIMAL, EXCEPTION, OBJECT, NAN, UUID, PATH, IPADDR,
    COMPLEX, GENERATOR, ITERATOR, VIEW, RANGE, FUNC, CLASS, DEVICE_OBJ, SESSION,
})

#: How a tag reads in a message ("is {kind}").
KIND_TEXT = {
    NONE: "None", BOOL: "a bool", INT: "an int", FLOAT: "a float", STR: "a str", LIST: "a list",
    TUPLE: "a tuple", DICT: "a dict", BYTES: "bytes", SET: "a set", DATETIME: "a datetime",
    DATE: "a date", TIME: "a time", TIMEDELTA: "a timedelta", DECIMAL: "a Decimal",
    EXCEPTION: "an exception object", OBJECT: "a plain object", NAN: "a NaN or infinite float",
    UUID: "a UUID", PATH: "a Path", IPADDR: "an IP address object", COMPLEX: "a complex number",
    GENERATOR: "a generator", ITERATOR: "an iterator", VIEW: "a dict view", RANGE: "a range",
    FUNC: "a function", CLASS: "a class", DEVICE_OBJ: "the device object", SESSION: "the database session",
}

#: What to store instead, per non-JSON tag ("...; {fix}").
JSON_FIX = {
    BYTES: "decode it to str (or base64-encode it)",
    SET: "store a sorted list instead",
    DATETIME: "store its .isoformat() string",
    DATE: "store its .isoformat() string",
    TIME: "store its .isoformat() string",
    TIMEDELTA: "store .total_seconds()",
    DECIMAL: "store str(...) or float(...) of it",
    EXCEPTION: "store str(exc) (and type(exc).__name__)",
    OBJECT: "store a str, number, bool, None, list or dict",
    NAN: "store None or a finite number",
    UUID: "store str(...) of it",
    PATH: "store str(...) of it",
    IPADDR: "store str(...) of it",
    COMPLEX: "store its real and imaginary parts",
    GENERATOR: "store list(...) of it",
    ITERATOR: "store list(...) of it",
    VIEW: "store list(...) of it",
    RANGE: "store list(...) of it",
    FUNC: "store its name",
    CLASS: "store its name",
    DEVICE_OBJ: "store the attributes you need (device.hostname, ...)",
    SESSION: "store what you read through it, not the session",
}


@dataclass(frozen=True, slots=True)
class Ty:
    """Possible types of a value. ``open``: other types are possible too (nothing known if no tags)."""

    tags: frozenset[str] = frozenset()
    open: bool = False
    # how it arose, for messages ('x.get(...)', a node); not part of what the value *is*
    origin: object = field(default=None, compare=False)
    joined: bool = False        # the result of merging paths: never a reason for an info finding
    truth: bool | None = None   # known truthiness on this path (a bool tested by `if ok:`)
    assumed: bool = False       # known from the contract, not from the code: tests never prune it
    _hash: int = field(default=0, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        # states are compared by hash millions of times: compute it once
        object.__setattr__(self, "_hash", hash((self.tags, self.open, self.joined, self.truth, self.assumed)))

    def __hash__(self) -> int:
        return self._hash

    def union(self, other: "Ty") -> "Ty":
        return Ty(self.tags | other.tags, self.open or other.open, self.origin or other.origin,
                  self.joined or other.joined, self.truth if self.truth == other.truth else None,
                  self.assumed or other.assumed)

    def with_truth(self, truth: bool | None) -> "Ty":
        return Ty(self.tags, self.open, self.origin, self.joined, truth, self.assumed)

    def without(self, tag: str) -> "Ty":
        return Ty(self.tags - {tag}, self.open, self.origin, self.joined, self.truth, self.assumed)

    @property
    def known(self) -> bool:
        """Every possible type is in ``tags``."""
        return not self.open and bool(self.tags)

    def only(self, tag: str) -> bool:
        return not self.open and self.tags == frozenset((tag,))

    def may_be(self, tag: str) -> bool:
        return self.open or tag in self.tags

    def kind(self) -> str:
        return " or ".join(KIND_TEXT.get(t, t) for t in sorted(self.tags)) or "unknown"


_PLAIN: dict[str, Ty] = {}


def ty(*tags: str, origin: object = None) -> Ty:
    if origin is None and len(tags) == 1:
        plain = _PLAIN.get(tags[0])
        if plain is None:
            plain = _PLAIN[tags[0]] = Ty(frozenset(tags), False)
        return plain
    return Ty(frozenset(tags), False, origin)


def unknown(origin: str | None = None, *tags: str) -> Ty:
    return Ty(frozenset(tags), True, origin)


@dataclass(frozen=True, slots=True)
class Ref:
    """A tracked dict: its contents are ``State.heap[oid]``."""

    oid: int


@dataclass(frozen=True, slots=True)
class Seq:
    kind: str                 # LIST, TUPLE or SET
    items: tuple["Value", ...] = ()
    sites: tuple[cst.CSTNode | None, ...] = ()   # where each item stands (None: not in run)
    open: bool = False        # may hold items we do not know


@dataclass(frozen=True, slots=True)
class Func:
    node: cst.FunctionDef
    name: str
    closure: bool = False     # defined inside run: it sees run's variables


@dataclass(frozen=True, slots=True)
class Qual:
    """An imported name, by qualified name (``datetime.datetime``, ``sys.exit``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Device:
    """``run``'s first parameter (or a helper parameter bound to it)."""

    name: str


Value = Union[Ty, Ref, Seq, Func, Qual, Device]


@dataclass(frozen=True, slots=True)
class Entry:
    """One key of a tracked dict."""

    value: Value
    site: cst.CSTNode | None      # where the value stands, in run (None: set in a helper)
    key_site: cst.CSTNode | None  # where the key stands, in run
    maybe: bool = False           # present on some merged paths only


@dataclass(slots=True)
class DictObj:
    """A dict's known keys. Treated as immutable once in a heap: changes make a copy."""

    entries: dict[str, Entry] = field(default_factory=dict)
    open: bool = False            # may hold keys we do not know
    bad_keys: tuple[tuple[cst.CSTNode | None, str], ...] = ()  # literal keys JSON turns into str
    sig: object = field(default=None, compare=False)  # cached summary (set once the object is in a heap)
    origin: cst.Dict | None = field(default=None, compare=False)  # the literal in run that built it
    # keys read, popped or deleted after being set (None: any key may have been; --fix leaves them)
    touched: frozenset[str] | None = field(default=frozenset(), compare=False)
    lossy: bool = False           # a key we cannot name may have been removed (pop/del of a variable)

    def copy(self) -> "DictObj":
        return DictObj(dict(self.entries), self.open, self.bad_keys, None, self.origin, self.touched, self.lossy)

    def touch(self, key: str | None) -> "DictObj":
        """A copy that records ``key`` (None: any key) as read or removed."""
        new = self.copy()
        new.touched = None if key is None or self.touched is None else self.touched | {key}
        return new
