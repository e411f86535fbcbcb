"""Engine set-up: which database, how to connect, and what a failure means.

The URL comes from ``--db``, else ``NETRAVEN_DATABASE_URL``, else SQLite ``netraven.db`` in the
working directory (so the worker runs on a fresh machine with nothing else installed). Nothing
here runs at import time: engines are created by :func:`create_db_engine` when a command needs one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Final

from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url

from .jsonb import serialize_json
from .models import Base

DATABASE_URL_ENV: Final = "NETRAVEN_DATABASE_URL"
DEFAULT_DATABASE_FILE: Final = "netraven.db"
#: How long SQLite waits for another connection's lock before reporting "database is locked".
DEFAULT_SQLITE_BUSY_TIMEOUT: Final = 5.0
#: How long PostgreSQL's libpq waits for a TCP connection before giving up.
DEFAULT_CONNECT_TIMEOUT: Final = 5
APPLICATION_NAME: Final = "netraven-worker"
#: Backends with an insert-or-ignore the result writer uses (ON CONFLICT DO NOTHING).
SUPPORTED_BACKENDS: Final = ("sqlite", "postgresql")


class DatabaseError(Exception):
    """A database problem the CLI reports in one line (never with a traceback)."""


class DatabaseURLError(DatabaseError):
    """The URL is not a database URL, or names a backend whose driver is not installed."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached (down, refusing connections, locked for too long)."""


class SchemaMissing(DatabaseError):
    """The database is reachable but has no NetRaven tables: ``netraven db init`` was not run."""


def resolve_database_url(explicit: str | None = None,
                         environ: Mapping[str, str] = os.environ) -> URL:
    """The database URL: ``explicit``, else ``$NETRAVEN_DATABASE_URL``, else ``sqlite:///netraven.db``.

    Raises :class:`DatabaseURLError` for a malformed URL or an unknown backend.
    """
    raw = explicit or environ.get(DATABASE_URL_ENV) or f"sqlite:///{DEFAULT_DATABASE_FILE}"
    try:
        url = make_url(raw)
    except (sa_exc.ArgumentError, ValueError) as exc:
        raise DatabaseURLError(
            f"{_redact_raw(raw)!r} is not a database URL ({exc}); expected for example "
            "sqlite:///netraven.db or postgresql://user@host:5432/netraven"
        ) from None
    if url.drivername in ("postgres", "postgresql"):
        # "postgres" is the old Heroku-style scheme; a bare "postgresql" means psycopg 3 from
        # SQLAlchemy 2.1 on, while this project installs psycopg2-binary.
        url = url.set(drivername="postgresql+psycopg2")
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise DatabaseURLError(
            f"{display_url(url)}: the worker supports sqlite:///FILE and "
            f"postgresql://USER@HOST/DB, not {url.get_backend_name()!r}"
        )
    try:
        url.get_dialect()
    except (sa_exc.NoSuchModuleError, ImportError) as exc:
        raise DatabaseURLError(
            f"cannot use {display_url(url)}: {exc}; supported: sqlite:///FILE and "
            "postgresql://USER@HOST/DB (psycopg2)"
        ) from None
    return url


def display_url(url: URL | str) -> str:
    """The URL as it may be shown to a user: the password masked."""
    if isinstance(url, str):
        try:
            url = make_url(url)
        except (sa_exc.ArgumentError, ValueError):
            return _redact_raw(url)
    return url.render_as_string(hide_password=True)


def _redact_raw(raw: str) -> str:
    # For text that did not even parse as a URL: hide anything between "://user:" and "@".
    scheme, sep, rest = raw.partition("://")
    if sep and "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in credentials else raw
    return raw


