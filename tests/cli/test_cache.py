"""The findings cache: unchanged files are not analysed again, and nothing stale is ever served."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from netraven_contracts.cache import Cache
from netraven_contracts.config import Settings
from netraven_contracts.runner import Target, check_targets

from tests.sources import META
MISSING_ID = META + 'def run(device, job_id, config, db):\n    return {"success": True, "serial": 1}\n'
FIXED = META + 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n'


def _run(path: Path, cache: Cache, settings: Settings | None = None):
    return check_targets([Target(str(path), "job.py")], settings or Settings(), jobs=1, cache=cache)


def test_second_run_is_served_from_the_cache_with_the_same_findings(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(MISSING_ID)
    first, second = Cache(tmp_path / "c"), Cache(tmp_path / "c")
    a = _run(job, first)
    b = _run(job, second)
    assert (first.hits, first.misses, second.hits) == (0, 1, 1)
    assert [(f.code, f.line, f.message) for f in a.findings] == [(f.code, f.line, f.message) for f in b.findings]
    assert [f.code for f in b.findings] == ["NRJ006", "NRJ012"]


def test_an_edit_is_a_miss(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(MISSING_ID)
    _run(job, Cache(tmp_path / "c"))
    job.write_text(FIXED)
    cache = Cache(tmp_path / "c")
    assert _run(job, cache).findings == [] and cache.hits == 0


def test_select_and_ignore_apply_to_cached_findings(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(MISSING_ID)
    _run(job, Cache(tmp_path / "c"))
    cache = Cache(tmp_path / "c")
    result = _run(job, cache, Settings(ignore=("NRJ012",)))
    assert cache.hits == 1 and [f.code for f in result.findings] == ["NRJ006"]


def test_a_corrupt_entry_is_a_miss_and_is_rewritten(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(MISSING_ID)
    _run(job, Cache(tmp_path / "c"))
    (entry,) = (tmp_path / "c").rglob("*.json")
    entry.write_text('[[1, 2, "NRJ9')
    cache = Cache(tmp_path / "c")
    assert [f.code for f in _run(job, cache).findings] == ["NRJ006", "NRJ012"]
    assert cache.misses == 1 and len(json.loads(entry.read_text())) == 2


def test_an_unwritable_cache_location_does_not_stop_the_check(tmp_path: Path) -> None:
    job = tmp_path / "job.py"
    job.write_text(MISSING_ID)
    (tmp_path / "c").write_text("a file where the cache directory should be")
    cache = Cache(tmp_path / "c")
    assert [f.code for f in _run(job, cache).findings] == ["NRJ006", "NRJ012"]
    assert (tmp_path / "c").read_text().startswith("a file")


def test_concurrent_runs_never_read_half_an_entry(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    for i in range(30):
        (jobs / f"j{i}.py").write_text(MISSING_ID.replace("1}", f"{i}}}"))
    command = [sys.executable, "-m", "netraven_contracts", "check", "--format", "json", "--jobs", "1",
               "--cache-dir", str(tmp_path / "c"), "jobs"]
    procs = [subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [1, 1, 1, 1]
    assert all(json.loads(out) == json.loads(outputs[0][0]) for out, _ in outputs)
    assert len(json.loads(outputs[0][0])) == 60
    assert not list((tmp_path / "c").rglob(".tmp-*"))


def test_no_cache_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.py").write_text(FIXED)
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}
    subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "--no-cache", "jobs"], cwd=tmp_path,
                   env=env, capture_output=True, timeout=60)
    assert not (tmp_path / ".netraven_contracts_cache").exists()
    subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "jobs"], cwd=tmp_path, env=env,
                   capture_output=True, timeout=60)
    assert (tmp_path / ".netraven_contracts_cache" / ".gitignore").read_text().endswith("*\n")
