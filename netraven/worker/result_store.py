"""Writing ``job_results`` rows: batched, idempotent, retried, and spooled when the database stays down.

* **Batched**: rows go in as one multi-row ``INSERT`` per batch (SQLAlchemy's "insertmanyvalues"),
  one transaction per batch instead of one commit per row.
* **Idempotent**: ``INSERT ... ON CONFLICT (result_key) DO NOTHING``; a batch retried after a lost
  acknowledgement, or replayed from the spool, cannot create a second row for a device.
* **One bad row never costs the others**: a batch the database refuses for a reason other than
  connectivity is retried row by row; a row refused on its own is replaced by a failure row that
  says why (with a repr of what was refused), and only if even that is refused does it go to the
  spool.
* **Nothing is lost**: connectivity errors (database down, connections terminated or refused,
  SQLite locked) are retried with exponential back-off for ``retry_seconds``; after that the rows
  go to the spool (:mod:`netraven.worker.spool`). While the database is known to be down, later
  batches get one attempt every ``probe_interval`` seconds instead of a full retry budget each, so
  a run finishes promptly.

Each writer uses its own connections (Core, no ORM session) from the engine's pool, in the thread
that calls it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

from sqlalchemy import Engine, update
from sqlalchemy import exc as sa_exc

from netraven.db.engine import DatabaseUnavailable, describe_error, display_url, is_transient
from netraven.db.jsonb import JSONBError, JSONText
from netraven.db.models import Job, JobResult

from .outcomes import ResultRow, safe_text
from .spool import Spool, SpoolError

logger = logging.getLogger("netraven.results")

DEFAULT_BATCH_SIZE: Final = 500
DEFAULT_RETRY_SECONDS: Final = 20.0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential back-off: ``initial``, doubling up to ``maximum``, for ``seconds`` in all."""

    seconds: float = DEFAULT_RETRY_SECONDS
    initial: float = 0.05
    maximum: float = 2.0
    #: While the database is down: how often a batch may try it again before going to the spool.
    probe_interval: float = 2.0


@dataclass(slots=True)
class StoreReport:
    """What became of the rows handed to a :class:`ResultStore`."""

    stored: int = 0          # new rows in job_results
    duplicates: int = 0      # already there (same result_key): a retry or replay that had landed
    substituted: int = 0     # refused by the database, stored as a failure row saying why
    spooled: int = 0         # in the spool file, waiting for `netraven results replay`
    lost: int = 0            # neither stored nor spooled (the spool itself failed): logged
    batches: int = 0
    errors: list[str] = field(default_factory=list)  # one line per problem, for the summary
    #: Rows refused for good, when there is no spool to keep them (replay keeps their lines).
    unstored: list[ResultRow] = field(default_factory=list)

    def add(self, other: StoreReport) -> None:
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.substituted += other.substituted
        self.spooled += other.spooled
        self.lost += other.lost
        self.batches += other.batches
        self.errors.extend(other.errors)
        self.unstored.extend(other.unstored)


#: The columns a result row fills, in ``ResultRow.values()`` order.
_COLUMNS: Final = ("result_key", "job_id", "device_id", "job_type", "status", "result_time",
                   "details")


