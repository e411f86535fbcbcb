"""Fault tests: whatever a job does, every device of a run ends with exactly one correct row.

Each test runs the real dispatcher (thread pool, time limits, background writer, real engine) on
SQLite and on PostgreSQL and asserts the stored rows themselves.
"""

from __future__ import annotations

import datetime as dt
import math
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from netraven.db.models import Device, DeviceConfiguration, Job, JobResult
from netraven.worker.dispatcher import Dispatcher, RunReport, SimpleJob, run_job
from netraven.worker.inventory import DeviceInfo
from netraven.worker.result_store import RetryPolicy
from netraven.worker.spool import Spool

UTC = dt.timezone.utc


class Unserializable:
    def __repr__(self) -> str:
        return "<Unserializable>"


def _result(device: Any, **details: Any) -> dict[str, Any]:
    return {"success": True, "device_id": device.id, "details": details}


#: behaviour name -> (what run() does, expected status, expected codes)
FAULTS: dict[str, tuple[Callable[[Any, int], Any], str, list[str]]] = {
    "raises": (lambda d, j: 1 / 0, "failure", ["NRJ030"]),
    "exits": (lambda d, j: sys.exit(3), "failure", ["NRJ030"]),
    "returns-none": (lambda d, j: None, "failure", ["NRJ003"]),
    "returns-bool": (lambda d, j: True, "failure", ["NRJ004"]),
    "success-string": (lambda d, j: {"success": "yes", "device_id": d.id}, "failure", ["NRJ007"]),
    "no-device-id": (lambda d, j: {"success": True}, "failure", ["NRJ006"]),
    "wrong-device-id": (lambda d, j: {"success": True, "device_id": j}, "failure", ["NRJ032"]),
    "nan": (lambda d, j: _result(d, latency=math.nan), "failure", ["NRJ014"]),
    "infinity": (lambda d, j: _result(d, latency=-math.inf), "failure", ["NRJ014"]),
    "nul": (lambda d, j: _result(d, banner="a\u0000b"), "failure", ["NRJ014"]),
    "datetime": (lambda d, j: _result(d, at=dt.datetime.now(UTC)), "failure", ["NRJ014"]),
    "exception-object": (lambda d, j: _result(d, error=ValueError("x")), "failure", ["NRJ014"]),
    "custom-object": (lambda d, j: _result(d, thing=Unserializable()), "failure", ["NRJ014"]),
    "set": (lambda d, j: _result(d, ports={22, 443}), "failure", ["NRJ014"]),
    "int-keys": (lambda d, j: _result(d, ports={22: "open"}), "failure", ["NRJ014"]),
    "reserved-key": (lambda d, j: {"success": True, "device_id": d.id, "status": "x"},
                     "failure", ["NRJ013"]),
}


def _job(behaviour: dict[str, Callable[[Any, int], Any]]) -> SimpleJob:
    """A job whose behaviour is chosen by the device's hostname; "ok-*" devices succeed."""
    def run(device: Any, job_id: int, config: Any, db: Any) -> Any:
        action = behaviour.get(device.hostname)
        if action is None:
            return {"success": True, "device_id": device.id, "details": {"host": device.hostname}}
        return action(device, job_id)
    return SimpleJob("fault", run)


def _run(engine: Engine, job: SimpleJob, devices: list[DeviceInfo], tmp_path: Path,
         **options: Any) -> RunReport:
    options.setdefault("timeout", 10.0)
    options.setdefault("retry", RetryPolicy(seconds=5.0))
    return run_job(engine, job, devices, spool=Spool(tmp_path / "spool.jsonl"), **options)


def stored_rows(engine: Engine) -> dict[str, JobResult]:
    """The rows of job_results by hostname; fails on a second row for a device."""
    rows: dict[str, JobResult] = {}
    with Session(engine) as session:
        for row, hostname in session.execute(
                select(JobResult, Device.hostname).join(Device, Device.id == JobResult.device_id)
                .order_by(JobResult.id)):
            assert hostname not in rows, f"a second row for {hostname}"
            rows[hostname] = row
    return rows


