"""dry_run: the job runs in a sandboxed process of its own; every violation is reported, the caller survives."""

from __future__ import annotations

import json
import re
import socket
import textwrap
import threading
from pathlib import Path

import pytest

from netraven_contracts.rules import RULES, Phase
from netraven_contracts.runtime import DEFAULT_SCENARIOS, Outcome, Scenario, dry_run
from netraven_contracts.runtime.sandbox import ISOLATION_NAMESPACE

META = 'JOB_META = {"label": "T", "description": "T.", "icon": "mdi-cog", "default_schedule": "daily"}\n\n'
CORPUS = Path(__file__).parent.parent / "data" / "corpus" / "runtime"
CORPUS_FILES = sorted(CORPUS.glob("*.py"))
RUNTIME_RULES = [rule for rule in RULES.values() if rule.phase is Phase.RUNTIME]


def job(tmp_path: Path, body: str, name: str = "job.py") -> Path:
    path = tmp_path / name
    path.write_text(META + textwrap.dedent(body), encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), 1) if needle in text)


def codes(report) -> set[str]:
    return {v.code for v in report.violations}


def header(path: Path) -> tuple[set[str], str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    expected = lines[0].removeprefix("# dry-run:").split()
    registry = lines[1].removeprefix("# registry:").strip()
    return (set() if expected == ["clean"] else set(expected)), registry


# -- the handed corpus -------------------------------------------------------------------------
@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.stem for p in CORPUS_FILES])
def test_corpus_module_reports_exactly_the_codes_of_its_header(path: Path) -> None:
    expected, registry = header(path)
    report = dry_run(path, timeout=1.5)
    assert codes(report) == expected
    assert report.ok is (registry == "accept")


# -- the catalogue's examples --------------------------------------------------------------------
@pytest.mark.parametrize("rule", RUNTIME_RULES, ids=[r.code for r in RUNTIME_RULES])
def test_runtime_bad_example_produces_exactly_its_code(rule, tmp_path: Path) -> None:
    path = tmp_path / "bad.py"
    path.write_text(rule.example_module("bad"), encoding="utf-8")
    assert codes(dry_run(path, timeout=1.0)) == {rule.code}


@pytest.mark.parametrize("rule", RUNTIME_RULES, ids=[r.code for r in RUNTIME_RULES])
def test_runtime_good_example_produces_nothing(rule, tmp_path: Path) -> None:
    path = tmp_path / "good.py"
    path.write_text(rule.example_module("good"), encoding="utf-8")
    report = dry_run(path, timeout=2.0)
    assert report.violations == ()
    assert [s.outcome for s in report.scenarios] == [Outcome.RETURNED] * 3


# -- jobs that hang, exit or crash ---------------------------------------------------------------
def test_job_that_sleeps_forever_is_nrj031_at_the_line_it_hung(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        import time

        def run(device, job_id, config, db):
            while True:
                time.sleep(0.05)
        """)
    report = dry_run(path, timeout=0.5)
    [violation] = report.violations
    assert (violation.code, violation.line) == ("NRJ031", line_of(path, "time.sleep(0.05)"))
    assert violation.message.startswith("run() did not return within 0.5 s in dry-run scenario 'happy-path'")
    assert [s.outcome for s in report.scenarios] == [Outcome.TIMED_OUT, Outcome.NOT_RUN, Outcome.NOT_RUN]


def test_os_exit_is_nrj030_with_its_status_and_line(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        import os

        def run(device, job_id, config, db):
            os._exit(3)
        """)
    report = dry_run(path, timeout=2)
    [violation] = report.violations
    assert (violation.code, violation.line) == ("NRJ030", line_of(path, "os._exit(3)"))
    assert "run() ended the process with os._exit(3) at line" in violation.message
    assert report.scenarios[0].outcome is Outcome.CRASHED