class _PermanentError(Exception):
    """The database refused the statement for a reason retrying cannot fix."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _GaveUp(Exception):
    """The database stayed unreachable for the whole retry budget."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ResultStore:
    """Writes :class:`ResultRow` batches to ``engine``; spools what it cannot write.

    With ``spool=None`` (replay) nothing is spooled: :meth:`store` raises
    :class:`DatabaseUnavailable` when the database stays down, and lists rows refused for good in
    :attr:`StoreReport.unstored`; the caller's copy (the spool line) is then the only one.
    Not thread-safe: one store per writer thread.
    """

    def __init__(self, engine: Engine, *, spool: Spool | None,
                 retry: RetryPolicy = RetryPolicy(), batch_size: int = DEFAULT_BATCH_SIZE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.engine = engine
        self.spool = spool
        self.retry = retry
        self.batch_size = batch_size
        self._sleep = sleep
        self._down_since: float | None = None  # monotonic time of the last failed attempt
        self._down_reason = ""
        self._spooling = False  # rows went to the spool since the database was last reachable
        self._postgresql = engine.dialect.name == "postgresql"
        # The columns' own bind processors (the UTC conversion, the strict JSON serializer, the
        # dialect's datetime format), so rows go to the driver exactly as the ORM would send them.
        columns = [JobResult.__table__.c[name] for name in _COLUMNS]
        self._processors = [c.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
                            for c in columns]
        preparer = engine.dialect.identifier_preparer
        self._insert_head = (f"INSERT INTO {preparer.format_table(JobResult.__table__)} "
                             f"({', '.join(preparer.quote(c.name) for c in columns)}) VALUES ")
        self._conflict = f" ON CONFLICT ({preparer.quote('result_key')}) DO NOTHING"

    # -- results -------------------------------------------------------------------------------

    def store(self, rows: Sequence[ResultRow]) -> StoreReport:
        """Write ``rows`` (any number; split into batches). Never raises for a bad row."""
        report = StoreReport()
        for start in range(0, len(rows), self.batch_size):
            self._store_batch(rows[start:start + self.batch_size], report)
        return report

    def _store_batch(self, batch: Sequence[ResultRow], report: StoreReport) -> None:
        try:
            inserted = self._with_retry(lambda: self._insert_rows(batch))
        except _GaveUp as gave_up:
            self._to_spool(batch, gave_up.reason, report, transient=True)
            return
        except _PermanentError as refused:
            if len(batch) > 1:
                # Find the row(s) at fault without losing the others.
                for row in batch:
                    self._store_batch([row], report)
                return
            self._substitute(batch[0], refused.reason, report)
            return
        report.batches += 1
        report.stored += inserted
        report.duplicates += len(batch) - inserted

    def _values(self, row: ResultRow) -> list[Any]:
        return [value if process is None else process(value)
                for process, value in zip(self._processors, row.values())]

    def _insert_rows(self, batch: Sequence[ResultRow]) -> int:
        """Insert-or-ignore ``batch`` in one transaction; returns how many rows were new.

        One multi-row ``INSERT ... VALUES (...), (...) ON CONFLICT (result_key) DO NOTHING`` on
        PostgreSQL, an ``executemany`` of the one-row form on SQLite (in-process, as fast).
        Driver-level SQL: SQLAlchemy's per-row parameter handling cost more than the database's
        own work here (see docs/benchmarks.md); errors still come wrapped and classified by
        SQLAlchemy, and dead connections are still invalidated.
        """
        with self.engine.begin() as connection:
            if self._postgresql:
                row_sql = "(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"
                sql = self._insert_head + ", ".join([row_sql] * len(batch)) + self._conflict
                params = tuple(value for row in batch for value in self._values(row))
                result = connection.exec_driver_sql(sql, params)
            else:
                sql = (self._insert_head + "(" + ", ".join(["?"] * len(_COLUMNS)) + ")"
                       + self._conflict)
                result = connection.exec_driver_sql(sql, [tuple(self._values(r)) for r in batch])
            return result.rowcount

    def _substitute(self, row: ResultRow, reason: str, report: StoreReport) -> None:
        details = {
            "error": f"the database refused this result: {safe_text(reason, 500)}",
            "codes": ["NRJ014"],
            "violations": [],
            "refused_status": row.status,
            "result_repr": safe_text(row.details.text, 2000),
        }
        replacement = ResultRow(row.result_key, row.job_id, row.device_id, row.job_type,
                                "failure", row.result_time, JSONText.of(details))
        try:
            inserted = self._with_retry(lambda: self._insert_rows([replacement]))
        except _GaveUp as gave_up:
            self._to_spool([replacement], gave_up.reason, report, transient=True)
            return
        except _PermanentError as refused_again:
            # E.g. the device or the job was deleted meanwhile: keep the original, unchanged.
            report.errors.append(f"job {row.job_id} device {row.device_id}: cannot be stored "
                                 f"({refused_again.reason}); kept in the spool")
            self._to_spool([row], refused_again.reason, report, transient=False)
            return
        report.substituted += inserted
        report.duplicates += 1 - inserted
        message = (f"job {row.job_id} device {row.device_id}: the database refused the "
                   f"result ({safe_text(reason, 200)}); stored a failure row instead")
        logger.error(message)
        report.errors.append(message)

    def _to_spool(self, rows: Sequence[ResultRow], reason: str, report: StoreReport, *,
                  transient: bool) -> None:
        if self.spool is None:
            if transient:
                raise DatabaseUnavailable(f"cannot reach {display_url(self.engine.url)}: {reason}")
            report.unstored.extend(rows)
            return
        try:
            self.spool.append_results(rows, reason)
        except SpoolError as exc:
            # Nowhere left to put them: say exactly what is lost, loudly.
            keys = ", ".join(row.result_key for row in rows[:10])
            message = (f"{len(rows)} result(s) LOST ({keys}{', ...' if len(rows) > 10 else ''}): "
                       f"database: {reason}; spool: {exc}")
            logger.critical(message)
            report.errors.append(message)
            report.lost += len(rows)
            return
        report.spooled += len(rows)
        # Loud once per outage, quiet for the batches that follow it into the spool.
        level = logging.INFO if self._spooling else logging.WARNING
        self._spooling = True
        logger.log(level, "database unavailable (%s): %d result(s) appended to the spool %s; "
                   "run `netraven results replay` once it is back", reason, len(rows),
                   self.spool.path)

    # -- job status ----------------------------------------------------------------------------

    def set_job_status(self, job_id: int, status: str, completed_at: datetime) -> bool:
        """Set the run's final status; spool it when the database is down. True when written."""
        def apply() -> None:
            with self.engine.begin() as connection:
                connection.execute(update(Job).where(Job.id == job_id)
                                   .values(status=status, completed_at=completed_at))
        try:
            self._with_retry(apply)
            return True
        except (_GaveUp, _PermanentError) as exc:
            if self.spool is None:
                raise DatabaseUnavailable(
                    f"cannot reach {display_url(self.engine.url)}: {exc}") from None
            try:
                self.spool.append_job_status(job_id, status, completed_at)
            except SpoolError as spool_exc:
                logger.error("job %d: status %r not recorded: %s", job_id, status, spool_exc)
            return False

    # -- retrying ------------------------------------------------------------------------------

    def _with_retry(self, attempt: Callable[[], T]) -> T:
        now = time.monotonic()
        if self._down_since is not None and now - self._down_since < self.retry.probe_interval:
            raise _GaveUp(self._down_reason)  # known down, probed moments ago: do not wait again
        budget = self.retry.seconds if self._down_since is None else 0.0
        deadline = now + budget
        delay = self.retry.initial
        while True:
            try:
                value = attempt()
            except (sa_exc.SQLAlchemyError, JSONBError) as exc:
                if not is_transient(exc):
                    raise _PermanentError(describe_error(exc)) from exc
                reason = describe_error(exc)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    self._down_since = time.monotonic()
                    self._down_reason = reason
                    raise _GaveUp(reason) from exc
                logger.info("database unavailable (%s); retrying in %.2f s", reason,
                            min(delay, remaining))
                self._sleep(min(delay, remaining))
                delay = min(delay * 2, self.retry.maximum)
                continue
            if self._down_since is not None:
                logger.warning("database reachable again")
            self._down_since = None
            self._spooling = False
            return value


_STOP: Final = object()


class BackgroundWriter:
    """A thread that takes rows from the dispatcher and writes them through a :class:`ResultStore`.

    Batches form by themselves: while one batch is being written, the rows that arrive queue up
    and make the next batch (up to ``store.batch_size``), so a fast run writes large batches and
    a slow one writes each row promptly.
    """

    def __init__(self, store: ResultStore) -> None:
        self.store = store
        self.report = StoreReport()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="netraven-result-writer",
                                        daemon=False)
        self._thread.start()

    def submit(self, row: ResultRow) -> None:
        self._queue.put(row)

    def close(self) -> StoreReport:
        """Write what is queued, stop the thread, and return what became of every row."""
        self._queue.put(_STOP)
        self._thread.join()
        if self._failure is not None:
            raise self._failure
        return self.report

    def _loop(self) -> None:
        pending: list[Any] = []
        stop = False
        while not stop:
            item = self._queue.get()
            pending.clear()
            while True:
                if item is _STOP:
                    stop = True
                    break
                pending.append(item)
                if len(pending) >= self.store.batch_size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if pending:
                try:
                    self.report.add(self.store.store(pending))
                except BaseException as exc:  # a bug: keep the rows, tell the dispatcher
                    self._rescue(pending, exc)

    def _rescue(self, rows: Sequence[ResultRow], exc: BaseException) -> None:
        logger.exception("result writer failed; spooling %d row(s)", len(rows))
        if self._failure is None:
            self._failure = exc
        spool = self.store.spool
        if spool is not None:
            try:
                spool.append_results(rows, f"writer error: {type(exc).__name__}: {exc}")
                self.report.spooled += len(rows)
            except SpoolError:
                logger.critical("%d result(s) lost: %s", len(rows), exc)
                self.report.lost += len(rows)



