"""``dry_run()``: call a job's ``run()`` with fakes in a sandboxed process, and report every violation.

The one place of the project that deals with processes, time-outs and the sandbox. A module is
imported in a process of its own (forked by :mod:`~netraven_contracts.runtime.zygote`, sandboxed
by :mod:`~netraven_contracts.runtime.sandbox`), and ``run()`` is called once per scenario in that
process. A hanging, crashing or ``os._exit``-ing job ends its own dry run with NRJ031/NRJ030, never
the caller.
"""

from __future__ import annotations

import enum
import json
import os
import select
import signal
import struct
import sys
import time
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Final, Iterable, Sequence

from .. import contract
from ..findings import Violation
from ..rules import RULES, Severity

#: Time limit of each scenario (and of the module's import), in seconds.
DEFAULT_TIMEOUT: Final = 5.0
#: How long the caller waits, past the limit, for the job process's own report before killing it.
_GRACE: Final = 0.5
#: Starting the process server and forking takes no job code: a generous bound for a busy machine.
_STARTUP: Final = 60.0
_HEADER: Final = struct.Struct(">I")


class DryRunError(RuntimeError):
    """The dry run itself could not be carried out (not a fault of the job module)."""


@dataclass(frozen=True, slots=True)
class Scenario:
    """One call of ``run()``: which device and which database the job gets."""

    name: str
    description: str
    optional_device_attributes: bool = True  # False: port, username, ... raise AttributeError
    database_fails: bool = False             # True: every db call raises OperationalError


#: The scenarios a dry run plays by default, in this order.
DEFAULT_SCENARIOS: Final[tuple[Scenario, ...]] = (
    Scenario("happy-path", "a complete device; writes through the session are blocked"),
    Scenario("optional-attributes-absent",
             "a device without port, username, password, serial_number and model",
             optional_device_attributes=False),
    Scenario("database-fails", "every call on the database session raises OperationalError",
             database_fails=True),
)


class Outcome(str, enum.Enum):
    """How one scenario ended."""

    RETURNED = "returned"    # run() returned (the result may still violate the contract)
    RAISED = "raised"        # run() raised (NRJ030)
    TIMED_OUT = "timed-out"  # killed after the time limit (NRJ031)
    CRASHED = "crashed"      # the process died: os._exit, a signal (NRJ030)
    NOT_RUN = "not-run"      # an earlier scenario ended the dry run, or the module cannot run


@dataclass(frozen=True, slots=True)
class ScenarioOutcome:
    """What happened in one scenario."""

    scenario: Scenario
    outcome: Outcome
    violations: tuple[Violation, ...] = ()
    reached_returns: tuple[int, ...] = ()  # lines of run's return statements that returned
    output: str = ""                       # what the job printed (the end of it)
    duration: float | None = None          # seconds spent in run()

    @property
    def name(self) -> str:
        return self.scenario.name


