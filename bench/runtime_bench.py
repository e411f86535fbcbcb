"""Benchmark of the runtime checks: validate_result / normalize_result per result, and the dry run's
cost per job module for each way of starting its process.

    python bench/runtime_bench.py            # prints a Markdown table for docs/benchmarks.md
    python bench/runtime_bench.py --quick    # fewer repetitions

Not a test: nothing here asserts a time. Numbers are the median of several repeats (min in
brackets), on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import datetime
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netraven_contracts import contract  # noqa: E402
from netraven_contracts.runtime import dry_run, normalize_result, validate_result  # noqa: E402
from netraven_contracts.runtime import child, zygote  # noqa: E402
from netraven_contracts.runtime.dryrun import DEFAULT_SCENARIOS, _HEADER  # noqa: E402

JOB = '''JOB_META = {"label": "B", "description": "B.", "icon": "mdi-cog", "default_schedule": "daily"}


def run(device, job_id, config, db):
    return {"success": True, "device_id": device.id, "details": {"hostname": device.hostname}}
'''


def typical_result(keys: int) -> dict[str, object]:
    """A result like NetRaven's jobs return: interface names, counters, a few nested values."""
    values: list[object] = [
        "GigabitEthernet1/0/1", 1500, 0.25, True, None, "up", 10_000_000_000, "C9300-24T",
        ["22", "443"], {"icmp": True, "rtt_ms": 1.25}, "17.9.4a", 3, "läuft", False,
        datetime.datetime(2024, 1, 1).isoformat(), 42.0,
    ]
    details = {f"field_{n}": values[n % len(values)] for n in range(keys)}
    return {"success": True, "device_id": 101, "details": details}


def per_call(function, number: int, repeat: int) -> tuple[float, float]:
    times = [t / number for t in timeit.repeat(function, number=number, repeat=repeat)]
    return statistics.median(times), min(times)


def _mp_child(request: dict, writer, output_path: str) -> None:
    output_fd = os.open(output_path, os.O_RDWR | os.O_APPEND | os.O_CREAT)
    try:
        child.main(request, writer.fileno(), output_fd)
    finally:
        os._exit(0)


def _read_until_done(fd: int) -> None:
    buffer = b""
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError("the job process ended early")
        buffer += chunk
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if len(buffer) < _HEADER.size + size:
                break
            frame = buffer[_HEADER.size:_HEADER.size + size]
            buffer = buffer[_HEADER.size + size:]
            if frame.startswith(b'["done"'):
                return


def multiprocessing_dry_run(method: str, path: Path, request: dict) -> float:
    """The same job process code, started by multiprocessing instead of the process server."""
    context = multiprocessing.get_context(method)
    reader, writer = context.Pipe(duplex=False)
    with tempfile.NamedTemporaryFile() as output:
        started = time.perf_counter()
        process = context.Process(target=_mp_child, args=(request, writer, output.name))
        process.start()
        writer.close()
        _read_until_done(reader.fileno())
        process.join()
        elapsed = time.perf_counter() - started
    reader.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeat = 3 if args.quick else 7
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores\n")

    print("| result | validate_result | normalize_result |")
    print("|---|---|---|")
    for keys in (10, 20, 30):
        result = typical_result(keys)
        number = 2000 if args.quick else 10000
        v_med, v_min = per_call(lambda: validate_result(result, device_id=101), number, repeat)
        n_med, n_min = per_call(lambda: normalize_result(result, device_id=101), number, repeat)
        print(f"| {keys} keys in details | {v_med * 1e6:.1f} µs ({v_min * 1e6:.1f}) "
              f"| {n_med * 1e6:.1f} µs ({n_min * 1e6:.1f}) |")
    big = typical_result(20)
    big["details"]["config"] = "interface x\n description y\n" * 20000  # ~700 KiB of running config
    b_med, b_min = per_call(lambda: validate_result(big), 20, repeat)
    print(f"| 20 keys + a 700 KiB config text | {b_med * 1e3:.2f} ms ({b_min * 1e3:.2f}) | |")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench_job.py"
        path.write_text(JOB, encoding="utf-8")
        print("\n| dry run of one module (3 scenarios) | first call | each further module |")
        print("|---|---|---|")
        started = time.perf_counter()
        dry_run(path)
        first = time.perf_counter() - started
        further = [timed(lambda: dry_run(path)) for _ in range(repeat * 3)]
        print(f"| process server (default: forks a preloaded, single-threaded server) "
              f"| {first:.3f} s | {statistics.median(further) * 1e3:.1f} ms ({min(further) * 1e3:.1f}) |")
        request = {
            "path": str(path), "cwd": os.getcwd(), "sys_path": list(sys.path), "timeout": 5.0,
            "scenarios": [[s.name, s.optional_device_attributes, s.database_fails] for s in DEFAULT_SCENARIOS],
            "isolate_network": True, "max_details_bytes": contract.DEFAULT_MAX_DETAILS_BYTES,
            "max_depth": contract.DEFAULT_MAX_DETAILS_DEPTH,
        }
        for method in ("fork", "forkserver", "spawn"):
            first = multiprocessing_dry_run(method, path, request)
            further = [multiprocessing_dry_run(method, path, request) for _ in range(repeat)]
            print(f"| multiprocessing {method} | {first:.3f} s | "
                  f"{statistics.median(further) * 1e3:.1f} ms ({min(further) * 1e3:.1f}) |")
    zygote.get().close()


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