def test_segfault_is_nrj030_with_the_signal_and_line_and_the_caller_goes_on(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        import ctypes

        def run(device, job_id, config, db):
            return {"success": True, "device_id": device.id, "details": {"x": ctypes.string_at(0)}}
        """)
    report = dry_run(path, timeout=2)
    [violation] = report.violations
    assert (violation.code, violation.line) == ("NRJ030", line_of(path, "string_at(0)"))
    assert "crashed the process: killed by SIGSEGV (segmentation fault)" in violation.message
    assert "Fatal Python error: Segmentation fault" in report.crash_output
    # The caller is alive and the next dry run works.
    ok = job(tmp_path, 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n',
             name="ok.py")
    assert dry_run(ok).violations == ()


def test_sys_exit_in_run_is_nrj030(tmp_path: Path) -> None:
    path = job(tmp_path, "import sys\n\ndef run(device, job_id, config, db):\n    sys.exit(2)\n")
    report = dry_run(path, scenarios=["happy-path"])
    [violation] = report.violations
    assert violation.code == "NRJ030" and "called sys.exit(2) at line" in violation.message


def test_threads_left_running_do_not_keep_the_dry_run_alive(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        import threading, time

        def run(device, job_id, config, db):
            threading.Thread(target=time.sleep, args=(3600,)).start()
            return {"success": True, "device_id": device.id}
        """)
    report = dry_run(path, timeout=2)
    assert report.violations == () and report.duration < 2


def test_import_that_hangs_is_nrj034(tmp_path: Path) -> None:
    path = job(tmp_path, "import time\ntime.sleep(60)\n\ndef run(device, job_id, config, db):\n    return {}\n")
    [violation] = dry_run(path, timeout=0.5).violations
    assert violation.code == "NRJ034"
    assert "the import did not finish within 0.5 s at line" in violation.message


# -- nothing leaves the machine ------------------------------------------------------------------
NETWORK_JOB = """\
    import json, os, socket, subprocess

    def run(device, job_id, config, db):
        attempts = {{}}
        actions = {{
            "create_connection": lambda: socket.create_connection(("127.0.0.1", {tcp}), timeout=1),
            "connect": lambda: socket.socket().connect(("127.0.0.1", {tcp})),
            "connect_ex": lambda: socket.socket().connect_ex(("127.0.0.1", {tcp})),
            "sendto": lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", {udp})),
            "getaddrinfo": lambda: socket.getaddrinfo("example.com", 443),
            "gethostbyname": lambda: socket.gethostbyname("localhost"),
            "ping": lambda: subprocess.run(["ping", "-c", "1", "127.0.0.1"], capture_output=True),
            "popen": lambda: subprocess.run(["touch", {marker!r}]),
            "system": lambda: os.system("touch " + {marker!r}),
            "spawn": lambda: os.spawnlp(os.P_WAIT, "touch", "touch", {marker!r}),
            "fork": os.fork,
        }}
        for name, action in actions.items():
            try:
                attempts[name] = repr(action())
            except OSError as exc:
                attempts[name] = type(exc).__name__
        print(json.dumps(attempts))
        return {{"success": False, "device_id": device.id, "details": attempts}}
    """

EXPECTED_ATTEMPTS = {
    "create_connection": "BlockedConnectionError", "connect": "BlockedConnectionError", "connect_ex": "111",
    "sendto": "BlockedConnectionError", "getaddrinfo": "BlockedLookupError",
    "gethostbyname": "BlockedLookupError", "ping": "BlockedProcessError", "popen": "BlockedProcessError",
    "system": "BlockedProcessError", "spawn": "BlockedProcessError", "fork": "BlockedProcessError",
}


@pytest.fixture
def listeners():
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen()
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    yield tcp, udp
    tcp.close()
    udp.close()


def assert_nothing_arrived(tcp: socket.socket, udp: socket.socket, marker: Path) -> None:
    with pytest.raises(BlockingIOError):
        tcp.accept()
    with pytest.raises(BlockingIOError):
        udp.recvfrom(16)
    assert not marker.exists()


