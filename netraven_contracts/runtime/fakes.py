"""Fakes for the four arguments of ``run(device, job_id, config, db)``.

Job authors use them in their own tests (the pytest plugin hands them out as the ``fake_device``,
``fake_db`` and ``job_config`` fixtures); the dry run calls every job with them.

* :class:`FakeDevice` has the attributes NetRaven's ``Device`` model gives jobs. The optional ones
  can be left out, so ``device.model`` raises ``AttributeError`` as on a half-loaded device.
  Its address is in TEST-NET-1 (192.0.2.0/24, never routed) and its name ends in ``.invalid``
  (never resolves): a job run in-process with it cannot reach a real device.
* :class:`FakeSession` records every call and answers queries with empty results through the
  usual chains. ``block_writes=True`` (the dry run) makes writes raise :class:`WriteBlockedError`
  (an ``OSError``); ``fail=True`` makes every call raise a database error.
* :data:`FAKE_JOB_ID` differs from :data:`FAKE_DEVICE_ID`, so a job that mixes them up shows.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Final, Iterator

#: The fake device's id and the job id the fakes pass: distinct, neither 0 nor 1 (True == 1).
FAKE_DEVICE_ID: Final = 101
FAKE_JOB_ID: Final = 9001

#: Attributes every device has, and those a half-loaded device may lack.
REQUIRED_DEVICE_ATTRIBUTES: Final = ("id", "hostname", "ip_address", "device_type")
OPTIONAL_DEVICE_ATTRIBUTES: Final = ("port", "username", "password", "serial_number", "model")

_DEFAULTS: Final = {
    "id": FAKE_DEVICE_ID,
    "hostname": "fake-router-01.invalid",
    "ip_address": "192.0.2.10",
    "device_type": "cisco_ios",
    "port": 22,
    "username": "netraven",
    "password": "fake-password",
    "serial_number": "FAKE0000SN01",
    "model": "C9300-24T",
}

_ABSENT: Final = object()


class FakeDevice:
    """A device as NetRaven's jobs see it. Keyword arguments override the defaults, add attributes
    (``vendor="cisco"``), or, given as :data:`FakeDevice.ABSENT`, leave an attribute out."""

    ABSENT: Final = _ABSENT

    def __init__(self, **attributes: Any) -> None:
        for name, value in {**_DEFAULTS, **attributes}.items():
            if value is not _ABSENT:
                setattr(self, name, value)

    @classmethod
    def minimal(cls, **attributes: Any) -> FakeDevice:
        """A device whose optional attributes (:data:`OPTIONAL_DEVICE_ATTRIBUTES`) are absent."""
        absent = dict.fromkeys(OPTIONAL_DEVICE_ATTRIBUTES, _ABSENT)
        return cls(**{**absent, **attributes})

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"FakeDevice({fields})"


def default_config() -> dict[str, Any]:
    """A fresh config dict shaped like NetRaven's (``worker.*``, ``ssh.*``, ``redaction.patterns``)."""
    return copy.deepcopy(_CONFIG)


_CONFIG: Final = {
    "worker": {
        "thread_pool_size": 5,
        "connection_timeout": 30,
        "retry_attempts": 3,
        "retry_backoff": 2,
    },
    "ssh": {
        "port": 22,
        "timeout": 30,
        "auth_timeout": 30,
        "banner_timeout": 30,
        "username": "netraven",
        "password": "fake-password",
    },
    "redaction": {
        "patterns": ["password", "secret", "community", "key"],
    },
}


class FakeDatabaseError(Exception):
    """A simulated database failure (``FakeSession(fail=True)``); the dry run wraps it in
    SQLAlchemy's ``OperationalError`` when SQLAlchemy is installed, as a real failure would be."""


class WriteBlockedError(PermissionError):
    """A write through a ``FakeSession(block_writes=True)``: an ``OSError``, as every other
    blocked action of the dry run, so the job's own error handling runs."""


@dataclass(frozen=True, slots=True)
class FakeCall:
    """One call on a :class:`FakeSession` (or on a query it made)."""

    name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    write: bool = False    # the call would change the database
    blocked: bool = False  # it raised WriteBlockedError


