"""The database goes away in the middle of a run: every row still arrives, exactly once.

PostgreSQL: the dispatcher's backends are terminated with ``pg_terminate_backend`` and the
database refuses new connections. SQLite: another connection holds an exclusive lock. A short
outage is bridged by retries with back-off; a long one sends the rows to the spool, and
``netraven results replay`` writes them once the database is back.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from netraven.db import DatabaseUnavailable, create_db_engine, init_db
from netraven.db.jsonb import JSONText
from netraven.db.models import Device, Job, JobResult
from netraven.worker.dispatcher import SimpleJob, run_job
from netraven.worker.inventory import DeviceInfo, add_device, load_devices
from netraven.worker.outcomes import ResultRow
from netraven.worker.result_store import RetryPolicy, replay_spool
from netraven.worker.spool import Spool

Outage = Any  # tests/worker/conftest.py: PostgresOutage or SQLiteOutage

DEVICES = [f"d{i:02d}" for i in range(1, 13)]
TRIGGER = "d06"


@pytest.fixture
def worker_engine(outage_db: Outage) -> Iterator[Engine]:
    engine = create_db_engine(outage_db.url, sqlite_busy_timeout=0.2)
    init_db(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def devices(worker_engine: Engine) -> list[DeviceInfo]:
    for name in DEVICES:
        add_device(worker_engine, hostname=name, ip_address="127.0.0.1", device_type="linux")
    return load_devices(worker_engine, DEVICES)


def row_count(url: str) -> int:
    engine = create_db_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(select(func.count()).select_from(JobResult)).scalar_one()
    finally:
        engine.dispose()


def rows_per_device(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.execute(
            select(Device.hostname, func.count(JobResult.id))
            .join(JobResult, JobResult.device_id == Device.id).group_by(Device.hostname)).all())


def outage_job(outage: Outage, wait_until: Any, *, stop_after: float | None) -> SimpleJob:
    """A no-op job; on the trigger device it waits until some rows are stored, then takes the
    database away (and schedules its return when ``stop_after`` is given)."""
    def run(device: Any, job_id: int, config: Any, db: Any) -> Any:
        if device.hostname == TRIGGER:
            wait_until(lambda: row_count(outage.url) >= 1, what="a first stored row")
            outage.start()
            if stop_after is not None:
                outage.stop_after(stop_after)
        return {"success": True, "device_id": device.id, "details": {"host": device.hostname}}
    return SimpleJob("outage", run)


def job_status(engine: Engine, job_id: int) -> str:
    with Session(engine) as session:
        return session.get(Job, job_id).status  # type: ignore[union-attr]


def test_a_short_outage_is_bridged_by_retries_and_every_row_arrives_once(
        outage_db: Outage, worker_engine: Engine, devices: list[DeviceInfo],
        tmp_path: Path, wait_until: Any) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    report = run_job(worker_engine, outage_job(outage_db, wait_until, stop_after=2.0), devices, spool=spool,
                     retry=RetryPolicy(seconds=60.0), pool_size=2, timeout=60.0, batch_size=3)

    assert report.spooled == 0 and report.status_recorded
    assert not spool.path.exists()
    assert rows_per_device(worker_engine) == dict.fromkeys(DEVICES, 1)
    assert report.store.stored == len(DEVICES) and report.store.duplicates == 0
    assert job_status(worker_engine, report.job_id) == "success"
    if worker_engine.dialect.name == "postgresql":
        assert outage_db.terminated >= 1  # the writer's pooled connections were killed


def test_a_long_outage_spools_the_rows_and_replay_writes_each_exactly_once(
        outage_db: Outage, worker_engine: Engine, devices: list[DeviceInfo],
        tmp_path: Path, wait_until: Any) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    retry = RetryPolicy(seconds=0.5, probe_interval=0.2)
    report = run_job(worker_engine, outage_job(outage_db, wait_until, stop_after=None), devices, spool=spool,
                     retry=retry, pool_size=2, timeout=60.0, batch_size=3)

    # The database is still down: what was stored before plus what was spooled is every device.
    assert report.spooled >= 1
    assert report.store.stored + report.spooled == len(DEVICES)
    assert not report.status_recorded and not report.complete
    spooled = spool.read()
    assert len(spooled.results) == report.spooled and len(spooled.statuses) == 1
    before = spool.path.read_bytes()

    # Replay while it is still down: refused, spool untouched.
    with pytest.raises(DatabaseUnavailable):
        replay_spool(worker_engine, spool, retry=retry)
    assert spool.path.read_bytes() == before

    outage_db.stop()
    assert rows_per_device(worker_engine).get(TRIGGER, 0) <= 1
    replayed = replay_spool(worker_engine, spool, retry=retry)
    assert replayed.stored == report.spooled and replayed.duplicates == 0
    assert replayed.statuses == 1 and replayed.kept == 0
    assert not spool.path.exists()
    assert rows_per_device(worker_engine) == dict.fromkeys(DEVICES, 1)
    assert job_status(worker_engine, report.job_id) == "success"


def test_replaying_rows_that_already_landed_adds_nothing(
        outage_db: Outage, worker_engine: Engine, devices: list[DeviceInfo],
        tmp_path: Path, wait_until: Any) -> None:
    # A write whose acknowledgement was lost: the rows are in the database AND in the spool.
    spool = Spool(tmp_path / "spool.jsonl")
    job = SimpleJob("outage", lambda d, j, c, db: {"success": True, "device_id": d.id})
    report = run_job(worker_engine, job, devices, spool=spool, retry=RetryPolicy(seconds=5.0))
    with Session(worker_engine) as session:
        stored = list(session.scalars(select(JobResult).order_by(JobResult.id)))
    spool.append_results([ResultRow(r.result_key, r.job_id, r.device_id, r.job_type, r.status,
                                    r.result_time, JSONText.of(r.details)) for r in stored],
                         "acknowledgement lost")
    replayed = replay_spool(worker_engine, spool)
    assert (replayed.stored, replayed.duplicates, replayed.kept) == (0, len(DEVICES), 0)
    assert rows_per_device(worker_engine) == dict.fromkeys(DEVICES, 1)
    assert report.complete


def test_the_cli_replay_reports_a_database_that_is_still_down_and_keeps_the_spool(
        outage_db: Outage, worker_engine: Engine, devices: list[DeviceInfo],
        tmp_path: Path, wait_until: Any) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    report = run_job(worker_engine, outage_job(outage_db, wait_until, stop_after=None), devices, spool=spool,
                     retry=RetryPolicy(seconds=0.3, probe_interval=0.1), pool_size=2,
                     batch_size=2)
    assert report.spooled >= 1
    command = [sys.executable, "-m", "netraven.cli", "--db", outage_db.url, "results", "replay",
               "--spool", str(spool.path), "--db-retry", "0.3"]
    down = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert down.returncode == 3, down.stderr
    assert "Traceback" not in down.stderr
    assert len(spool.read().results) == report.spooled

    outage_db.stop()
    up = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert up.returncode == 0, up.stderr
    assert f"{report.spooled} result(s) stored" in up.stdout
    assert rows_per_device(worker_engine) == dict.fromkeys(DEVICES, 1)
    again = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert again.returncode == 0 and "nothing to replay" in again.stdout