@dataclass(slots=True)
class ReplayReport:
    stored: int = 0
    duplicates: int = 0
    substituted: int = 0
    statuses: int = 0
    kept: int = 0                                        # lines left in the spool
    problems: list[str] = field(default_factory=list)    # why each kept line was kept


def replay_spool(engine: Engine, spool: Spool, *, retry: RetryPolicy = RetryPolicy(seconds=5.0),
                 batch_size: int = DEFAULT_BATCH_SIZE) -> ReplayReport:
    """Write the spooled results and run statuses, then keep in the spool only what could not be
    written (records refused for good, unreadable lines).

    Idempotent: a record already in the database is skipped (same ``result_key``). Raises
    :class:`DatabaseUnavailable` when the database is still down; the spool is then unchanged.
    """
    report = ReplayReport()
    with spool.locked():
        contents = spool.read()
        store = ResultStore(engine, spool=None, retry=retry, batch_size=batch_size)
        written = store.store([row for _line, row in contents.results])
        report.stored, report.duplicates = written.stored, written.duplicates
        report.substituted = written.substituted
        refused = {row.result_key for row in written.unstored}
        keep = [line for line, row in contents.results if row.result_key in refused]
        report.problems.extend(written.errors)
        # Statuses after results: a run's status describes rows that are now all stored.
        for _line, status in contents.statuses:
            store.set_job_status(status.job_id, status.status, status.completed_at)
            report.statuses += 1
        for number, line, why in contents.bad_lines:
            keep.append(line)
            report.problems.append(f"{spool.path}:{number}: unreadable record kept ({why})")
        spool.rewrite(keep)
        report.kept = len(keep)
    return report
