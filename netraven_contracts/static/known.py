"""What well-known callables and attributes return, by qualified name or method name.

The analyzer consults these tables for calls it does not follow; anything not listed is unknown.
"""

from __future__ import annotations

from .values import (
    BOOL, BYTES, CLASS, COMPLEX, DATE, DATETIME, DECIMAL, DICT, FLOAT, INT, IPADDR, ITERATOR, LIST,
    NAN, NONE, OBJECT, PATH, RANGE, SET, STR, TIME, TIMEDELTA, TUPLE, UUID,
)

_DT = "datetime.datetime"

#: Calls by qualified name -> the tag of what they return.
CALLS: dict[str, str] = {
    **dict.fromkeys(("builtins.str", "builtins.repr", "builtins.format", "builtins.ascii", "builtins.chr",
                     "builtins.hex", "builtins.oct", "builtins.bin", "json.dumps", "socket.gethostname",
                     "platform.node", "platform.system", "os.getcwd", "time.strftime", "time.ctime",
                     "textwrap.dedent",
                     "re.sub", "re.escape", "os.path.join", "os.path.basename", "os.path.dirname",
                     "shlex.quote", "shlex.join"), STR),
    **dict.fromkeys(("builtins.int", "builtins.len", "builtins.ord", "builtins.hash", "builtins.id",
                     "os.getpid", "time.time_ns", "time.monotonic_ns"), INT),
    **dict.fromkeys(("builtins.float", "time.time", "time.monotonic", "time.perf_counter",
                     "math.sqrt", "math.floor", "math.ceil", "statistics.mean", "statistics.median"), FLOAT),
    **dict.fromkeys(("builtins.bool", "builtins.isinstance", "builtins.issubclass", "builtins.hasattr",
                     "builtins.callable", "builtins.all", "builtins.any", "os.path.exists",
                     "os.path.isfile", "os.path.isdir", "math.isnan", "math.isinf", "math.isfinite"), BOOL),
    **dict.fromkeys(("builtins.list", "builtins.sorted", "re.findall", "re.split", "shlex.split",
                     "os.listdir"), LIST),
    **dict.fromkeys(("builtins.tuple", "builtins.divmod"), TUPLE),
    **dict.fromkeys(("builtins.set", "builtins.frozenset"), SET),
    **dict.fromkeys(("builtins.bytes", "builtins.bytearray", "base64.b64encode", "base64.b64decode",
                     "os.urandom", "zlib.compress"), BYTES),
    "builtins.object": OBJECT,
    "builtins.complex": COMPLEX,
    "builtins.range": RANGE,
    "builtins.type": CLASS,
    "builtins.vars": DICT,
    **dict.fromkeys(("builtins.iter", "builtins.map", "builtins.filter", "builtins.zip", "builtins.enumerate",
                     "builtins.reversed", "re.finditer"), ITERATOR),
    **dict.fromkeys(("builtins.print", "time.sleep"), NONE),
    **dict.fromkeys((_DT, f"{_DT}.now", f"{_DT}.utcnow", f"{_DT}.today", f"{_DT}.fromtimestamp",
                     f"{_DT}.utcfromtimestamp", f"{_DT}.fromisoformat", f"{_DT}.strptime",
                     f"{_DT}.combine", f"{_DT}.fromordinal", f"{_DT}.astimezone"), DATETIME),
    **dict.fromkeys(("datetime.date", "datetime.date.today", "datetime.date.fromisoformat",
                     "datetime.date.fromtimestamp", "datetime.date.fromordinal"), DATE),
    **dict.fromkeys(("datetime.time", "datetime.time.fromisoformat"), TIME),
    "datetime.timedelta": TIMEDELTA,
    "decimal.Decimal": DECIMAL,
    **dict.fromkeys(("uuid.uuid1", "uuid.uuid3", "uuid.uuid4", "uuid.uuid5", "uuid.UUID"), UUID),
    **dict.fromkeys(("ipaddress.ip_address", "ipaddress.ip_network", "ipaddress.ip_interface",
                     "ipaddress.IPv4Address", "ipaddress.IPv6Address", "ipaddress.IPv4Network",
                     "ipaddress.IPv6Network", "ipaddress.IPv4Interface", "ipaddress.IPv6Interface"), IPADDR),
    **dict.fromkeys(("pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath",
                     "pathlib.WindowsPath"), PATH),
}

#: Module attributes that are values, by qualified name.
ATTRIBUTES: dict[str, str] = {
    "math.nan": NAN, "math.inf": NAN, "numpy.nan": NAN, "numpy.inf": NAN, "cmath.nan": NAN,
    "cmath.inf": NAN, "decimal.Decimal": CLASS,
}

#: float("nan") and friends.
NAN_LITERALS = frozenset({"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"})

#: Methods that return the same type whatever the receiver (in practice).
ANY_RECEIVER_METHODS: dict[str, str] = {
    "hexdigest": STR, "isoformat": STR, "strftime": STR, "decode": STR, "digest": BYTES,
    "total_seconds": FLOAT, "timestamp": FLOAT, "is_alive": BOOL, "is_set": BOOL,
    # str/bytes predicates: no other common type has methods of these names
    **dict.fromkeys(("startswith", "endswith", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit",
                     "isidentifier", "islower", "isnumeric", "isprintable", "isspace", "istitle",
                     "isupper"), BOOL),
}

#: Methods of str.
STR_METHODS: dict[str, str] = {
    **dict.fromkeys(("capitalize", "casefold", "center", "expandtabs", "format", "format_map", "join",
                     "ljust", "lower", "lstrip", "removeprefix", "removesuffix", "replace", "rjust",
                     "rstrip", "strip", "swapcase", "title", "translate", "upper", "zfill"), STR),
    **dict.fromkeys(("endswith", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier",
                     "islower", "isnumeric", "isprintable", "isspace", "istitle", "isupper",
                     "startswith"), BOOL),
    **dict.fromkeys(("count", "find", "index", "rfind", "rindex"), INT),
    **dict.fromkeys(("split", "rsplit", "splitlines"), LIST),
    **dict.fromkeys(("partition", "rpartition"), TUPLE),
    "encode": BYTES,
}

#: Methods of datetime/date/time that return the same type.
SAME_TYPE_METHODS = frozenset({"replace", "astimezone"})

#: Methods of a dict that return a view.
DICT_VIEW_METHODS = frozenset({"keys", "values", "items"})

#: Calls that do not keep or change a dict passed to them (no escape).
PURE_CALLS = frozenset({
    "builtins.str", "builtins.repr", "builtins.len", "builtins.bool", "builtins.isinstance",
    "builtins.print", "builtins.sorted", "builtins.list", "builtins.tuple", "builtins.set",
    "builtins.any", "builtins.all", "builtins.hash", "builtins.id", "builtins.format",
    "json.dumps", "copy.copy", "copy.deepcopy", "builtins.dict", "builtins.type",
})

#: Modules whose functions only read their arguments (``logging.info("%s", result)``).
PURE_MODULES = ("logging.", "builtins.print", "json.dump", "pprint.")

#: Method names that only read their arguments (logging and the like).
PURE_METHODS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log",
                          "format", "join", "startswith", "endswith", "get", "count", "index"})
