"""The dry run's job process: import the job module, call ``run()`` once per scenario, report.

Runs in a process of its own (forked by :mod:`~netraven_contracts.runtime.zygote`), writes its
findings as JSON frames to a pipe, and leaves with ``os._exit``: nothing the job left behind
(threads, atexit handlers, open connections) can keep it alive or run in the caller.
"""

from __future__ import annotations

import ast
import faulthandler
import importlib
import importlib.util
import inspect
import json
import os
import struct
import sys
import time
import traceback
from typing import Any, Callable

from .. import contract
from ..rules import RULES
from .describe import describe_exception
from .fakes import FAKE_JOB_ID, FakeDevice, FakeSession, default_config
from .sandbox import ISOLATION_HOOK, Attempt, ISOLATION_NAMESPACE, Sandbox, enter_empty_network_namespace
from .validate import check_result

#: Longest captured output kept per phase (the end of it).
OUTPUT_LIMIT = 8192

_HEADER = struct.Struct(">I")


def send(fd: int, *frame: Any) -> None:
    """One frame: a 4-byte length, then JSON (ASCII: lone surrogates survive)."""
    data = json.dumps(frame, default=repr).encode("ascii")
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def violation(code: str, path: str = "", line: int | None = None, **fields: object) -> list[Any]:
    return [code, RULES[code].format(**fields), path, line]


class _Output:
    """The job's stdout/stderr: a file shared with the monitor, read back phase by phase."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.offset = os.fstat(fd).st_size

    def take(self) -> str:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # the job replaced or closed the stream
                pass
        end = os.fstat(self.fd).st_size
        start = max(self.offset, end - OUTPUT_LIMIT)
        cut = start - self.offset
        data = os.pread(self.fd, end - start, start) if end > start else b""
        self.offset = end
        text = data.decode("utf-8", errors="replace")
        return f"[{cut} bytes cut]\n{text}" if cut else text


class _ReturnTracer:
    """Which ``return`` statements of ``run`` executed to the end (``reached_returns``).

    A line event whose instruction lies inside a ``return`` statement's span marks it; an
    exception unmarks it; the frame's return event then credits the marked statement. Spans, not
    lines, so ``if x: return y`` on one line is not credited when only the test ran, and the
    ``with``/``finally`` code that runs after a ``return`` does not hide it.
    """

    def __init__(self, code: Any, spans: list[tuple[int, int, int, int]]) -> None:
        self.code = code
        self.spans = spans
        self.positions = list(code.co_positions())
        self.pending: int | None = None
        self.reached: list[int] = []
        self.last: int | None = None  # line of the return statement of the last call

    def start(self) -> None:
        self.pending = None
        self.last = None
        self.reached = []
        sys.settrace(self._global)

    def stop(self) -> None:
        sys.settrace(None)

    def _global(self, frame: Any, event: str, arg: Any) -> Callable[..., Any] | None:
        return self._local if frame.f_code is self.code else None

    def _local(self, frame: Any, event: str, arg: Any) -> Callable[..., Any]:
        if event == "line":
            index = frame.f_lasti // 2
            if 0 <= index < len(self.positions):
                line, _end, column, _end_column = self.positions[index]
                if line is not None and column is not None:
                    for start_line, start_column, end_line, end_column in self.spans:
                        if (start_line, start_column) <= (line, column) < (end_line, end_column):
                            self.pending = start_line
                            break
        elif event == "exception":
            self.pending = None
        elif event == "return" and self.pending is not None:
            self.last = self.pending
            if self.pending not in self.reached:
                self.reached.append(self.pending)
        return self._local


def return_spans(source: str, function: Any) -> list[tuple[int, int, int, int]]:
    """(line, column, end line, end column) of each ``return`` of ``function`` (nested functions,
    lambdas and classes excluded), found by its first line in the module's syntax tree."""
    code = function.__code__
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            if first == code.co_firstlineno:
                break
    else:
        return []
    spans: list[tuple[int, int, int, int]] = []
    todo: list[ast.AST] = list(node.body)
    while todo:
        current = todo.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(current, ast.Return):
            spans.append((current.lineno, current.col_offset,
                          current.end_lineno or current.lineno, current.end_col_offset or 10**6))
        todo.extend(ast.iter_child_nodes(current))
    return sorted(spans)


def _job_line(tb: Any, job_file: str) -> int | None:
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if frame.f_code.co_filename == job_file:
            line = lineno
    return line