@dataclass(frozen=True, slots=True)
class DryRunReport:
    """Everything one dry run found. ``violations`` lists each distinct violation once (in the
    order found); ``scenarios`` says which scenario found what."""

    path: str
    violations: tuple[Violation, ...]
    reached_returns: tuple[int, ...]    # sorted union over the scenarios
    return_lines: tuple[int, ...]       # every return statement of run(), reached or not
    scenarios: tuple[ScenarioOutcome, ...]
    isolation: str = ""                 # what kept the job off the network
    import_output: str = ""             # what the module printed while being imported
    crash_output: str = ""              # the end of the output of a process that died or hung
    duration: float = 0.0               # wall time of the whole dry run, in seconds

    @property
    def errors(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[Violation, ...]:
        return tuple(v for v in self.violations if v.severity is Severity.WARNING)

    @property
    def ok(self) -> bool:
        """No error-level violation (warnings allowed)."""
        return not self.errors

    @property
    def unreached_returns(self) -> tuple[int, ...]:
        return tuple(line for line in self.return_lines if line not in self.reached_returns)

    def scenarios_of(self, violation: Violation) -> tuple[str, ...]:
        """Names of the scenarios that found ``violation``."""
        return tuple(s.name for s in self.scenarios if violation in s.violations)


def dry_run(
    module_or_path: str | os.PathLike[str] | ModuleType,
    *,
    scenarios: Sequence[Scenario | str] | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    isolate_network: bool = True,
    max_details_bytes: int = contract.DEFAULT_MAX_DETAILS_BYTES,
    max_depth: int = contract.DEFAULT_MAX_DETAILS_DEPTH,
) -> DryRunReport:
    """Import the job module in a sandboxed process and call its ``run()`` once per scenario.

    ``module_or_path`` is a job module's file or an imported module (its file is dry-run, not the
    module object). ``scenarios`` defaults to :data:`DEFAULT_SCENARIOS` (names of those are
    accepted too); ``timeout`` bounds the import and each call of ``run()``, in seconds.
    ``isolate_network=False`` leaves out the empty network namespace (the audit hook stays).

    A module that cannot be found, imported or run is reported (NRJ034, NRJ001, NRJ002), never
    raised. Raises ``ValueError``/``TypeError`` for bad arguments, :class:`DryRunError` when no
    process can be started.
    """
    path = _job_path(module_or_path)
    chosen = _scenarios(scenarios)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    timeout = float(timeout)
    started = time.monotonic()
    if not os.path.isfile(path):
        reason = "no such file" if not os.path.exists(path) else "not a file"
        return _report_without_process(path, chosen, started, Violation(
            "NRJ034", RULES["NRJ034"].format(error=f"cannot open {path}: {reason}")))

    from . import zygote

    request = {
        "path": path,
        "cwd": os.getcwd(),
        "sys_path": _sys_path(),
        "timeout": timeout,
        "budget": _STARTUP + (timeout + _GRACE) * (len(chosen) + 1),
        "scenarios": [[s.name, s.optional_device_attributes, s.database_fails] for s in chosen],
        "isolate_network": bool(isolate_network),
        "max_details_bytes": max_details_bytes,
        "max_depth": max_depth,
    }
    result_r, result_w = os.pipe()
    lifeline_r, lifeline_w = os.pipe()
    try:
        try:
            server = zygote.get()
            server.submit(request, result_w, lifeline_r)
        except zygote.ZygoteError as exc:
            raise DryRunError(str(exc)) from exc
        finally:
            os.close(result_w)
            os.close(lifeline_r)
        return _Session(path, chosen, timeout, result_r, lifeline_w, started).collect()
    finally:
        for fd in (result_r, lifeline_w):
            try:
                os.close(fd)
            except OSError:
                pass  # closed already (the lifeline, to kill a hung job)


def _job_path(module_or_path: object) -> str:
    if isinstance(module_or_path, ModuleType):
        filename = getattr(module_or_path, "__file__", None)
        if not filename:
            raise ValueError(f"module {module_or_path.__name__!r} has no file to dry-run")
        return os.path.abspath(filename)
    if isinstance(module_or_path, (str, os.PathLike)):
        return os.path.abspath(os.fspath(module_or_path))
    raise TypeError(f"dry_run() takes a job module or the path of one, not {type(module_or_path).__name__}")


def _scenarios(scenarios: Sequence[Scenario | str] | None) -> tuple[Scenario, ...]:
    if scenarios is None:
        return DEFAULT_SCENARIOS
    known = {s.name: s for s in DEFAULT_SCENARIOS}
    chosen = []
    for scenario in scenarios:
        if isinstance(scenario, str):
            if scenario not in known:
                raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(known)}")
            scenario = known[scenario]
        elif not isinstance(scenario, Scenario):
            raise TypeError(f"a scenario is a Scenario or the name of one, not {scenario!r}")
        chosen.append(scenario)
    if not chosen:
        raise ValueError("scenarios must name at least one scenario")
    return tuple(chosen)


def _sys_path() -> list[str]:
    return [os.path.abspath(entry) if entry else os.getcwd() for entry in sys.path]


def _report_without_process(path: str, chosen: Iterable[Scenario], started: float,
                            violation: Violation) -> DryRunReport:
    return DryRunReport(path=path, violations=(violation,), reached_returns=(), return_lines=(),
                        scenarios=tuple(ScenarioOutcome(s, Outcome.NOT_RUN) for s in chosen),
                        duration=time.monotonic() - started)


def _violation(raw: list[Any]) -> Violation:
    code, message, path, line = raw
    return Violation(code, message, path=path, line=line)