class FakeResult:
    """What ``execute()`` returns: empty, whatever the chain (``.scalars().all()`` -> ``[]``)."""

    rowcount = 0

    def __iter__(self) -> Iterator[Any]:
        return iter(())

    def all(self) -> list[Any]:
        return []

    fetchall = all

    def first(self) -> None:
        return None

    def one_or_none(self) -> None:
        return None

    def scalar(self) -> None:
        return None

    def scalar_one_or_none(self) -> None:
        return None

    fetchone = scalar_one_or_none

    def one(self) -> Any:
        raise _no_result()

    scalar_one = one

    def scalars(self, *args: Any) -> FakeResult:
        return self

    def mappings(self) -> FakeResult:
        return self

    def unique(self, *args: Any) -> FakeResult:
        return self


class FakeQuery(FakeResult):
    """A legacy ``Query``: chain methods return the query, terminal ones an empty answer."""

    def __init__(self, session: FakeSession, entities: tuple[Any, ...]) -> None:
        self._session = session
        self.entities = entities

    def _chain(self, *args: Any, **kwargs: Any) -> FakeQuery:
        return self

    filter = filter_by = where = order_by = group_by = having = limit = offset = _chain
    join = outerjoin = options = distinct = with_entities = select_from = _chain
    with_for_update = execution_options = params = yield_per = enable_eagerloads = _chain

    def count(self) -> int:
        return 0

    def get(self, ident: Any) -> None:
        return None

    def exists(self) -> FakeQuery:
        return self

    def update(self, values: Any, *args: Any, **kwargs: Any) -> int:
        self._session._write("query.update", (values, *args), kwargs)
        return 0

    def delete(self, *args: Any, **kwargs: Any) -> int:
        self._session._write("query.delete", args, kwargs)
        return 0