def _module_name(path: str) -> tuple[str, str]:
    """(dotted name, directory to put on sys.path): ``netraven.worker.jobs.backup`` for a file in
    packages, as pytest's ``prepend`` import mode names it; the stem for a loose file."""
    directory, filename = os.path.split(path)
    parts = [os.path.splitext(filename)[0]]
    while os.path.isfile(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    name = ".".join(parts)
    if len(parts) == 1 and (name in sys.modules or name in sys.stdlib_module_names):
        name = f"_netraven_job_{name}"  # a job called socket.py must not replace the real one
    return name, directory


def _import(path: str) -> Any:
    name, directory = _module_name(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    if "." in name:
        importlib.import_module(name.rpartition(".")[0])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _blocked(sandbox: Sandbox, who: str) -> list[list[Any]]:
    found = []
    for attempt in sandbox.take():
        found.append(violation("NRJ033", line=attempt.line, who=who, what=attempt.what))
    return found


def main(request: dict[str, Any], result_fd: int, output_fd: int) -> None:
    """Run the dry run of one module; the caller (dryrun.py) reads the frames."""
    path = request["path"]
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    output = _Output(output_fd)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
        except Exception:
            pass
    faulthandler.enable(file=sys.stderr, all_threads=True)
    isolated = request["isolate_network"] and enter_empty_network_namespace()

    sandbox = Sandbox(path)
    sandbox.install()
    real_exit = os._exit

    def reporting_exit(status: int) -> None:
        # os._exit() skips every handler; say where it was called before the process goes.
        send(result_fd, "exiting", {"status": status, "line": sandbox.job_line()})
        real_exit(status)

    os._exit = reporting_exit  # type: ignore[assignment]
    os.chdir(request["cwd"])
    sys.path[:] = request["sys_path"]
    send(result_fd, "hello", os.getpid(), ISOLATION_NAMESPACE if isolated else ISOLATION_HOOK)

    timeout = request["timeout"]
    faulthandler.dump_traceback_later(timeout)
    found: list[list[Any]] = []
    run: Any = None
    try:
        module = _import(path)
    except BaseException as exc:  # noqa: B902 - SystemExit, KeyboardInterrupt: still a failed import
        faulthandler.cancel_dump_traceback_later()
        line = exc.lineno if isinstance(exc, SyntaxError) and exc.filename == path else _job_line(
            exc.__traceback__, path)
        found.append(violation("NRJ034", line=line, error=describe_exception(exc)))
    else:
        faulthandler.cancel_dump_traceback_later()
        run = getattr(module, contract.RUN_FUNCTION, None)
        if not callable(run):
            found.append(violation("NRJ001"))
            run = None
        else:
            problem = _signature_problem(run)
            if problem:
                found.append(violation("NRJ002", line=getattr(getattr(run, "__code__", None),
                                                              "co_firstlineno", None),
                                       reason=problem))
                run = None
    found.extend(_blocked(sandbox, "the module's import"))
    function = inspect.unwrap(run) if run is not None else None
    spans: list[tuple[int, int, int, int]] = []
    if function is not None and hasattr(function, "__code__"):
        try:
            with open(path, encoding="utf-8") as source:
                spans = return_spans(source.read(), function)
        except (OSError, UnicodeDecodeError):
            pass
    send(result_fd, "imported", {"violations": found, "return_lines": sorted({s[0] for s in spans}),
                                 "runnable": run is not None, "output": output.take()})

    if run is not None:
        tracer = _ReturnTracer(function.__code__, spans) if spans else None
        for name, optional_attributes, database_fails in request["scenarios"]:
            send(result_fd, "scenario", _scenario(
                run, tracer, sandbox, output, request, name, optional_attributes, database_fails))
    send(result_fd, "done")


class _DryRunSession(FakeSession):
    """The fake session of the dry run: a blocked write is an attempt like a blocked connect."""

    def __init__(self, sandbox: Sandbox, **options: Any) -> None:
        super().__init__(**options)
        self._sandbox = sandbox

    def _write(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.block_writes and not self.fail:
            self._sandbox.attempts.append(Attempt(
                f"write through the database session (db.{name}())", self._sandbox.job_line()))
        super()._write(name, args, kwargs)


def _signature_problem(run: Any) -> str | None:
    if inspect.iscoroutinefunction(inspect.unwrap(run)):
        return "it is declared `async def`, so calling it only creates a coroutine"
    try:
        inspect.signature(run).bind(*contract.RUN_PARAMETERS)
    except TypeError as exc:
        return str(exc)
    except ValueError:  # no signature (a builtin): let the call tell
        return None
    return None


def _scenario(run: Any, tracer: _ReturnTracer | None, sandbox: Sandbox, output: _Output,
              request: dict[str, Any], name: str, optional_attributes: bool,
              database_fails: bool) -> dict[str, Any]:
    path = request["path"]
    device = FakeDevice() if optional_attributes else FakeDevice.minimal()
    db = _DryRunSession(sandbox, fail=database_fails, block_writes=True)
    arguments = (device, FAKE_JOB_ID, default_config(), db)
    found: list[list[Any]] = []
    faulthandler.dump_traceback_later(request["timeout"])
    started = time.perf_counter()
    if tracer is not None:
        tracer.start()
    try:
        result = run(*arguments)
    except BaseException as exc:  # noqa: B902 - sys.exit() in a job is a failure of the job
        if tracer is not None:
            tracer.stop()
        duration = time.perf_counter() - started
        faulthandler.cancel_dump_traceback_later()
        line = _job_line(exc.__traceback__, path)
        what = (f"called sys.exit({exc.code!r})" if isinstance(exc, SystemExit)
                else f"raised {describe_exception(exc)}")
        where = f" at line {line}" if line else ""
        # No scenario name in the message: the same failure in several scenarios is one
        # violation, and the report says which scenarios met it.
        found.append(violation("NRJ030", line=line, what=f"{what}{where}"))
        status = "raised"
    else:
        if tracer is not None:
            tracer.stop()
        duration = time.perf_counter() - started
        faulthandler.cancel_dump_traceback_later()
        line = tracer.last if tracer is not None else None
        where = f" (returned at line {line})" if line else ""
        for found_violation in check_result(
                result, device_id=device.id, max_details_bytes=request["max_details_bytes"],
                max_depth=request["max_depth"], where=where):
            found.append([found_violation.code, found_violation.message, found_violation.path, line])
        status = "returned"
    found.extend(_blocked(sandbox, "run()"))
    return {"name": name, "status": status, "violations": found, "duration": duration,
            "reached_returns": list(tracer.reached) if tracer is not None else [],
            "output": output.take()}