@pytest.mark.parametrize("isolate_network", [True, False], ids=["namespace+hook", "hook-only"])
def test_no_packet_leaves_and_no_process_starts(tmp_path: Path, listeners, isolate_network: bool) -> None:
    tcp, udp = listeners
    marker = tmp_path / "a-process-ran"
    path = job(tmp_path, NETWORK_JOB.format(tcp=tcp.getsockname()[1], udp=udp.getsockname()[1],
                                            marker=str(marker)))
    report = dry_run(path, scenarios=["happy-path"], isolate_network=isolate_network)
    assert_nothing_arrived(tcp, udp, marker)
    assert json.loads(report.scenarios[0].output) == EXPECTED_ATTEMPTS
    port = tcp.getsockname()[1]
    whats = [re.sub(r"^during the dry run, run\(\) tried to (.*); the sandbox.*$", r"\1", v.message)
             for v in report.violations]
    assert whats == [
        *[f"connect to 127.0.0.1:{port}"] * 3,  # create_connection, connect, connect_ex
        f"send a datagram to 127.0.0.1:{udp.getsockname()[1]}",
        "resolve the host name 'example.com'", "resolve the host name 'localhost'",
        "start the process 'ping -c 1 127.0.0.1'", f"start the process 'touch {marker}'",
        f"run the shell command 'touch {marker}'",
        "fork the process",  # os.spawn* forks on POSIX
        "fork the process",
    ]
    assert {v.code for v in report.violations} == {"NRJ033"}
    assert [v.line for v in report.violations] == [
        line_of(path, f'"{name}": ') for name in EXPECTED_ATTEMPTS if name != "fork"] + [
        line_of(path, "repr(action())")]  # os.fork itself is called from run()
    assert report.isolation == (ISOLATION_NAMESPACE if isolate_network else "audit hook")


def test_the_namespace_stops_native_code_that_bypasses_python(tmp_path: Path, listeners) -> None:
    tcp, udp = listeners
    path = job(tmp_path, f"""\
        import ctypes, socket, struct

        def run(device, job_id, config, db):
            libc = ctypes.CDLL(None, use_errno=True)
            fd = libc.socket(socket.AF_INET, socket.SOCK_STREAM, 0)
            address = struct.pack("!HH4s8x", socket.AF_INET, {tcp.getsockname()[1]}, socket.inet_aton("127.0.0.1"))
            address = struct.pack("=H", socket.AF_INET) + address[2:]
            rc = libc.connect(fd, address, len(address))
            print(rc, ctypes.get_errno())
            return {{"success": rc == 0, "device_id": device.id}}
        """)
    report = dry_run(path, scenarios=["happy-path"])
    if report.isolation != ISOLATION_NAMESPACE:
        pytest.skip("this system allows no unprivileged network namespace")
    assert report.scenarios[0].output.split() == ["-1", "101"]  # ENETUNREACH: no interface is up
    assert_nothing_arrived(tcp, udp, tmp_path / "none")


def test_attempts_at_import_time_are_reported_as_the_import(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        import socket

        try:
            ADDRESS = socket.gethostbyname("inventory.example.com")
        except OSError:
            ADDRESS = None

        def run(device, job_id, config, db):
            return {"success": True, "device_id": device.id}
        """)
    [violation] = dry_run(path).violations
    assert (violation.code, violation.line) == ("NRJ033", line_of(path, "gethostbyname"))
    assert violation.message.startswith("during the dry run, the module's import tried to resolve the host name "
                                        "'inventory.example.com'")


def test_blocked_database_write_is_nrj033_at_its_line(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        def run(device, job_id, config, db):
            try:
                db.add({"x": 1})
            except Exception as exc:  # OSError when blocked, OperationalError when the db fails
                return {"success": False, "device_id": device.id, "details": {"error": str(exc)}}
            return {"success": True, "device_id": device.id}
        """)
    report = dry_run(path)
    [violation] = report.violations
    assert (violation.code, violation.line) == ("NRJ033", line_of(path, "db.add"))
    assert "tried to write through the database session (db.add())" in violation.message
    assert report.scenarios_of(violation) == ("happy-path", "optional-attributes-absent")