class _Session:
    """The caller's side of one dry run: reads frames against deadlines, builds the report."""

    def __init__(self, path: str, scenarios: tuple[Scenario, ...], timeout: float,
                 result_r: int, lifeline_w: int, started: float) -> None:
        self.path = path
        self.scenarios = scenarios
        self.timeout = timeout
        self.fd = result_r
        self.lifeline = lifeline_w
        self.started = started
        self.buffer = b""
        self.eof = False
        self.exiting: dict[str, Any] | None = None  # the job called os._exit()

    # -- frames ----------------------------------------------------------------------------
    def _next(self, deadline: float) -> list[Any] | None:
        """The next frame, or ``None`` at the deadline or the end of the stream."""
        while True:
            if len(self.buffer) >= _HEADER.size:
                (size,) = _HEADER.unpack_from(self.buffer)
                if len(self.buffer) >= _HEADER.size + size:
                    data = self.buffer[_HEADER.size:_HEADER.size + size]
                    self.buffer = self.buffer[_HEADER.size + size:]
                    frame = json.loads(data)
                    if frame[0] == "exiting":
                        self.exiting = frame[1]
                        continue
                    return frame
            if self.eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                chunk = os.read(self.fd, 1 << 16)
                if chunk:
                    self.buffer += chunk
                else:
                    self.eof = True

    def _end(self, frame: list[Any] | None) -> dict[str, Any] | None:
        """Make sure the job process is gone; its exit frame (``returncode``, ``output``)."""
        if frame is not None and frame[0] == "internal-error":
            self._kill()
            raise DryRunError(f"the dry run of {self.path} failed: {frame[1]}")
        if frame is not None and frame[0] == "exit":
            self._kill(wait=False)
            return frame[1]
        return self._kill()

    def _kill(self, wait: bool = True) -> dict[str, Any] | None:
        """Close the lifeline (the monitor kills the job) and wait for the exit frame."""
        try:
            os.close(self.lifeline)
        except OSError:
            pass
        if not wait:
            return None
        deadline = time.monotonic() + 10.0
        while True:
            frame = self._next(deadline)
            if frame is None:
                return None
            if frame[0] == "exit":
                return frame[1]

    # -- the run ---------------------------------------------------------------------------
    def collect(self) -> DryRunReport:
        frame = self._next(time.monotonic() + _STARTUP)
        if frame is None or frame[0] != "hello":
            self._kill()
            raise DryRunError(f"the dry-run process for {self.path} did not start"
                              + (f" ({frame[1]})" if frame and frame[0] == "internal-error" else ""))
        isolation = frame[2]
        violations: list[Violation] = []
        outcomes: list[ScenarioOutcome] = []
        return_lines: tuple[int, ...] = ()
        import_output = crash_output = ""

        frame = self._next(time.monotonic() + self.timeout + _GRACE)
        if frame is None or frame[0] != "imported":
            ended = self._end(frame)
            crash_output = (ended or {}).get("output", "")
            violations.append(self._import_failure(frame, ended))
            runnable = False
        else:
            info = frame[1]
            violations.extend(_violation(raw) for raw in info["violations"])
            return_lines = tuple(info["return_lines"])
            import_output = info["output"]
            runnable = info["runnable"]

        pending = list(self.scenarios) if runnable else []
        while pending:
            scenario = pending.pop(0)
            frame = self._next(time.monotonic() + self.timeout + _GRACE)
            if frame is not None and frame[0] == "scenario":
                outcome = self._outcome(scenario, frame[1])
                outcomes.append(outcome)
                violations.extend(outcome.violations)
                continue
            # Timed out, died, or broke the protocol: this scenario ends the dry run.
            timed_out = frame is None and not self.eof
            ended = self._end(frame)
            crash_output = (ended or {}).get("output", "")
            found = self._ended(scenario, timed_out, ended, crash_output)
            outcomes.append(ScenarioOutcome(scenario, Outcome.TIMED_OUT if timed_out else Outcome.CRASHED,
                                            violations=(found,), output=crash_output))
            violations.append(found)
            outcomes.extend(ScenarioOutcome(s, Outcome.NOT_RUN) for s in pending)
            pending = []
        if runnable and outcomes and outcomes[-1].outcome not in (Outcome.TIMED_OUT, Outcome.CRASHED):
            self._next(time.monotonic() + _GRACE)  # "done"; the monitor reaps the process
        if not runnable:
            outcomes = [ScenarioOutcome(s, Outcome.NOT_RUN) for s in self.scenarios]

        reached = sorted({line for outcome in outcomes for line in outcome.reached_returns})
        return DryRunReport(
            path=self.path, violations=tuple(_unique(violations)), reached_returns=tuple(reached),
            return_lines=return_lines, scenarios=tuple(outcomes), isolation=isolation,
            import_output=import_output, crash_output=crash_output,
            duration=time.monotonic() - self.started)

    def _outcome(self, scenario: Scenario, info: dict[str, Any]) -> ScenarioOutcome:
        found = [_violation(raw) for raw in info["violations"]]
        if info["duration"] > self.timeout:
            # It returned, but later than the worker would have waited.
            found.insert(0, Violation("NRJ031", RULES["NRJ031"].format(
                timeout=self.timeout,
                where=f" in dry-run scenario {scenario.name!r} (it took {info['duration']:.3g} s)")))
        outcome = Outcome.RETURNED if info["status"] == "returned" else Outcome.RAISED
        return ScenarioOutcome(scenario, outcome, violations=tuple(_unique(found)),
                               reached_returns=tuple(info["reached_returns"]),
                               output=info["output"], duration=info["duration"])

    def _ended(self, scenario: Scenario, timed_out: bool, ended: dict[str, Any] | None,
               output: str) -> Violation:
        line = _stuck_line(output, self.path)
        at = f" at line {line}" if line else ""
        if timed_out:
            return Violation("NRJ031", RULES["NRJ031"].format(
                timeout=self.timeout,
                where=f" in dry-run scenario {scenario.name!r} (stopped{at}; the process was killed)"),
                line=line)
        what = _death(ended, self.exiting)
        if self.exiting and self.exiting.get("line"):
            line = self.exiting["line"]
            at = f" at line {line}"
        return Violation("NRJ030", RULES["NRJ030"].format(
            what=f"{what}{at} in dry-run scenario {scenario.name!r}"), line=line)

    def _import_failure(self, frame: list[Any] | None, ended: dict[str, Any] | None) -> Violation:
        output = (ended or {}).get("output", "")
        line = _stuck_line(output, self.path)
        at = f" at line {line}" if line else ""
        if frame is None and not self.eof:
            error = f"the import did not finish within {self.timeout:g} s{at} (the process was killed)"
        else:
            what = _death(ended, self.exiting)
            if self.exiting and self.exiting.get("line"):
                line = self.exiting["line"]
                at = f" at line {line}"
            error = f"the process importing it {what.removeprefix('ended the process ')}{at}"
        return Violation("NRJ034", RULES["NRJ034"].format(error=error), line=line)


