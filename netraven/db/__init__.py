"""NetRaven's database layer: typed models, engine set-up, strict JSON.

Importing this package defines names only; no engine is created until a caller asks for one.
"""

from __future__ import annotations

from .engine import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_FILE,
    DatabaseError,
    DatabaseUnavailable,
    DatabaseURLError,
    SchemaMissing,
    as_database_error,
    create_db_engine,
    display_url,
    ensure_schema,
    init_db,
    is_transient,
    resolve_database_url,
)
from .jsonb import JSONBError, JSONText, dumps_strict
from .models import Base, Device, DeviceConfiguration, Job, JobResult, result_key

__all__ = [
    "DATABASE_URL_ENV", "DEFAULT_DATABASE_FILE", "Base", "DatabaseError", "DatabaseURLError",
    "DatabaseUnavailable", "Device", "DeviceConfiguration", "JSONBError", "JSONText", "Job",
    "JobResult", "SchemaMissing", "as_database_error", "create_db_engine", "display_url",
    "dumps_strict", "ensure_schema", "init_db", "is_transient", "resolve_database_url",
    "result_key",
]
