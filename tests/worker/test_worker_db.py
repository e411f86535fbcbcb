"""The database layer on SQLite and PostgreSQL: schema, strict JSON, time zones, URLs."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from netraven.db import (Base, DatabaseURLError, Device, Job, JobResult, JSONBError, dumps_strict,
                         init_db, resolve_database_url)
from netraven.db.engine import DATABASE_URL_ENV, display_url

UTC = dt.timezone.utc


def _job_and_device(engine: Engine) -> tuple[int, int]:
    with Session(engine) as session:
        device = Device(hostname="r1", ip_address="127.0.0.1", device_type="linux")
        job = Job(name="t", job_type="t", status="running")
        session.add_all([device, job])
        session.commit()
        return job.id, device.id


def test_init_is_idempotent_and_creates_every_table_and_index(engine: Engine) -> None:
    assert init_db(engine) == ["device_configurations", "devices", "job_results", "jobs"]
    assert init_db(engine) == ["device_configurations", "devices", "job_results", "jobs"]
    inspector = inspect(engine)
    assert set(inspector.get_table_names()) == set(Base.metadata.tables)
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("job_results")}
    assert {("job_id",), ("device_id",), ("job_type",), ("status",), ("result_time",)} <= indexed
    unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("job_results")}
    unique |= {tuple(ix["column_names"]) for ix in inspector.get_indexes("job_results")
               if ix.get("unique")}
    assert ("result_key",) in unique
    columns = {c["name"]: c for c in inspector.get_columns("job_results")}
    assert columns["job_type"]["type"].length == 32
    assert columns["status"]["type"].length == 16


def test_details_is_jsonb_on_postgresql_and_json_elsewhere(engine: Engine) -> None:
    columns = {c["name"]: c for c in inspect(engine).get_columns("job_results")}
    expected = "JSONB" if engine.dialect.name == "postgresql" else "JSON"
    assert type(columns["details"]["type"]).__name__ == expected


@pytest.mark.parametrize("value", [
    pytest.param(math.nan, id="nan"),
    pytest.param(math.inf, id="infinity"),
    pytest.param("a\u0000b", id="nul"),
    pytest.param("\ud800", id="lone-surrogate"),
    pytest.param(dt.datetime(2024, 1, 1, tzinfo=UTC), id="datetime"),
    pytest.param(Decimal("1.5"), id="decimal"),
    pytest.param(ValueError("x"), id="exception"),
])
def test_strict_serializer_refuses_on_every_backend_what_postgresql_refuses(
        engine: Engine, value: object) -> None:
    job_id, device_id = _job_and_device(engine)
    with pytest.raises(sa_exc.StatementError) as raised, Session(engine) as session:
        session.add(JobResult(result_key="k", job_id=job_id, device_id=device_id, job_type="t",
                              status="success", result_time=dt.datetime.now(UTC),
                              details={"v": value}))
        session.commit()
    assert isinstance(raised.value.orig, JSONBError)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM job_results")).scalar_one() == 0


def test_result_time_comes_back_timezone_aware_in_utc(engine: Engine) -> None:
    job_id, device_id = _job_and_device(engine)
    written = dt.datetime(2024, 5, 6, 7, 8, 9, 123456,
                          tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with Session(engine) as session:
        session.add(JobResult(result_key="k", job_id=job_id, device_id=device_id, job_type="t",
                              status="success", result_time=written, details={"a": [1, "b"]}))
        session.commit()
    with Session(engine) as session:
        row = session.scalars(select(JobResult)).one()
        assert row.result_time == written
        assert row.result_time.utcoffset() == dt.timedelta(0)
        assert row.details == {"a": [1, "b"]}
        assert row.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(engine: Engine) -> None:
    job_id, device_id = _job_and_device(engine)
    with pytest.raises(sa_exc.StatementError, match="naive datetime"), Session(engine) as session:
        session.add(JobResult(result_key="k", job_id=job_id, device_id=device_id, job_type="t",
                              status="success", result_time=dt.datetime(2024, 1, 1), details={}))
        session.commit()


def test_foreign_keys_are_enforced(engine: Engine) -> None:
    job_id, _ = _job_and_device(engine)
    with pytest.raises(sa_exc.IntegrityError), Session(engine) as session:
        session.add(JobResult(result_key="k", job_id=job_id, device_id=999, job_type="t",
                              status="success", result_time=dt.datetime.now(UTC), details={}))
        session.commit()


def test_dumps_strict_is_compact_and_keeps_unicode() -> None:
    assert dumps_strict({"a": [1, 2.5, None, True], "é": "ü"}) == '{"a":[1,2.5,null,true],"é":"ü"}'
    # an escaped backslash followed by "u0000" is text, not a NUL
    assert dumps_strict({"path": "C:\\u0000"}) == '{"path":"C:\\\\u0000"}'


def test_url_precedence_explicit_then_environment_then_sqlite_default() -> None:
    env = {DATABASE_URL_ENV: "sqlite:///from-env.db"}
    assert str(resolve_database_url("sqlite:///explicit.db", env)) == "sqlite:///explicit.db"
    assert str(resolve_database_url(None, env)) == "sqlite:///from-env.db"
    assert str(resolve_database_url(None, {})) == "sqlite:///netraven.db"


def test_postgresql_urls_use_psycopg2() -> None:
    assert resolve_database_url("postgresql://u@h/db", {}).drivername == "postgresql+psycopg2"
    assert resolve_database_url("postgres://u@h/db", {}).drivername == "postgresql+psycopg2"


@pytest.mark.parametrize("url, message", [
    ("not a url", "is not a database URL"),
    ("mysql://u@h/db", "supports sqlite"),
    ("nosuchdialect://u@h/db", "supports sqlite"),
])
def test_bad_urls_raise_one_clear_error(url: str, message: str) -> None:
    with pytest.raises(DatabaseURLError, match=message):
        resolve_database_url(url, {})


def test_passwords_are_masked_in_displayed_urls() -> None:
    assert display_url("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    assert "secret" not in display_url("postgresql://u:secret@h:notaport/db")
