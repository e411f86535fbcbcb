"""The ``netraven`` console script, run as a user runs it: a real subprocess in a working folder.

Covers the README walkthrough (``db init``, a device at 127.0.0.1, ``run reachability --all``,
``results --format json``) on SQLite (the default database) and PostgreSQL, and every documented
exit status, with the rule that no traceback reaches a user.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from netraven.db import create_db_engine, init_db
from netraven.worker.inventory import add_device

Backend = Any  # tests/worker/conftest.py: the `backend` fixture (name, url)

BIN = Path(sys.executable).parent
NETRAVEN = shutil.which("netraven", path=str(BIN))
COMMAND = [NETRAVEN] if NETRAVEN else [sys.executable, "-m", "netraven.cli"]

STALL = '''import time

JOB_META = {"label": "Stall", "description": "Hangs on one device.", "icon": "mdi-sleep", "default_schedule": "daily"}


def run(device, job_id, config, db):
    if device.hostname == "stuck":
        while True:
            time.sleep(1)
    if device.hostname == "bad":
        raise RuntimeError("bad device")
    return {"success": True, "device_id": device.id, "details": {"host": device.hostname}}
'''

BROKEN = '''JOB_META = {"label": "Broken", "description": "Returns None.", "icon": "mdi-bug", "default_schedule": "daily"}


def run(device, job_id, config, db):
    return None
'''

Netraven = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def netraven(tmp_path: Path) -> Netraven:
    """Run the console script in ``tmp_path`` (so the default netraven.db lands there)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("NETRAVEN_DATABASE_URL", "NETRAVEN_SPOOL")}

    def run(*args: str, db: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        full = [*COMMAND, *(("--db", db) if db else ()), *args]
        proc = subprocess.run(full, cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=timeout)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    return run


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections (so reachability has an open port
    whatever ICMP privileges the machine gives)."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nobody listens once the socket is closed


def test_the_readme_walkthrough_stores_a_real_reachability_row(
        netraven: Netraven, backend: Backend, tmp_path: Path, listener: int) -> None:
    db = None if backend.name == "sqlite" else backend.url  # SQLite: the default netraven.db
    config = tmp_path / "worker.json"
    config.write_text(json.dumps({"reachability": {"timeout": 1, "tcp_ports": [listener, 22]}}))

    init = netraven("db", "init", db=db)
    assert init.returncode == 0, init.stderr
    assert netraven("db", "init", db=db).returncode == 0  # idempotent
    if db is None:
        assert (tmp_path / "netraven.db").is_file()
    add = netraven("devices", "add", "--hostname", "lab-router", "--ip", "127.0.0.1",
                   "--type", "linux", db=db)
    assert add.returncode == 0, add.stderr
    assert add.stdout == "added device lab-router (id 1, 127.0.0.1, linux)\n"

    run = netraven("run", "reachability", "--all", "--config", str(config), db=db)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "success  lab-router (id 1)"
    assert run.stdout.splitlines()[1].startswith("reachability run 1 (success): 1 device; ")

    results = netraven("results", "--format", "json", db=db)
    assert results.returncode == 0, results.stderr
    (row,) = json.loads(results.stdout)
    assert set(row) == {"id", "job_id", "device_id", "hostname", "job_type", "status",
                        "result_time", "details"}
    assert (row["job_id"], row["device_id"], row["hostname"], row["job_type"], row["status"]) \
        == (1, 1, "lab-router", "reachability", "success")
    assert dt.datetime.fromisoformat(row["result_time"]).tzinfo is not None
    details = row["details"]
    assert details["reachable"] is True and details["ip_address"] == "127.0.0.1"
    assert details["tcp"][str(listener)]["open"] is True
    assert details["tcp"]["22"]["state"] in ("open", "refused")
    assert set(details["icmp"]) == {"reachable", "method", "rtt_ms", "reason"}
    assert "details" not in details  # never nested

    by_job = netraven("results", "--job", "1", "--format", "json", db=db)
    assert [r["id"] for r in json.loads(by_job.stdout)] == [1]
    assert json.loads(netraven("results", "--job", "2", "--format", "json", db=db).stdout) == []


def test_run_prints_one_line_per_device_exits_1_on_failures_and_abandons_a_hung_job(
        netraven: Netraven, backend: Backend, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "stall.py").write_text(STALL)
    assert netraven("db", "init", db=backend.url).returncode == 0
    for host in ("ok", "stuck", "bad"):
        assert netraven("devices", "add", "--hostname", host, "--ip", "127.0.0.1", "--type",
                        "linux", db=backend.url).returncode == 0

    run = netraven("run", "stall", "--all", "--timeout", "1", "--jobs-dir", str(jobs),
                   db=backend.url, timeout=120)
    assert run.returncode == 1, run.stderr
    lines = sorted(run.stdout.splitlines()[:3])
    assert lines[0].startswith("failure  bad (id 3): NRJ030 run() raised RuntimeError: bad device")
    assert lines[1].startswith("failure  stuck (id 2): NRJ031 run() did not return within 1 s")
    assert lines[2] == "success  ok (id 1)"
    assert run.stdout.splitlines()[3].startswith("stall run 1 (failure): 3 devices; 1 success; "
                                                 "2 failure; codes NRJ030 x1, NRJ031 x1; ")
    rows = json.loads(netraven("results", "--format", "json", db=backend.url).stdout)
    assert sorted((r["hostname"], r["status"], r["details"].get("codes")) for r in rows) == [
        ("bad", "failure", ["NRJ030"]), ("ok", "success", None),
        ("stuck", "failure", ["NRJ031"])]


def test_jobs_list_shows_the_products_jobs(netraven: Netraven) -> None:
    proc = netraven("jobs", "list", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    listing = json.loads(proc.stdout)
    assert [job["job_type"] for job in listing["registered"]] == ["config_backup",
                                                                  "reachability"]
    assert listing["rejected"] == []
    text = netraven("jobs", "list")
    assert text.returncode == 0
    assert "registered job types (2):" in text.stdout and "rejected job modules (0):" in text.stdout


@pytest.fixture
def initialised(tmp_path: Path) -> Iterator[str]:
    """A SQLite database with the schema and one device "r1" (set up in-process: quicker)."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = create_db_engine(url)
    init_db(engine)
    add_device(engine, hostname="r1", ip_address="127.0.0.1", device_type="linux")
    engine.dispose()
    yield url


@pytest.mark.parametrize("args, status, message", [
    (["run", "reachability", "--device", "nope"], 2, "unknown device: nope"),
    (["run", "no_such_job", "--all"], 2, "unknown job type 'no_such_job'; job modules found: "
                                         "config_backup, reachability"),
    (["run", "reachability"], 2, "one of the arguments --device --all is required"),
    (["devices", "add", "--hostname", "r1", "--ip", "127.0.0.1", "--type", "linux"], 2,
     "a device named 'r1' already exists (id 1)"),
    (["devices", "add", "--hostname", "r2", "--ip", "999.1.1.1", "--type", "linux"], 2,
     "'999.1.1.1' is not an IPv4 or IPv6 address"),
    (["run", "reachability", "--all", "--config", "missing.json"], 2,
     "cannot read configuration missing.json"),
    (["run", "reachability", "--all", "--timeout", "0"], 2, "is not a positive number"),
    (["run", "reachability", "--all", "--jobs-dir", "nowhere"], 2, "--jobs-dir nowhere: not a folder"),
    (["results", "replay"], 0, "nothing to replay"),
])
def test_usage_problems_get_one_line_and_status_2(
        netraven: Netraven, initialised: str, args: list[str], status: int, message: str) -> None:
    proc = netraven(*args, db=initialised)
    assert proc.returncode == status, proc.stderr
    assert message in proc.stderr + proc.stdout


def test_a_rejected_job_type_cannot_run_and_exits_1(
        netraven: Netraven, initialised: str, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "broken.py").write_text(BROKEN)
    proc = netraven("run", "broken", "--all", "--jobs-dir", str(jobs), db=initialised)
    assert proc.returncode == 1
    assert "job type 'broken' was rejected by the registry (NRJ003: " in proc.stderr
    listing = netraven("jobs", "list", "--format", "json", "--jobs-dir", str(jobs))
    assert listing.returncode == 1
    (rejected,) = json.loads(listing.stdout)["rejected"]
    assert rejected["module"] == "broken"
    assert {f["code"] for f in rejected["findings"]} == {"NRJ003"}


@pytest.mark.parametrize("args", [["devices", "list"], ["results"], ["run", "reachability", "--all"],
                                  ["db", "init"], ["results", "--format", "json"]])
def test_a_database_that_is_down_is_status_3_without_a_traceback(
        netraven: Netraven, args: list[str]) -> None:
    proc = netraven(*args, db=f"postgresql://postgres@127.0.0.1:{closed_port()}/netraven")
    assert proc.returncode == 3
    assert proc.stderr.startswith("netraven: error: cannot reach postgresql")
    assert len(proc.stderr.splitlines()) == 1


def test_an_uninitialised_database_is_status_3_and_says_to_run_db_init(
        netraven: Netraven, tmp_path: Path) -> None:
    proc = netraven("results", db=f"sqlite:///{tmp_path / 'fresh.db'}")
    assert proc.returncode == 3
    assert "run `netraven db init`" in proc.stderr or "netraven db init" in proc.stderr
    assert not (tmp_path / "fresh.db").exists()  # a mistyped path creates no file


@pytest.mark.parametrize("url", ["not a url", "mysql://u@h/db"])
def test_a_bad_database_url_is_status_2(netraven: Netraven, url: str) -> None:
    proc = netraven("devices", "list", db=url)
    assert proc.returncode == 2
    assert proc.stderr.startswith("netraven: error: ")


def test_global_options_are_accepted_after_the_command(netraven: Netraven, initialised: str) -> None:
    proc = netraven("devices", "list", "--format", "json", "--db", initialised)
    assert proc.returncode == 0, proc.stderr
    assert [d["hostname"] for d in json.loads(proc.stdout)] == ["r1"]
