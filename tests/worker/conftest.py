"""Database fixtures for the worker's tests: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``NETRAVEN_TEST_DATABASE_URL`` (CI sets it); without it the PostgreSQL
cases are skipped with that reason. Each test gets a schema of its own (``search_path`` in the
URL), dropped afterwards, so tests are isolated from each other, from their order and from a
parallel run. The outage tests need a database they can switch off: :func:`outage_db` creates a
throwaway database and drops it afterwards.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from netraven.db import create_db_engine, init_db
from netraven.worker.inventory import DeviceInfo, add_device, load_devices

PG_ENV = "NETRAVEN_TEST_DATABASE_URL"
SKIP_REASON = (f"{PG_ENV} is not set; PostgreSQL tests need it "
               "(e.g. postgresql://postgres@127.0.0.1:5432/test; CI sets it)")

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(SKIP_REASON)
    return url


def _psycopg2(url: str):  # the URL as SQLAlchemy's psycopg2 dialect wants it
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    return parsed


def admin_engine(database: str | None = None) -> Engine:
    """An AUTOCOMMIT engine on the test server (for CREATE/DROP SCHEMA/DATABASE)."""
    url = _psycopg2(pg_base_url())
    if database is not None:
        url = url.set(database=database)
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


@dataclass
class Backend:
    name: str        # "sqlite" or "postgresql"
    url: str         # full URL, password included (tests only)
    sqlite_path: Path | None = None


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path / "netraven.db"
        yield Backend("sqlite", f"sqlite:///{path}", path)
        return
    base = pg_base_url()
    schema = f"nrtest_{uuid.uuid4().hex[:12]}"
    admin = admin_engine()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = _psycopg2(base).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield Backend("postgresql", url.render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def make_engine(backend: Backend) -> Iterator[Callable[..., Engine]]:
    """Engines on the test database, schema created; all disposed after the test."""
    engines: list[Engine] = []

    def make(**options: object) -> Engine:
        engine = create_db_engine(backend.url, **options)  # type: ignore[arg-type]
        engines.append(engine)
        init_db(engine)
        return engine

    yield make
    for engine in engines:
        engine.dispose()


@pytest.fixture
def engine(make_engine: Callable[..., Engine]) -> Engine:
    return make_engine()


@pytest.fixture
def add_devices(engine: Engine) -> Callable[..., list[DeviceInfo]]:
    def add(*hostnames: str, ip: str = "127.0.0.1", device_type: str = "linux") -> list[DeviceInfo]:
        for hostname in hostnames:
            add_device(engine, hostname=hostname, ip_address=ip, device_type=device_type)
        return load_devices(engine, hostnames)

    return add


# -- taking the database away ----------------------------------------------------------------


class Outage:
    """Takes a database away and gives it back (see the two implementations below)."""

    url: str

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def stop_after(self, seconds: float) -> threading.Timer:
        timer = threading.Timer(seconds, self.stop)
        timer.daemon = True
        timer.start()
        return timer


class PostgresOutage(Outage):
    """Refuses new connections to a throwaway database and terminates the existing ones
    (``pg_terminate_backend``), the way a restart or a failover looks to the worker."""

    def __init__(self, admin: Engine, database: str, url: str) -> None:
        self.admin = admin
        self.database = database
        self.url = url
        self.terminated = 0

    def start(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS false'))
            self.terminated = connection.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": self.database}
            ).scalar_one()

    def stop(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.database}" ALLOW_CONNECTIONS true'))


class SQLiteOutage(Outage):
    """Holds an exclusive lock from another connection: every reader and writer of the worker
    gets "database is locked" after its busy timeout."""

    def __init__(self, path: Path, url: str) -> None:
        self.path = path
        self.url = url
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock:
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                         check_same_thread=False)
            connection.execute("BEGIN EXCLUSIVE")
            self._connection = connection

    def stop(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.execute("ROLLBACK")
                self._connection.close()
                self._connection = None


@pytest.fixture
def outage_db(backend: Backend, tmp_path: Path) -> Iterator[Outage]:
    """A database of its own that the test can take away (:meth:`Outage.start`)."""
    if backend.name == "sqlite":
        outage = SQLiteOutage(backend.sqlite_path, backend.url)  # type: ignore[arg-type]
        yield outage
        outage.stop()
        return
    name = f"nrtest_outage_{uuid.uuid4().hex[:12]}"
    admin = admin_engine(database="postgres")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = _psycopg2(pg_base_url()).set(database=name).render_as_string(hide_password=False)
    outage = PostgresOutage(admin, name, url)
    try:
        yield outage
    finally:
        outage.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _wait_until(predicate: Callable[[], bool], *, limit: float = 30.0, what: str = "") -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what or predicate}")
        time.sleep(0.02)


@pytest.fixture
def wait_until() -> Callable[..., None]:
    """Poll a predicate until true; fails the test (never hangs it) after ``limit`` seconds."""
    return _wait_until