def create_db_engine(url: URL | str | None = None, *, pool_size: int = 5,
                     sqlite_busy_timeout: float = DEFAULT_SQLITE_BUSY_TIMEOUT,
                     connect_timeout: int = DEFAULT_CONNECT_TIMEOUT,
                     application_name: str = APPLICATION_NAME, echo: bool = False) -> Engine:
    """An engine for ``url`` (resolved by :func:`resolve_database_url` when a str or None).

    Every JSON column is written through the strict serializer. On SQLite, foreign keys are
    enforced and a locked database is waited for ``sqlite_busy_timeout`` seconds; on PostgreSQL
    connections carry ``application_name`` (so an operator sees the worker in ``pg_stat_activity``)
    and give up after ``connect_timeout`` seconds. ``pool_size`` should cover the dispatcher's
    worker threads plus its writer.
    """
    if not isinstance(url, URL):
        url = resolve_database_url(url)
    kwargs: dict[str, Any] = {
        "json_serializer": serialize_json,
        # A connection killed while idle in the pool (server restart, pg_terminate_backend) is
        # replaced on checkout instead of failing the next statement.
        "pool_pre_ping": True,
        "echo": echo,
    }
    backend = url.get_backend_name()
    if backend == "sqlite":
        kwargs["connect_args"] = {"timeout": sqlite_busy_timeout}
        if url.database not in (None, "", ":memory:"):
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
    elif backend == "postgresql":
        kwargs["connect_args"] = {"application_name": application_name,
                                  "connect_timeout": connect_timeout}
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = pool_size
    engine = create_engine(url, **kwargs)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # SQLite ignores FOREIGN KEY clauses unless each connection asks for them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def init_db(engine: Engine) -> list[str]:
    """Create the tables and indexes that do not exist yet (idempotent); returns the table names."""
    try:
        Base.metadata.create_all(engine, checkfirst=True)
    except sa_exc.SQLAlchemyError as exc:
        raise as_database_error(exc, engine) from exc
    return sorted(Base.metadata.tables)


def ensure_schema(engine: Engine) -> None:
    """Raise :class:`SchemaMissing` when a NetRaven table is missing, :class:`DatabaseUnavailable`
    when the database cannot be reached."""
    try:
        with engine.connect() as connection:
            present = set(inspect(connection).get_table_names())
    except sa_exc.SQLAlchemyError as exc:
        raise as_database_error(exc, engine) from exc
    missing = sorted(set(Base.metadata.tables) - present)
    if missing:
        raise SchemaMissing(
            f"{display_url(engine.url)} has no table {', '.join(missing)}; "
            "run `netraven db init` first"
        )


# SQLite reports both "cannot get the lock now" and "this SQL is wrong" as OperationalError;
# only the first kind goes away by waiting.
_SQLITE_TRANSIENT: Final = ("locked", "busy", "unable to open database", "disk i/o error")


def is_transient(exc: BaseException) -> bool:
    """True when retrying later may succeed: the database is down, restarting, refusing
    connections, or locked. False for errors in the data or the SQL (retrying cannot help)."""
    if isinstance(exc, (sa_exc.TimeoutError, sa_exc.DisconnectionError)):
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.InterfaceError):
        return True
    if isinstance(exc, sa_exc.OperationalError):
        dialect_module = type(exc.orig).__module__ if exc.orig is not None else ""
        if dialect_module.startswith("sqlite3"):
            return any(word in str(exc.orig).lower() for word in _SQLITE_TRANSIENT)
        return True
    return False


def as_database_error(exc: BaseException, engine: Engine | None = None) -> DatabaseError:
    """Translate a SQLAlchemy error into the one-line :class:`DatabaseError` the CLI shows."""
    where = display_url(engine.url) if engine is not None else "the database"
    reason = describe_error(exc)
    if is_transient(exc):
        return DatabaseUnavailable(f"cannot reach {where}: {reason}")
    text = reason.lower()
    if "no such table" in text or ("relation" in text and "does not exist" in text):
        return SchemaMissing(f"{where} has no NetRaven tables ({reason}); run `netraven db init` first")
    return DatabaseError(f"{where}: {reason}")


def describe_error(exc: BaseException) -> str:
    """The driver's own first line of an error, without SQLAlchemy's SQL echo and links."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return first.removeprefix("(psycopg2.OperationalError) ").strip()