class FakeSession:
    """A SQLAlchemy ``Session`` stand-in that records calls and returns nothing.

    ``calls`` lists every call in order (``FakeCall``). Writes (``add``, ``add_all``, ``delete``,
    ``merge``, ``flush``, ``commit``, the ``bulk_*`` methods, ``query(...).update/delete`` and
    ``execute`` of a statement that is not a read) are recorded; with ``block_writes=True`` they
    raise :class:`WriteBlockedError` instead of pretending to succeed. With ``fail=True`` every
    call but ``rollback()`` and ``close()`` (which error handling calls, and which SQLAlchemy does
    not fail on a broken connection) raises a database error.
    """

    def __init__(self, *, fail: bool = False, block_writes: bool = False) -> None:
        self.fail = fail
        self.block_writes = block_writes
        self.calls: list[FakeCall] = []

    # -- what tests look at ----------------------------------------------------------------
    def called(self, name: str) -> list[FakeCall]:
        return [call for call in self.calls if call.name == name]

    @property
    def added(self) -> list[Any]:
        """Objects passed to ``add``/``add_all`` (blocked ones included)."""
        objects: list[Any] = []
        for call in self.calls:
            if call.name == "add":
                objects.append(call.args[0])
            elif call.name == "add_all":
                objects.extend(call.args[0])
        return objects

    @property
    def writes(self) -> list[FakeCall]:
        return [call for call in self.calls if call.write]

    @property
    def committed(self) -> bool:
        return any(call.name == "commit" and not call.blocked for call in self.calls)

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.calls.append(FakeCall(name, args, dict(kwargs)))
        if self.fail:
            raise _database_error(name)

    def _write(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.fail:
            self.calls.append(FakeCall(name, args, dict(kwargs), write=True))
            raise _database_error(name)
        self.calls.append(FakeCall(name, args, dict(kwargs), write=True, blocked=self.block_writes))
        if self.block_writes:
            raise WriteBlockedError(
                f"db.{name}() is blocked: the NetRaven dry run does not write to the database")

    # -- writes ----------------------------------------------------------------------------
    def add(self, instance: Any, _warn: bool = True) -> None:
        self._write("add", (instance,), {})

    def add_all(self, instances: Any) -> None:
        self._write("add_all", (list(instances),), {})

    def delete(self, instance: Any) -> None:
        self._write("delete", (instance,), {})

    def merge(self, instance: Any, **kwargs: Any) -> Any:
        self._write("merge", (instance,), kwargs)
        return instance

    def flush(self, objects: Any = None) -> None:
        self._write("flush", () if objects is None else (objects,), {})

    def commit(self) -> None:
        self._write("commit", (), {})

    def bulk_save_objects(self, objects: Any, *args: Any, **kwargs: Any) -> None:
        self._write("bulk_save_objects", (objects, *args), kwargs)

    def bulk_insert_mappings(self, mapper: Any, mappings: Any, *args: Any, **kwargs: Any) -> None:
        self._write("bulk_insert_mappings", (mapper, mappings, *args), kwargs)

    def bulk_update_mappings(self, mapper: Any, mappings: Any) -> None:
        self._write("bulk_update_mappings", (mapper, mappings), {})

    # -- reads and the rest ----------------------------------------------------------------
    def execute(self, statement: Any, params: Any = None, **kwargs: Any) -> FakeResult:
        args = (statement,) if params is None else (statement, params)
        if is_write_statement(statement):
            self._write("execute", args, kwargs)
        else:
            self._call("execute", args, kwargs)
        return FakeResult()

    def scalar(self, statement: Any, params: Any = None, **kwargs: Any) -> None:
        self._call("scalar", (statement,) if params is None else (statement, params), kwargs)
        return None

    def scalars(self, statement: Any, params: Any = None, **kwargs: Any) -> FakeResult:
        self._call("scalars", (statement,) if params is None else (statement, params), kwargs)
        return FakeResult()

    def get(self, entity: Any, ident: Any, **kwargs: Any) -> None:
        self._call("get", (entity, ident), kwargs)
        return None

    def query(self, *entities: Any, **kwargs: Any) -> FakeQuery:
        self._call("query", entities, kwargs)
        return FakeQuery(self, entities)

    def refresh(self, instance: Any, *args: Any, **kwargs: Any) -> None:
        self._call("refresh", (instance, *args), kwargs)

    def expire(self, instance: Any, *args: Any) -> None:
        self._call("expire", (instance, *args), {})

    def expire_all(self) -> None:
        self._call("expire_all", (), {})

    def expunge(self, instance: Any) -> None:
        self._call("expunge", (instance,), {})

    def begin(self, *args: Any, **kwargs: Any) -> FakeSession:
        self._call("begin", args, kwargs)
        return self

    begin_nested = begin

    def rollback(self) -> None:
        self.calls.append(FakeCall("rollback"))

    def close(self) -> None:
        self.calls.append(FakeCall("close"))

    def __enter__(self) -> FakeSession:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None


# A statement is a read when SQLAlchemy says so, or when its SQL text starts with one of these.
_READ_VERBS: Final = frozenset({"SELECT", "SHOW", "EXPLAIN", "VALUES", "TABLE", "WITH"})
_WRITE_VERBS: Final = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|UPSERT)\b", re.IGNORECASE)
_LEADING: Final = re.compile(r"(?:\s+|--[^\n]*\n?|/\*.*?\*/)*([A-Za-z]*)", re.DOTALL)


def is_write_statement(statement: Any) -> bool:
    """Whether ``execute(statement)`` would change the database. SQLAlchemy constructs say it
    themselves (``is_dml``/``is_ddl``/``is_select``); SQL text is a read when its first keyword is
    SELECT, SHOW, EXPLAIN, VALUES, TABLE or WITH (a WITH without INSERT/UPDATE/DELETE/MERGE);
    anything unknown counts as a write."""
    if isinstance(statement, str):
        text = statement
    else:
        if getattr(statement, "is_dml", False) or getattr(statement, "is_ddl", False):
            return True
        text = getattr(statement, "text", None)
        if not isinstance(text, str):
            return not getattr(statement, "is_select", False)
    match = _LEADING.match(text)
    verb = match.group(1).upper() if match else ""
    if verb not in _READ_VERBS:
        return True
    return verb == "WITH" and _WRITE_VERBS.search(text) is not None


def _database_error(name: str) -> Exception:
    cause = FakeDatabaseError(f"db.{name}() failed: the database is unavailable (simulated)")
    try:
        from sqlalchemy.exc import OperationalError
    except ImportError:  # SQLAlchemy not installed: the plain fake error
        return cause
    return OperationalError(f"db.{name}()", None, cause)


def _no_result() -> Exception:
    try:
        from sqlalchemy.exc import NoResultFound
    except ImportError:
        return LookupError("No row was found when one was required")
    return NoResultFound("No row was found when one was required")
