"""The spool: results (and run statuses) that could not be written because the database stayed down.

A JSON-lines file, one record per line, appended under an exclusive lock and flushed to disk
before the writer moves on, so a result that left the dispatcher is either in the database or
here. ``netraven results replay`` writes the records with the same insert-or-ignore as the
dispatcher (a record already in the database is skipped, never duplicated) and keeps in the file
only what still could not be written.

Line format (version 1)::

    {"v": 1, "kind": "result", "spooled_at": ISO-8601, "reason": "...", "row": {result_key,
     job_id, device_id, job_type, status, result_time (ISO-8601), details}}
    {"v": 1, "kind": "job_status", "spooled_at": ..., "job_id": 7, "status": "success",
     "completed_at": ISO-8601}
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Final

from .outcomes import ResultRow, utcnow

try:  # POSIX; elsewhere only one process at a time may use a spool file
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

SPOOL_ENV: Final = "NETRAVEN_SPOOL"
DEFAULT_SPOOL_FILE: Final = "netraven-spool.jsonl"
FORMAT_VERSION: Final = 1
KIND_RESULT: Final = "result"
KIND_JOB_STATUS: Final = "job_status"


def default_spool_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``explicit``, else ``$NETRAVEN_SPOOL``, else ``netraven-spool.jsonl`` in the working directory."""
    return Path(explicit or os.environ.get(SPOOL_ENV) or DEFAULT_SPOOL_FILE)


@dataclass(frozen=True, slots=True)
class JobStatusRecord:
    job_id: int
    status: str
    completed_at: datetime


@dataclass(slots=True)
class SpoolContents:
    """What a spool file holds: parsed records with their original lines, and unreadable lines."""

    results: list[tuple[str, ResultRow]] = field(default_factory=list)
    statuses: list[tuple[str, JobStatusRecord]] = field(default_factory=list)
    bad_lines: list[tuple[int, str, str]] = field(default_factory=list)  # (number, line, why)


class SpoolError(OSError):
    """The spool file cannot be written or read."""


class Spool:
    """A spool file at ``path`` (created on first append)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Spool({str(self.path)!r})"

    @contextlib.contextmanager
    def locked(self) -> Iterator[BinaryIO]:
        """Hold an exclusive lock on the spool file (between processes: a dispatcher appending, a
        replay rewriting); yields the file opened for appending (created when absent).

        The lock is the file's own ``flock``. A replay replaces the file (``os.replace``) while
        holding it, so whoever waited on the old file reopens the path and locks again, and no
        append can land in a file that is no longer the spool.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            handle = open(self.path, "ab")
            if fcntl is None:
                break
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path)
                opened = os.fstat(handle.fileno())
                if (current.st_dev, current.st_ino) == (opened.st_dev, opened.st_ino):
                    break
            except FileNotFoundError:
                pass
            handle.close()  # replaced or removed while we waited: lock the file that is there now
        try:
            yield handle
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    def append_results(self, rows: Sequence[ResultRow], reason: str) -> None:
        spooled_at = utcnow().isoformat()
        self._append([_dumps({"v": FORMAT_VERSION, "kind": KIND_RESULT, "spooled_at": spooled_at,
                              "reason": reason, "row": row.to_record()}) for row in rows])

    def append_job_status(self, job_id: int, status: str, completed_at: datetime) -> None:
        self._append([_dumps({"v": FORMAT_VERSION, "kind": KIND_JOB_STATUS,
                              "spooled_at": utcnow().isoformat(), "job_id": job_id,
                              "status": status, "completed_at": completed_at.isoformat()})])

    def _append(self, lines: Sequence[str]) -> None:
        if not lines:
            return
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        try:
            with self.locked() as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise SpoolError(f"cannot append to the spool {self.path}: {exc.strerror or exc}") from exc

    def exists(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > 0

    def read(self) -> SpoolContents:
        """Parse the file (call with :meth:`locked` held when others may write)."""
        contents = SpoolContents()
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return contents
        except OSError as exc:
            raise SpoolError(f"cannot read the spool {self.path}: {exc.strerror or exc}") from exc
        for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or record.get("v") != FORMAT_VERSION:
                    raise ValueError(f"not a version-{FORMAT_VERSION} spool record")
                kind = record.get("kind")
                if kind == KIND_RESULT:
                    contents.results.append((line, ResultRow.from_record(record["row"])))
                elif kind == KIND_JOB_STATUS:
                    completed_at = datetime.fromisoformat(record["completed_at"])
                    if type(record["job_id"]) is not int or not isinstance(record["status"], str) \
                            or completed_at.tzinfo is None:
                        raise ValueError("bad job_status record")
                    contents.statuses.append((line, JobStatusRecord(
                        record["job_id"], record["status"], completed_at)))
                else:
                    raise ValueError(f"unknown record kind {kind!r}")
            except (ValueError, KeyError, TypeError) as exc:
                contents.bad_lines.append((number, line, f"{type(exc).__name__}: {exc}"))
        return contents

    def rewrite(self, lines: Sequence[str]) -> None:
        """Replace the file's content with ``lines`` atomically; remove it when empty
        (call with :meth:`locked` held)."""
        try:
            if not lines:
                self.path.unlink(missing_ok=True)
                return
            temporary = self.path.with_name(self.path.name + ".tmp")
            with open(temporary, "wb") as handle:
                handle.write("".join(line + "\n" for line in lines).encode("utf-8"))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            raise SpoolError(f"cannot rewrite the spool {self.path}: {exc.strerror or exc}") from exc


def _dumps(record: dict[str, Any]) -> str:
    # ensure_ascii: one record per line whatever the details hold (no raw U+2028 surprises).
    return json.dumps(record, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
