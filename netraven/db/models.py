"""The worker's tables, as SQLAlchemy 2.x typed declarative models.

``job_results`` matches NetRaven's table column for column (``job_type`` String(32), ``status``
String(16), a timezone-aware ``result_time``, ``details`` as JSONB on PostgreSQL and JSON
elsewhere) and adds ``result_key``: one unique key per (run, device), so an insert retried after a
lost acknowledgement, or replayed from the spool, can never produce a second row.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Final

from sqlalchemy import JSON, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from netraven_contracts import contract

#: Column widths that the worker checks before writing (PostgreSQL enforces them, SQLite does not).
JOB_TYPE_LENGTH: Final = contract.JOB_TYPE_MAX_LENGTH
STATUS_LENGTH: Final = 16
RESULT_KEY_LENGTH: Final = 64

#: ``jobs.status`` values. A run ends as success only when every device's row is a success.
JOB_RUNNING: Final = "running"
JOB_SUCCESS: Final = "success"
JOB_FAILURE: Final = "failure"
JOB_INTERRUPTED: Final = "interrupted"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime on every backend.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as UTC and
    read back with ``tzinfo=UTC``. Naive datetimes are refused: their meaning depends on the
    machine that wrote them.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


#: One column type for JSON documents: JSONB on PostgreSQL, JSON elsewhere.
JSON_DOCUMENT: Final = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


class Base(DeclarativeBase):
    type_annotation_map = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON_DOCUMENT,
    }


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255), unique=True)
    ip_address: Mapped[str] = mapped_column(String(45))  # long enough for any IPv6 text form
    device_type: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(default=22)
    # What the jobs read besides the address: SSH credentials (config_backup falls back to the
    # worker configuration's ssh.username / ssh.password) and inventory facts.
    username: Mapped[str | None] = mapped_column(String(128))
    password: Mapped[str | None] = mapped_column(String(255))
    serial_number: Mapped[str | None] = mapped_column(String(128))
    model: Mapped[str | None] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    def __repr__(self) -> str:  # never the password
        return f"Device(id={self.id!r}, hostname={self.hostname!r}, ip_address={self.ip_address!r})"


class Job(Base):
    """One run of one job type over a set of devices."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    job_type: Mapped[str] = mapped_column(String(JOB_TYPE_LENGTH), index=True)
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), index=True, default=JOB_RUNNING)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class JobResult(Base):
    """Exactly one row per device per run: what the job returned, or why it failed."""

    __tablename__ = "job_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    result_key: Mapped[str] = mapped_column(String(RESULT_KEY_LENGTH), unique=True)
    job_id: Mapped[int] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    job_type: Mapped[str] = mapped_column(String(JOB_TYPE_LENGTH), index=True)
    status: Mapped[str] = mapped_column(String(STATUS_LENGTH), index=True)
    result_time: Mapped[datetime] = mapped_column(index=True)
    details: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class DeviceConfiguration(Base):
    """A redacted running-configuration snapshot, stored by ``config_backup`` when it changed."""

    __tablename__ = "device_configurations"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    config_data: Mapped[str] = mapped_column(Text)
    data_hash: Mapped[str] = mapped_column(String(64), index=True)
    retrieved_at: Mapped[datetime] = mapped_column(index=True)
    config_metadata: Mapped[dict[str, Any] | None]


def result_key(job_id: int, device_id: int) -> str:
    """The idempotency key of a device's row in a run: one run, one device, one row."""
    return f"{job_id}:{device_id}"