def assert_row(row: JobResult, report: RunReport, device: DeviceInfo, status: str,
               codes: list[str]) -> None:
    assert row.job_id == report.job_id
    assert row.device_id == device.id
    assert row.result_key == f"{report.job_id}:{device.id}"
    assert row.job_type == "fault"
    assert row.status == status
    assert row.result_time.tzinfo is not None
    if status == "failure":
        assert row.details["codes"] == codes
        assert [v["code"] for v in row.details["violations"]] == codes
        assert row.details["error"] == row.details["violations"][0]["message"]
    else:
        assert "codes" not in row.details


def job_status(engine: Engine, job_id: int) -> str:
    with Session(engine) as session:
        return session.get(Job, job_id).status  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_faulty_result_becomes_one_failure_row_and_costs_no_other_device(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path,
        fault: str) -> None:
    action, status, codes = FAULTS[fault]
    devices = add_devices("ok-1", fault, "ok-2")
    report = _run(engine, _job({fault: action}), devices, tmp_path, pool_size=2)

    rows = stored_rows(engine)
    assert sorted(rows) == sorted(d.hostname for d in devices)
    by_name = {d.hostname: d for d in devices}
    assert_row(rows[fault], report, by_name[fault], status, codes)
    for name in ("ok-1", "ok-2"):
        assert_row(rows[name], report, by_name[name], "success", [])
        assert rows[name].details == {"host": name}
    assert report.dispatch.failed == 1 and report.dispatch.succeeded == 2
    assert report.store.stored == 3 and report.spooled == 0
    assert job_status(engine, report.job_id) == "failure"