# -- what the dry run exercised ------------------------------------------------------------------
def test_reached_returns_are_the_return_statements_that_returned(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        import os

        def run(device, job_id, config, db):
            try:
                db.query("Device").first()
            except Exception as exc:
                return {"success": False, "device_id": device.id, "details": {"error": str(exc)}}  # error
            if getattr(device, "model", None) is None:
                return {"success": False, "device_id": device.id}  # absent
            if device.id == 0: return None  # one-line
            with open(os.devnull) as handle:
                return {  # happy
                    "success": True,
                    "device_id": device.id,
                }
        """)
    report = dry_run(path)
    error, absent, one_line, happy = (line_of(path, f"# {mark}") for mark in ("error", "absent", "one-line", "happy"))
    assert report.return_lines == (error, absent, one_line, happy)
    assert report.reached_returns == (error, absent, happy)
    assert report.unreached_returns == (one_line,)
    assert [s.reached_returns for s in report.scenarios] == [(happy,), (absent,), (error,)]
    assert report.violations == ()


def test_result_violations_carry_the_line_of_the_return(tmp_path: Path) -> None:
    path = job(tmp_path, """\
        def run(device, job_id, config, db):
            if getattr(device, "port", None):
                return {"success": 1, "device_id": device.id}
            return {"success": True, "device_id": job_id}
        """)
    report = dry_run(path)
    assert [(v.code, v.path, v.line) for v in report.violations] == [
        ("NRJ007", "success", line_of(path, '"success": 1')),
        ("NRJ032", "device_id", line_of(path, "job_id}")),
    ]
    assert report.violations[0].message == (
        f'"success" is an int (1), not a bool (returned at line {line_of(path, chr(34) + "success" + chr(34) + ": 1")}); '
        "use True/False or a comparison")


def test_job_output_is_captured_not_printed(tmp_path: Path, capfd) -> None:
    path = job(tmp_path, 'print("at import")\n\ndef run(device, job_id, config, db):\n'
                         '    print("running", device.hostname)\n    return {"success": True, "device_id": device.id}\n')
    report = dry_run(path, scenarios=["happy-path"])
    assert report.import_output == "at import\n"
    assert report.scenarios[0].output == "running fake-router-01.invalid\n"
    assert capfd.readouterr() == ("", "")


# -- modules that cannot run -------------------------------------------------------------------
@pytest.mark.parametrize(("body", "code", "fragment"), [
    ("X = 1\n", "NRJ001", "defines no module-level function `run`"),
    ("async def run(device, job_id, config, db):\n    return {}\n", "NRJ002", "declared `async def`"),
    ("def run(device, config):\n    return {}\n", "NRJ002", "too many positional arguments"),
    ("import not_a_module_anywhere\n", "NRJ034", "No module named 'not_a_module_anywhere'"),
    ("def run(device, job_id, config, db)\n    return {}\n", "NRJ034", "SyntaxError"),
])
def test_module_that_cannot_run_is_reported_and_no_scenario_runs(tmp_path: Path, body: str, code: str,
                                                                  fragment: str) -> None:
    report = dry_run(job(tmp_path, body))
    [violation] = report.violations
    assert violation.code == code and fragment in violation.message
    assert {s.outcome for s in report.scenarios} == {Outcome.NOT_RUN}


def test_missing_file_is_nrj034_not_an_exception(tmp_path: Path) -> None:
    [violation] = dry_run(tmp_path / "nope.py").violations
    assert violation.code == "NRJ034" and "no such file" in violation.message


def test_module_object_is_dry_run_from_its_file(tmp_path: Path) -> None:
    import importlib.util

    path = job(tmp_path, 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n')
    spec = importlib.util.spec_from_file_location("a_job", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert dry_run(module).path == str(path)


def test_scenarios_can_be_chosen_by_name_or_object(tmp_path: Path) -> None:
    path = job(tmp_path, 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n')
    custom = Scenario("bare", "no optional attributes, failing db", optional_device_attributes=False,
                      database_fails=True)
    report = dry_run(path, scenarios=["database-fails", custom])
    assert [s.name for s in report.scenarios] == ["database-fails", "bare"]
    assert [s.name for s in DEFAULT_SCENARIOS] == ["happy-path", "optional-attributes-absent", "database-fails"]


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"timeout": 0}, ValueError), ({"timeout": "5"}, ValueError), ({"scenarios": ["nope"]}, ValueError),
    ({"scenarios": []}, ValueError), ({"scenarios": [42]}, TypeError),
])
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        dry_run(tmp_path / "x.py", **kwargs)


def test_dry_runs_from_several_threads_at_once(tmp_path: Path) -> None:
    paths = [job(tmp_path, f'def run(device, job_id, config, db):\n    return {{"success": True, "device_id": {n}}}\n',
                 name=f"job{n}.py") for n in range(4)]
    reports: dict[int, object] = {}

    def work(n: int) -> None:
        reports[n] = dry_run(paths[n], scenarios=["happy-path"])

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {n: [v.code for v in reports[n].violations] for n in range(4)} == {n: ["NRJ032"] for n in range(4)}
