"""The dispatcher: one job type over many devices, in a pool, each device with a time limit.

Design
------
* **Threads, abandoned when hung.** Jobs are I/O-bound (SSH, ICMP, TCP) and receive a database
  session, a device and a config that do not cross process boundaries well, so they run in a
  pool of daemon threads. A thread cannot be killed: when a device's job exceeds the time limit,
  the supervisor (the calling thread) records an NRJ031 failure for that device, marks the task
  abandoned and starts a replacement thread, so the pool keeps its size. Whatever the abandoned
  thread returns later is discarded; being a daemon thread, it cannot keep the process alive.
  After ``max_abandoned`` hung threads no more replacements are started, and devices that can no
  longer be started get a failure row saying so (no device is left without a row).
* **Everything about a device happens in its worker thread**, inside its time limit: the call,
  the validation of the result (``validate_result``, the same rules as the dry run), the
  normalization (``normalize_result``) and the strict JSON serialization. A value that cannot be
  stored is thus attributed to its device, and a hostile result (a ``__repr__`` that never
  returns) is bounded by the same limit. The supervisor only receives finished rows.
* **One session per job call.** Each call gets its own ``Session``, closed afterwards (what the
  job did not commit is rolled back). No session is shared between threads.
* **Rows leave through a sink** (in production the :class:`~.result_store.BackgroundWriter`,
  which batches them), in the order devices finish.
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from netraven_contracts import contract
from netraven_contracts.findings import Violation
from netraven_contracts.rules import RULES, Severity
from netraven_contracts.runtime import InvalidResultError, normalize_result

from netraven.db.engine import as_database_error, is_transient
from netraven.db.jsonb import JSONBError
from netraven.db.models import (JOB_FAILURE, JOB_INTERRUPTED, JOB_RUNNING, JOB_SUCCESS,
                                JOB_TYPE_LENGTH, Job)

from .inventory import DeviceInfo
from .outcomes import (Outcome, exception_details, failure_outcome, raised_violation,
                       stored_outcome, timeout_violation, utcnow)
from .result_store import BackgroundWriter, ResultStore, RetryPolicy, StoreReport
from .spool import Spool

logger = logging.getLogger("netraven.dispatcher")

DEFAULT_POOL_SIZE: Final = 5
DEFAULT_TIMEOUT: Final = 60.0
#: Longest sleep of the supervisor between two looks at the running jobs' deadlines.
_MAX_WAIT: Final = 0.25

_PENDING, _RUNNING, _DONE, _ABANDONED, _CANCELLED = range(5)


class RunnableJob(Protocol):
    """What the dispatcher needs of a job: its type and its ``run`` (a registry entry has both)."""

    @property
    def job_type(self) -> str: ...

    @property
    def run(self) -> Callable[[Any, int, Any, Any], object]: ...


@dataclass(frozen=True, slots=True)
class SimpleJob:
    """A job given directly as a function (tests, benchmarks, embedding)."""

    job_type: str
    run: Callable[[Any, int, Any, Any], object]


class _Task:
    __slots__ = ("device", "state", "started")

    def __init__(self, device: DeviceInfo) -> None:
        self.device = device
        self.state = _PENDING
        self.started = 0.0


@dataclass(slots=True)
class DispatchSummary:
    """Counts of one dispatch; every device is in exactly one of succeeded/failed."""

    total: int = 0
    succeeded: int = 0
    failed: int = 0
    codes: Counter[str] = field(default_factory=Counter)      # error codes of failure rows
    warnings: Counter[str] = field(default_factory=Counter)   # warning codes of stored results
    abandoned_threads: int = 0


class Dispatcher:
    """Runs jobs over devices. Reusable, also from several threads: each dispatch has its own
    state.

    ``session_factory`` makes the ``db`` argument of each call (``None``: jobs get ``None``).
    ``config`` is never shared: each call sees it as configured, whatever earlier calls did to
    their copy.
    """

    def __init__(self, *, session_factory: Callable[[], Any] | None = None,
                 config: Mapping[str, Any] | None = None, pool_size: int = DEFAULT_POOL_SIZE,
                 timeout: float = DEFAULT_TIMEOUT, max_abandoned: int | None = None,
                 max_details_bytes: int = contract.DEFAULT_MAX_DETAILS_BYTES,
                 max_details_depth: int = contract.DEFAULT_MAX_DETAILS_DEPTH) -> None:
        if pool_size < 1:
            raise ValueError("pool_size must be at least 1")
        if not timeout > 0:
            raise ValueError("timeout must be a positive number of seconds")
        self.session_factory = session_factory
        self.config = dict(config or {})
        self.pool_size = pool_size
        self.timeout = float(timeout)
        self.max_abandoned = 4 * pool_size if max_abandoned is None else max_abandoned
        self.max_details_bytes = max_details_bytes
        self.max_details_depth = max_details_depth

    def dispatch(self, job: RunnableJob, devices: Sequence[DeviceInfo], *, job_id: int,
                 sink: Callable[[Any], None],
                 on_outcome: Callable[[Outcome], None] | None = None) -> DispatchSummary:
        """Run ``job`` once per device; hand each device's row to ``sink`` exactly once.

        Returns when every device has a row: finished, failed, or abandoned after the time limit.
        On KeyboardInterrupt, devices without a row get a failure row, then the interrupt
        propagates.
        """
        run = _Run(self, job, devices, job_id)
        summary = DispatchSummary(total=len(devices))

        def deliver(outcome: Outcome, notify: bool = True) -> None:
            sink(outcome.row)
            if outcome.ok:
                summary.succeeded += 1
            else:
                summary.failed += 1
                summary.codes.update(outcome.codes)
                # A broken contract (codes) is an error of the job module; a failure the job
                # reported itself is the device's.
                logger.log(logging.ERROR if outcome.codes else logging.WARNING,
                           "%s on %s (device %d): %s%s", job.job_type, outcome.hostname,
                           outcome.device_id, f"{', '.join(outcome.codes)} " if outcome.codes
                           else "", outcome.message)
            summary.warnings.update(outcome.warnings)
            if notify and on_outcome is not None:
                on_outcome(outcome)

        try:
            run.supervise(deliver)
        except KeyboardInterrupt:
            for outcome in run.cancel_all("the run was interrupted before this device finished",
                                          code=None):
                deliver(outcome, notify=False)
            raise
        finally:
            summary.abandoned_threads = run.abandoned
        return summary


class _Run:
    """The state of one dispatch, shared by the supervisor and the worker threads (under lock)."""

    def __init__(self, dispatcher: Dispatcher, job: RunnableJob, devices: Sequence[DeviceInfo],
                 job_id: int) -> None:
        self.d = dispatcher
        self.job_type = job.job_type
        self.run_function = job.run
        self.job_id = job_id
        self.tasks = [_Task(device) for device in devices]
        self.todo: queue.SimpleQueue[_Task] = queue.SimpleQueue()
        for task in self.tasks:
            self.todo.put(task)
        self.done: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.running: set[_Task] = set()
        self.live_threads = 0
        self.abandoned = 0
        self.thread_count = 0

    # -- supervisor (the calling thread) ------------------------------------------------------

    def supervise(self, deliver: Callable[[Outcome], None]) -> None:
        remaining = len(self.tasks)
        for _ in range(min(self.d.pool_size, remaining)):
            self._start_thread()
        timeout = self.d.timeout
        check_every = min(_MAX_WAIT, timeout / 4)
        next_check = time.monotonic() + check_every
        while remaining:
            try:
                outcome = self.done.get(timeout=check_every)
            except queue.Empty:
                outcome = None
            if outcome is not None:
                deliver(outcome)
                remaining -= 1
            now = time.monotonic()
            if now < next_check:
                continue
            next_check = now + check_every
            for late in self._expire(now):
                deliver(late)
                remaining -= 1
            if remaining and self._stalled():
                for outcome in self.cancel_all(
                        f"not started: {self.abandoned} earlier calls of this job hung past the "
                        f"{timeout:g} s limit and still hold their threads", code="NRJ031"):
                    deliver(outcome)
                    remaining -= 1

    def _expire(self, now: float) -> list[Outcome]:
        limit = self.d.timeout
        with self.lock:
            late = [task for task in self.running if now - task.started >= limit]
            for task in late:
                task.state = _ABANDONED
                self.running.discard(task)
                self.live_threads -= 1
                self.abandoned += 1
        outcomes = []
        for task in late:
            logger.warning("%s on %s (device %d) still running after %g s: abandoned",
                           self.job_type, task.device.hostname, task.device.id, limit)
            outcomes.append(failure_outcome(
                job_id=self.job_id, job_type=self.job_type, device_id=task.device.id,
                hostname=task.device.hostname, violations=[timeout_violation(limit)],
                extra={"timeout_s": limit}))
            if self.abandoned <= self.d.max_abandoned and not self.todo.empty():
                self._start_thread()
        return outcomes

    def _stalled(self) -> bool:
        with self.lock:
            return self.live_threads == 0 and not self.todo.empty()

    def cancel_all(self, reason: str, *, code: str | None) -> list[Outcome]:
        """The rows of devices that finished but were not delivered yet, and failure rows for
        every device that has none (pending and running ones); ``code`` is the catalogue code
        that explains the failure, if one does."""
        finished: list[Outcome] = []
        with self.lock:
            while True:
                try:
                    finished.append(self.done.get_nowait())
                except queue.Empty:
                    break
            cancelled = [task for task in self.tasks if task.state in (_PENDING, _RUNNING)]
            for task in cancelled:
                task.state = _CANCELLED if task.state == _PENDING else _ABANDONED
            self.running.clear()
        violations = [Violation(code, reason)] if code else []
        return finished + [failure_outcome(job_id=self.job_id, job_type=self.job_type,
                                device_id=task.device.id, hostname=task.device.hostname,
                                violations=violations, message=reason,
                                extra={"not_run": task.state == _CANCELLED})
                for task in cancelled]

    def _start_thread(self) -> None:
        with self.lock:
            self.live_threads += 1
            self.thread_count += 1
            number = self.thread_count
        thread = threading.Thread(target=self._work, daemon=True,
                                  name=f"netraven-{self.job_type}-{number}")
        thread.start()

    # -- worker threads ------------------------------------------------------------------------

    def _work(self) -> None:
        # Each thread hands its calls a private copy of the configuration and makes a fresh one
        # only after a call changed it: every call sees the configuration as configured, and a
        # run of thousands of devices does not pay a deep copy per device.
        master = self.d.config
        config = _copy_config(master)
        while True:
            try:
                task = self.todo.get_nowait()
            except queue.Empty:
                with self.lock:
                    self.live_threads -= 1
                return
            with self.lock:
                if task.state != _PENDING:  # cancelled meanwhile
                    continue
                task.state = _RUNNING
                task.started = time.monotonic()
                self.running.add(task)
            outcome = self._execute(task.device, config)
            if not _same(config, master):
                config = _copy_config(master)
            with self.lock:
                if task.state != _RUNNING:
                    return  # abandoned after the time limit: a replacement thread took over
                task.state = _DONE
                self.running.discard(task)
                # Under the lock, so cancel_all() sees every finished row either in the queue
                # or not at all.
                self.done.put(outcome)

    def _execute(self, device: DeviceInfo, config: dict[str, Any]) -> Outcome:
        d = self.d
        db = None
        try:
            if d.session_factory is not None:
                db = d.session_factory()
            result = self.run_function(device, self.job_id, config, db)
        except BaseException as exc:  # SystemExit too: sys.exit() must not end the thread silently
            return failure_outcome(
                job_id=self.job_id, job_type=self.job_type, device_id=device.id,
                hostname=device.hostname, violations=[raised_violation(exc)],
                extra=exception_details(exc))
        finally:
            if db is not None:
                try:
                    db.close()
                except Exception as exc:  # a dead connection; the job's result still counts
                    logger.warning("closing the session of device %d failed: %s", device.id, exc)
        try:
            return self._evaluate(device, result)
        except Exception as exc:  # the result broke validation itself: still one row, saying so
            return failure_outcome(
                job_id=self.job_id, job_type=self.job_type, device_id=device.id,
                hostname=device.hostname, result=result, has_result=True,
                violations=[Violation("NRJ014", f"the result could not be validated: "
                                                f"{type(exc).__name__}: {exc}")])

    def _evaluate(self, device: DeviceInfo, result: object) -> Outcome:
        # normalize_result runs the very checks of validate_result (one pass, not two) and
        # raises with every violation when one is an error.
        result_time = utcnow()
        common = {"job_id": self.job_id, "job_type": self.job_type, "device_id": device.id,
                  "hostname": device.hostname, "result_time": result_time}
        try:
            normalized = normalize_result(result, device_id=device.id,  # type: ignore[arg-type]
                                          max_details_bytes=self.d.max_details_bytes,
                                          max_depth=self.d.max_details_depth)
        except InvalidResultError as invalid:
            errors = [v for v in invalid.violations if v.severity is Severity.ERROR]
            return failure_outcome(violations=errors, result=result, has_result=True, **common)
        warnings = dict.fromkeys(v.code for v in normalized.warnings)
        try:
            return stored_outcome(status=normalized.status, details=normalized.details,
                                  warnings=warnings, **common)
        except JSONBError as exc:  # the last line of defence: never reached when validation agrees
            violation = Violation("NRJ014", RULES["NRJ014"].format(
                at="", kind="not storable", why=str(exc), fix="store plain JSON values"))
            return failure_outcome(violations=[violation], result=result, has_result=True,
                                   **common)


def _same(copy_: Any, master: Any) -> bool:
    try:
        return bool(copy_ == master)
    except Exception:  # a value whose __eq__ raises: assume it changed
        return False


def _copy_config(value: Any) -> Any:
    """A private copy of the (JSON-shaped) configuration, so a job that changes its config
    changes no other call's. Dicts and lists are rebuilt, immutable scalars shared; anything else
    is deep-copied (a few times faster than ``copy.deepcopy`` on NetRaven's config)."""
    cls = type(value)
    if cls is dict:
        return {key: _copy_config(item) for key, item in value.items()}
    if cls is list:
        return [_copy_config(item) for item in value]
    if cls in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE: Final = frozenset({str, int, float, bool, type(None), bytes})


# -- a whole run: Job row, dispatch, writer, final status ---------------------------------------


@dataclass(slots=True)
class RunReport:
    job_id: int
    job_type: str
    status: str
    dispatch: DispatchSummary
    store: StoreReport
    status_recorded: bool = True  # False: the final status waits in the spool

    @property
    def complete(self) -> bool:
        """Every row (and the run's status) is in the database, none waits in the spool."""
        return self.store.spooled == 0 and self.store.lost == 0 and self.status_recorded

    @property
    def spooled(self) -> int:
        return self.store.spooled


def create_job(engine: Engine, job_type: str, *, name: str | None = None,
               retry: RetryPolicy = RetryPolicy()) -> int:
    """Insert the ``jobs`` row of a run (status ``running``) and return its id.

    Retried like result writes; raises :class:`~netraven.db.engine.DatabaseUnavailable` when the
    database stays down (nothing has run yet, so nothing is lost).
    """
    if len(job_type) > JOB_TYPE_LENGTH:
        raise ValueError(f"job type {job_type!r} is longer than {JOB_TYPE_LENGTH} characters")
    deadline = time.monotonic() + retry.seconds
    delay = retry.initial
    while True:
        try:
            with Session(engine) as session:
                job = Job(name=name or job_type, job_type=job_type, status=JOB_RUNNING,
                          started_at=utcnow())
                session.add(job)
                session.commit()
                return job.id
        except sa_exc.SQLAlchemyError as exc:
            error = as_database_error(exc, engine)
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise error from exc
            time.sleep(delay)
            delay = min(delay * 2, retry.maximum)


def run_job(engine: Engine, job: RunnableJob, devices: Sequence[DeviceInfo], *,
            config: Mapping[str, Any] | None = None, pool_size: int = DEFAULT_POOL_SIZE,
            timeout: float = DEFAULT_TIMEOUT, spool: Spool, retry: RetryPolicy = RetryPolicy(),
            batch_size: int | None = None, name: str | None = None,
            on_outcome: Callable[[Outcome], None] | None = None,
            max_abandoned: int | None = None) -> RunReport:
    """Create the run's ``Job`` row, dispatch ``job`` over ``devices``, write every device's row
    (or spool it), and set the run's final status. The production entry point behind
    ``netraven run``."""
    job_id = create_job(engine, job.job_type, name=name, retry=retry)
    store = ResultStore(engine, spool=spool, retry=retry,
                        **({"batch_size": batch_size} if batch_size else {}))
    writer = BackgroundWriter(store)
    dispatcher = Dispatcher(session_factory=sessionmaker(engine), config=config,
                            pool_size=pool_size, timeout=timeout, max_abandoned=max_abandoned)
    interrupted = False
    summary = DispatchSummary(total=len(devices))
    try:
        summary = dispatcher.dispatch(job, devices, job_id=job_id, sink=writer.submit,
                                      on_outcome=on_outcome)
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        store_report = writer.close()
        status = (JOB_INTERRUPTED if interrupted
                  else JOB_SUCCESS if summary.failed == 0 and summary.succeeded == len(devices)
                  else JOB_FAILURE)
        recorded = store.set_job_status(job_id, status, utcnow())
    return RunReport(job_id, job.job_type, status, summary, store_report, recorded)