def test_an_exception_row_names_the_exception_and_where_it_was_raised(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    def boom(device: Any, job_id: int) -> Any:
        raise RuntimeError("cannot parse \u0000 output")

    devices = add_devices("r1")
    _run(engine, _job({"r1": boom}), devices, tmp_path)
    details = stored_rows(engine)["r1"].details
    assert details["codes"] == ["NRJ030"]
    assert details["exception"]["type"] == "RuntimeError"
    assert details["exception"]["message"] == "cannot parse \\x00 output"  # NUL made storable
    assert details["exception"]["traceback"][-1].endswith(" in boom")
    assert details["result_repr"] is None


def test_an_invalid_result_row_carries_a_truncated_repr_of_what_the_job_returned(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    huge = {"success": True, "device_id": -1, "details": {"blob": "x" * 100_000,
                                                          "when": dt.date(2024, 1, 2)}}
    devices = add_devices("r1")
    _run(engine, _job({"r1": lambda d, j: huge}), devices, tmp_path)
    details = stored_rows(engine)["r1"].details
    assert details["codes"] == ["NRJ032", "NRJ014"]
    assert "datetime.date(2024, 1, 2)" in details["result_repr"]
    assert len(details["result_repr"]) <= 2000


def test_a_job_that_reports_failure_itself_is_stored_as_it_reported_it(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    failed = {"success": False, "device_id": None, "details": {"error": "timeout talking to r1"}}
    devices = add_devices("r1")

    def run(device: Any, job_id: int) -> Any:
        return {**failed, "device_id": device.id}

    report = _run(engine, _job({"r1": run}), devices, tmp_path)
    row = stored_rows(engine)["r1"]
    assert row.status == "failure"
    assert row.details == {"error": "timeout talking to r1"}
    assert report.dispatch.failed == 1


def test_ad_hoc_keys_go_into_details_without_nesting_details(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    result = {"success": True, "device_id": 0, "serial": "S1", "details": {"serial": "S2", "n": 1}}
    devices = add_devices("r1")
    report = _run(engine, _job({"r1": lambda d, j: {**result, "device_id": d.id}}), devices,
                  tmp_path)
    row = stored_rows(engine)["r1"]
    assert row.status == "success"
    assert row.details == {"serial": "S2", "n": 1}  # the details value wins
    assert report.dispatch.warnings == Counter({"NRJ012": 1})


def test_a_hung_job_is_abandoned_after_its_time_limit_and_the_run_finishes(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    release = threading.Event()

    def hang(device: Any, job_id: int) -> Any:
        release.wait(120)  # released at the end of the test, so the thread ends
        return {"success": True, "device_id": device.id}

    devices = add_devices("ok-1", "stuck", "ok-2", "ok-3")
    try:
        report = _run(engine, _job({"stuck": hang}), devices, tmp_path, pool_size=2, timeout=1.0)
    finally:
        release.set()
    rows = stored_rows(engine)
    assert sorted(rows) == ["ok-1", "ok-2", "ok-3", "stuck"]
    assert_row(rows["stuck"], report, devices[1], "failure", ["NRJ031"])
    assert rows["stuck"].details["timeout_s"] == 1.0
    assert [rows[n].status for n in ("ok-1", "ok-2", "ok-3")] == ["success"] * 3
    assert report.dispatch.abandoned_threads == 1
    assert job_status(engine, report.job_id) == "failure"


def test_when_every_thread_hangs_the_devices_left_get_a_not_run_row(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    release = threading.Event()
    hang = lambda d, j: release.wait(120)  # noqa: E731
    devices = add_devices("h1", "h2", "h3")
    try:
        report = _run(engine, _job({"h1": hang, "h2": hang, "h3": hang}), devices, tmp_path,
                      pool_size=1, timeout=0.5, max_abandoned=1)
    finally:
        release.set()
    rows = stored_rows(engine)
    assert sorted(rows) == ["h1", "h2", "h3"]
    assert {n: r.details["codes"] for n, r in rows.items()} == {
        "h1": ["NRJ031"], "h2": ["NRJ031"], "h3": ["NRJ031"]}
    assert rows["h3"].details["not_run"] is True
    assert "not_run" not in rows["h1"].details
    assert report.dispatch.failed == 3


def test_every_device_gets_exactly_one_row_when_all_faults_run_together(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    release = threading.Event()
    behaviour = {name: action for name, (action, _s, _c) in FAULTS.items()}
    behaviour["stuck"] = lambda d, j: release.wait(120)
    names = [*FAULTS, "stuck", *(f"ok-{i}" for i in range(20))]
    devices = add_devices(*names)
    try:
        report = _run(engine, _job(behaviour), devices, tmp_path, pool_size=4, timeout=1.0)
    finally:
        release.set()
    rows = stored_rows(engine)
    assert sorted(rows) == sorted(names)
    expected = {name: codes for name, (_a, _s, codes) in FAULTS.items()}
    expected["stuck"] = ["NRJ031"]
    assert {n: rows[n].details["codes"] for n in expected} == expected
    assert all(rows[f"ok-{i}"].status == "success" for i in range(20))
    assert report.dispatch.succeeded == 20 and report.dispatch.failed == len(expected)
    assert report.store.stored == len(names) and report.store.duplicates == 0


def test_each_call_gets_its_own_session_and_what_it_commits_is_stored(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    sessions: list[Session] = []  # kept alive, so no two can share an id()
    lock = threading.Lock()

    def run(device: Any, job_id: int, config: Any, db: Session) -> Any:
        with lock:
            sessions.append(db)
        db.add(DeviceConfiguration(device_id=device.id, config_data=f"hostname {device.hostname}",
                                   data_hash="h", retrieved_at=dt.datetime.now(UTC)))
        db.commit()
        if device.hostname == "r3":
            db.add(DeviceConfiguration(device_id=device.id, config_data="uncommitted",
                                       data_hash="h", retrieved_at=dt.datetime.now(UTC)))
            db.flush()  # never committed: rolled back when the dispatcher closes the session
        return {"success": True, "device_id": device.id}

    devices = add_devices("r1", "r2", "r3", "r4")
    report = _run(engine, SimpleJob("fault", run), devices, tmp_path, pool_size=3)
    assert report.dispatch.succeeded == 4
    assert len({id(session) for session in sessions}) == 4
    assert all(isinstance(session, Session) for session in sessions)
    with Session(engine) as session:
        texts = sorted(session.scalars(select(DeviceConfiguration.config_data)))
    assert texts == ["hostname r1", "hostname r2", "hostname r3", "hostname r4"]


def test_a_job_changing_its_config_does_not_change_another_devices_config(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def run(device: Any, job_id: int, config: Any, db: Any) -> Any:
        seen[device.hostname] = (config["worker"]["thread_pool_size"],
                                 list(config["redaction"]["patterns"]))
        config["worker"]["thread_pool_size"] = 99
        config["redaction"]["patterns"].append("injected")
        return {"success": True, "device_id": device.id}

    devices = add_devices("r1", "r2", "r3")
    configured = {"worker": {"thread_pool_size": 5}, "redaction": {"patterns": ["secret"]}}
    _run(engine, SimpleJob("fault", run), devices, tmp_path, pool_size=1, config=configured)
    assert seen == dict.fromkeys(["r1", "r2", "r3"], (5, ["secret"]))
    assert configured == {"worker": {"thread_pool_size": 5}, "redaction": {"patterns": ["secret"]}}


def test_a_device_deleted_mid_run_costs_no_other_row_and_its_row_is_kept_in_the_spool(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    def run(device: Any, job_id: int, config: Any, db: Session) -> Any:
        if device.hostname == "gone":
            db.execute(delete(Device).where(Device.id == device.id))
            db.commit()
        return {"success": True, "device_id": device.id}

    devices = add_devices("r1", "gone", "r2")
    report = _run(engine, SimpleJob("fault", run), devices, tmp_path, pool_size=1)
    assert sorted(stored_rows(engine)) == ["r1", "r2"]
    assert report.store.spooled == 1
    spooled = Spool(tmp_path / "spool.jsonl").read()
    assert [row.device_id for _line, row in spooled.results] == [devices[1].id]


def test_interrupting_a_run_still_gives_every_device_a_row(
        engine: Engine, add_devices: Callable[..., list[DeviceInfo]], tmp_path: Path) -> None:
    release = threading.Event()
    devices = add_devices("r1", "slow-1", "slow-2", "slow-3")
    slow = lambda d, j: release.wait(120)  # noqa: E731
    calls: list[str] = []

    def interrupt(outcome: Any) -> None:
        calls.append(outcome.hostname)
        raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            _run(engine, _job({"slow-1": slow, "slow-2": slow, "slow-3": slow}), devices,
                 tmp_path, pool_size=2, on_outcome=interrupt)
    finally:
        release.set()
    rows = stored_rows(engine)
    assert sorted(rows) == ["r1", "slow-1", "slow-2", "slow-3"]
    assert rows["r1"].status == "success"
    for name in ("slow-1", "slow-2", "slow-3"):
        assert rows[name].status == "failure"
        assert "interrupted" in rows[name].details["error"]
    job_id = rows["r1"].job_id
    assert job_status(engine, job_id) == "interrupted"


def test_dispatcher_hands_each_device_to_the_sink_exactly_once_without_a_database() -> None:
    devices = [DeviceInfo(i, f"d{i}", "127.0.0.1", "linux") for i in range(1, 201)]
    rows: list[Any] = []
    summary = Dispatcher(pool_size=8, timeout=10).dispatch(
        _job({}), devices, job_id=7, sink=rows.append)
    assert sorted(r.device_id for r in rows) == list(range(1, 201))
    assert summary.succeeded == 200 and summary.failed == 0
