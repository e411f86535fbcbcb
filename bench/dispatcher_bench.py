"""Dispatcher benchmark: a no-op job over many fake devices, results stored per second.

For each backend (SQLite in a temporary file; PostgreSQL when a URL is given) it measures

* **dispatcher**: ``run_job`` end to end (Job row, thread pool, validation, normalization, strict
  serialization, batched insert-or-ignore, final status) over ``--devices`` devices;
* **baseline**: the same rows written the way NetRaven's worker writes them, one ``Session.add`` +
  ``commit`` per row (over ``--baseline-rows`` rows: it is slow);

and, without any database, the dispatcher's **overhead per device**: ``Dispatcher.dispatch`` of
the no-op job into a list (validation, normalization, serialization and thread hand-offs
included; the no-op call itself subtracted).

Usage::

    python bench/dispatcher_bench.py [--devices 10000] [--baseline-rows 2000] [--pool-size 8]
                                     [--postgres URL] [--repeat 3]

``--postgres`` defaults to ``$NETRAVEN_TEST_DATABASE_URL``; tables go into a temporary schema that
is dropped afterwards. Prints a Markdown table. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from netraven.config import default_config
from netraven.db import Device, Job, JobResult, create_db_engine, init_db, result_key
from netraven.worker.dispatcher import Dispatcher, SimpleJob, run_job
from netraven.worker.inventory import DeviceInfo, load_devices
from netraven.worker.result_store import RetryPolicy
from netraven.worker.spool import Spool


def noop(device: Any, job_id: int, config: Any, db: Any) -> dict[str, Any]:
    return {"success": True, "device_id": device.id, "details": {"checked": True}}


NOOP = SimpleJob("noop", noop)


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="netraven-bench-") as folder:
        yield f"sqlite:///{Path(folder) / 'bench.db'}"


@contextmanager
def postgres_url(base: str) -> Iterator[str]:
    url = make_url(base)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg2")
    schema = f"nrbench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fresh_engine(url: str, devices: int, pool_size: int) -> tuple[Engine, list[DeviceInfo]]:
    engine = create_db_engine(url, pool_size=pool_size + 2)
    with engine.begin() as connection:
        for table in ("job_results", "device_configurations", "jobs", "devices"):
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    init_db(engine)
    with engine.begin() as connection:
        connection.execute(insert(Device), [
            {"hostname": f"bench-{i:05d}", "ip_address": "127.0.0.1", "device_type": "linux",
             "port": 22} for i in range(devices)])
    return engine, load_devices(engine)


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_dispatcher(url: str, devices: int, pool_size: int, spool: Path) -> float:
    engine, infos = fresh_engine(url, devices, pool_size)
    try:
        def run() -> None:
            report = run_job(engine, NOOP, infos, config=default_config(), pool_size=pool_size,
                             timeout=60, spool=Spool(spool), retry=RetryPolicy(seconds=30))
            assert report.store.stored == devices and report.complete, report
        return devices / timed(run)
    finally:
        engine.dispose()


def bench_baseline(url: str, rows: int) -> float:
    """NetRaven's way: one ORM add + commit per result row."""
    engine, infos = fresh_engine(url, rows, 1)
    try:
        with Session(engine) as session:
            job = Job(name="baseline", job_type="noop", status="running")
            session.add(job)
            session.commit()
            job_id = job.id

        def run() -> None:
            with Session(engine) as session:
                for device in infos:
                    session.add(JobResult(
                        result_key=result_key(job_id, device.id), job_id=job_id,
                        device_id=device.id, job_type="noop", status="success",
                        result_time=datetime.now(timezone.utc), details={"checked": True}))
                    session.commit()
        return rows / timed(run)
    finally:
        engine.dispose()


def bench_overhead(devices: int, pool_size: int) -> tuple[float, float]:
    """Seconds per device of dispatch into a list, and of calling the no-op job alone."""
    infos = [DeviceInfo(i, f"d{i}", "127.0.0.1", "linux") for i in range(1, devices + 1)]
    sink: list[Any] = []
    dispatcher = Dispatcher(pool_size=pool_size, timeout=60, config=default_config())
    dispatch = timed(lambda: dispatcher.dispatch(NOOP, infos, job_id=1, sink=sink.append))
    assert len(sink) == devices
    bare = timed(lambda: [noop(d, 1, {}, None) for d in infos])
    return dispatch / devices, bare / devices


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--pool-size", type=int, default=5, help="worker threads (default: "
                        "worker.thread_pool_size, 5)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown")
    parser.add_argument("--postgres", default=os.environ.get("NETRAVEN_TEST_DATABASE_URL"),
                        help="PostgreSQL URL (default: $NETRAVEN_TEST_DATABASE_URL)")
    args = parser.parse_args(argv)

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores, devices={args.devices}, "
          f"baseline rows={args.baseline_rows}, pool={args.pool_size}, "
          f"median of {args.repeat}\n")
    print("| backend | dispatcher, rows/s (range) | one commit per row, rows/s (range) | "
          "speed-up (medians) |")
    print("|---|---:|---:|---:|")
    backends: list[tuple[str, Callable[[], Any]]] = [("SQLite", sqlite_url)]
    if args.postgres:
        backends.append(("PostgreSQL", lambda: postgres_url(args.postgres)))
    with tempfile.TemporaryDirectory(prefix="netraven-bench-spool-") as spool_dir:
        spool = Path(spool_dir) / "spool.jsonl"
        for name, make_url_context in backends:
            with make_url_context() as url:
                # Interleaved, so a burst of load on a shared machine hits both sides alike.
                fast_runs, slow_runs = [], []
                for _ in range(args.repeat):
                    fast_runs.append(bench_dispatcher(url, args.devices, args.pool_size, spool))
                    slow_runs.append(bench_baseline(url, args.baseline_rows))
            fast, slow = statistics.median(fast_runs), statistics.median(slow_runs)
            print(f"| {name} | {fast:,.0f} ({min(fast_runs):,.0f}-{max(fast_runs):,.0f}) | "
                  f"{slow:,.0f} ({min(slow_runs):,.0f}-{max(slow_runs):,.0f}) | "
                  f"{fast / slow:.1f}x |")
    print()
    for pool in sorted({1, args.pool_size}):
        runs = [bench_overhead(args.devices, pool) for _ in range(args.repeat)]
        per_device, bare = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"dispatcher overhead per device, pool of {pool} (no database, best of "
              f"{args.repeat}): {(per_device - bare) * 1e6:.0f} µs "
              f"(the no-op call itself: {bare * 1e6:.1f} µs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
