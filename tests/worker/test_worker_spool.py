"""The spool file and its replay, and the rule that importing the worker does nothing."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from netraven.db.jsonb import JSONText
from netraven.db.models import Job, JobResult
from netraven.worker.dispatcher import create_job
from netraven.worker.outcomes import ResultRow
from netraven.worker.result_store import replay_spool
from netraven.worker.spool import Spool

WHEN = dt.datetime(2024, 3, 4, 5, 6, 7, 890000, tzinfo=dt.timezone.utc)


def row(job_id: int, device_id: int, **details: Any) -> ResultRow:
    return ResultRow(f"{job_id}:{device_id}", job_id, device_id, "t", "success", WHEN,
                     JSONText.of(details))


def test_records_round_trip_one_ascii_line_each(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.jsonl")
    rows = [row(1, 2, text="line\u2028separator é"), row(1, 3)]
    spool.append_results(rows, "database down")
    spool.append_job_status(1, "success", WHEN)
    raw = spool.path.read_bytes()
    assert raw.isascii() and raw.count(b"\n") == 3
    contents = spool.read()
    assert [r for _line, r in contents.results] == rows
    assert [(s.job_id, s.status, s.completed_at) for _l, s in contents.statuses] == [
        (1, "success", WHEN)]
    assert contents.bad_lines == []
    first = json.loads(raw.splitlines()[0])
    assert (first["v"], first["kind"], first["reason"]) == (1, "result", "database down")


def test_unreadable_lines_are_kept_and_reported_while_the_rest_is_replayed(
        engine: Engine, add_devices: Any, tmp_path: Path) -> None:
    (device,) = add_devices("r1")
    job_id = create_job(engine, "t")
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append_results([row(job_id, device.id, ok=True)], "down")
    with open(spool.path, "a") as handle:
        handle.write('{"v": 1, "kind": "result", "row": {"job_id": "x"}\n')  # truncated write
        handle.write('{"v": 99, "kind": "result"}\n')
    spool.append_job_status(job_id, "success", WHEN)

    report = replay_spool(engine, spool)
    assert (report.stored, report.statuses, report.kept) == (1, 1, 2)
    assert len(report.problems) == 2 and all("unreadable record kept" in p for p in report.problems)
    kept = spool.path.read_text().splitlines()
    assert kept == ['{"v": 1, "kind": "result", "row": {"job_id": "x"}',
                    '{"v": 99, "kind": "result"}']
    with Session(engine) as session:
        assert session.scalars(select(JobResult.details)).all() == [{"ok": True}]
        assert session.get(Job, job_id).status == "success"  # type: ignore[union-attr]
        assert session.get(Job, job_id).completed_at == WHEN  # type: ignore[union-attr]


def test_a_record_the_database_refuses_for_good_stays_in_the_spool(
        engine: Engine, add_devices: Any, tmp_path: Path) -> None:
    (device,) = add_devices("r1")
    job_id = create_job(engine, "t")
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append_results([row(job_id, device.id), row(job_id, 424242)], "down")  # no device 424242
    report = replay_spool(engine, spool)
    assert (report.stored, report.kept) == (1, 1)
    (_line, kept), = spool.read().results
    assert kept.device_id == 424242


def test_a_replay_that_empties_the_spool_removes_the_file(
        engine: Engine, add_devices: Any, tmp_path: Path) -> None:
    (device,) = add_devices("r1")
    job_id = create_job(engine, "t")
    spool = Spool(tmp_path / "spool.jsonl")
    spool.append_results([row(job_id, device.id)], "down")
    assert replay_spool(engine, spool).kept == 0
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("spool")] == []


IMPORT_CHECK = """
import gc, json, logging, os, sys, threading
import netraven, netraven.cli, netraven.config, netraven.db
import netraven.worker.dispatcher, netraven.worker.job_registry, netraven.worker.result_store
import netraven.worker.spool, netraven.worker.inventory, netraven.worker.outcomes
import netraven.worker.drivers.icmp, netraven.worker.drivers.ssh
import netraven.worker.jobs.config_backup, netraven.worker.jobs.reachability
from sqlalchemy.engine import Engine
print(json.dumps({
    "handlers": len(logging.getLogger().handlers),
    "threads": threading.active_count(),
    "files": sorted(os.listdir(".")),
    "engines": sum(isinstance(o, Engine) for o in gc.get_objects()),
    "job_modules_loaded": sorted(m for m in sys.modules if m.startswith("_netraven_job_")),
    "netmiko": "netmiko" in sys.modules,
    "dry_run_server": "netraven_contracts.runtime.zygote" in sys.modules,
}))
"""


def test_importing_every_module_of_the_worker_does_nothing(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", IMPORT_CHECK], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"handlers": 0, "threads": 1, "files": [], "engines": 0,
                                       "job_modules_loaded": [], "netmiko": False,
                                       "dry_run_server": False}
