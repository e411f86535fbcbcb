"""The result writer on its own: insert-or-ignore, row-by-row fallback, refused rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from netraven.db.jsonb import JSONText
from netraven.db.models import JobResult
from netraven.worker.dispatcher import create_job
from netraven.worker.outcomes import ResultRow
from netraven.worker.result_store import ResultStore
from netraven.worker.spool import Spool

WHEN = dt.datetime(2024, 3, 4, 5, 6, 7, 890000, tzinfo=dt.timezone(dt.timedelta(hours=-5)))


def make_row(job_id: int, device_id: int, details: JSONText | None = None) -> ResultRow:
    return ResultRow(f"{job_id}:{device_id}", job_id, device_id, "t", "success", WHEN,
                     details or JSONText.of({"device": device_id}))


def test_writing_the_same_rows_twice_stores_them_once(engine: Engine, add_devices: Any,
                                                      tmp_path: Any) -> None:
    devices = add_devices("r1", "r2", "r3")
    job_id = create_job(engine, "t")
    rows = [make_row(job_id, d.id) for d in devices]
    store = ResultStore(engine, spool=Spool(tmp_path / "s.jsonl"), batch_size=2)
    first = store.store(rows)
    again = store.store(rows)
    assert (first.stored, first.duplicates, first.batches) == (3, 0, 2)
    assert (again.stored, again.duplicates) == (0, 3)
    with Session(engine) as session:
        stored = session.scalars(select(JobResult).order_by(JobResult.id)).all()
    assert [(r.result_key, r.details, r.result_time) for r in stored] == [
        (f"{job_id}:{d.id}", {"device": d.id}, WHEN) for d in devices]


def test_rows_written_by_the_store_match_rows_written_by_the_orm(
        engine: Engine, add_devices: Any, tmp_path: Any) -> None:
    (r1, r2) = add_devices("r1", "r2")
    job_id = create_job(engine, "t")
    ResultStore(engine, spool=None).store([make_row(job_id, r1.id)])
    with Session(engine) as session:
        session.add(JobResult(result_key=f"{job_id}:{r2.id}", job_id=job_id, device_id=r2.id,
                              job_type="t", status="success", result_time=WHEN,
                              details={"device": r2.id}))
        session.commit()
    with engine.connect() as connection:
        raw = connection.execute(text(
            "SELECT result_time, details FROM job_results ORDER BY id")).all()
    if engine.dialect.name == "sqlite":  # the same text format, so ordering and filters agree
        assert raw[0][0] == raw[1][0] == "2024-03-04 10:06:07.890000"
    else:
        assert raw[0][0] == raw[1][0] == WHEN


def test_a_row_postgresql_refuses_becomes_a_failure_row_and_costs_no_other(
        engine: Engine, add_devices: Any, tmp_path: Any) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL refuses \\u0000 inside JSONB (the strict serializer keeps "
                    "it from SQLite too; this row bypasses the serializer on purpose)")
    devices = add_devices("r1", "r2", "r3")
    job_id = create_job(engine, "t")
    bad = JSONText('{"banner": "a\\u0000b"}')
    rows = [make_row(job_id, devices[0].id), make_row(job_id, devices[1].id, bad),
            make_row(job_id, devices[2].id)]
    report = ResultStore(engine, spool=Spool(tmp_path / "s.jsonl")).store(rows)
    assert (report.stored, report.substituted, report.spooled) == (2, 1, 0)
    with Session(engine) as session:
        stored = {r.device_id: r for r in session.scalars(select(JobResult))}
    assert stored[devices[0].id].status == stored[devices[2].id].status == "success"
    refused = stored[devices[1].id]
    assert refused.status == "failure"
    assert refused.details["codes"] == ["NRJ014"]
    assert refused.details["refused_status"] == "success"
    assert refused.details["error"].startswith("the database refused this result: ")
    assert refused.details["result_repr"] == '{"banner": "a\\u0000b"}'