def _death(ended: dict[str, Any] | None, exiting: dict[str, Any] | None) -> str:
    if exiting is not None:
        return f"ended the process with os._exit({exiting.get('status')})"
    returncode = (ended or {}).get("returncode")
    if returncode is None:
        return "ended the process (it vanished without an exit status)"
    if returncode < 0:
        number = -returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        meaning = {"SIGSEGV": " (segmentation fault)", "SIGABRT": " (abort)",
                   "SIGBUS": " (bus error)", "SIGFPE": " (floating-point exception)",
                   "SIGILL": " (illegal instruction)", "SIGKILL": ""}.get(name, "")
        return f"crashed the process: killed by {name}{meaning}"
    return f"ended the process with exit status {returncode}"


def _stuck_line(output: str, path: str) -> int | None:
    """The innermost line of the job file in the last faulthandler dump of ``output`` (the
    faulting thread's when it names one)."""
    start = max(output.rfind("Fatal Python error"), output.rfind("Timeout ("))
    text = output[start:] if start >= 0 else output
    current = text.find("Current thread 0x")
    if current >= 0:
        text = text[current:]
    marker = f'File "{path}", line '
    for line in text.splitlines():
        position = line.find(marker)
        if position >= 0:
            digits = line[position + len(marker):].split(" ", 1)[0]
            if digits.isdigit():
                return int(digits)  # faulthandler lists the most recent call first
    return None


def _unique(violations: Iterable[Violation]) -> list[Violation]:
    seen: set[tuple[Any, ...]] = set()
    unique = []
    for violation in violations:
        key = (violation.code, violation.message, violation.path, violation.line)
        if key not in seen:
            seen.add(key)
            unique.append(violation)
    return unique
