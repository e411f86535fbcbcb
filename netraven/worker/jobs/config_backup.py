"""Configuration backup: retrieve the running configuration, redact secrets, store it if it changed.

The configuration is read over SSH (``netraven.worker.drivers.ssh``; netmiko when installed).
Every line matching one of ``config["redaction"]["patterns"]`` (case-insensitive regular
expressions) keeps the text up to the end of the match and loses the rest, so secrets never reach
the database. The redacted text is hashed (SHA-256) and compared with the device's latest
snapshot in ``device_configurations``: a new row is stored only when the hash differs. Hashing
the redacted text means a change of a secret alone stores no new snapshot; nothing secret-derived
is ever stored.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timezone

from sqlalchemy import select

from netraven.config import DEFAULT_REDACTION_PATTERNS
from netraven.db.models import DeviceConfiguration
from netraven.worker.drivers import ssh

JOB_META = {
    "label": "Configuration backup",
    "description": "Retrieves the running configuration over SSH, redacts secrets and stores a "
                   "snapshot when it changed.",
    "icon": "mdi-content-save",
    "default_schedule": "daily",
}

REDACTED = "<redacted>"


def _redaction_patterns(config: object) -> list[re.Pattern[str]]:
    """The compiled ``redaction.patterns``; the defaults when the section is absent.

    An explicit empty list turns redaction off. Raises ValueError for a pattern that is not a
    string or not a valid regular expression.
    """
    section = config.get("redaction") if isinstance(config, Mapping) else None
    if not isinstance(section, Mapping) or "patterns" not in section:
        patterns: object = DEFAULT_REDACTION_PATTERNS
    else:
        patterns = section["patterns"]
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, (list, tuple)):
        raise ValueError(f"redaction.patterns must be a list of regular expressions, "
                         f"not {type(patterns).__name__}")
    compiled = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise ValueError(f"redaction pattern {pattern!r} is not a string")
        try:
            compiled.append(re.compile(pattern, re.IGNORECASE))
        except re.error as exc:
            raise ValueError(f"redaction pattern {pattern!r} is not a valid regular expression: "
                             f"{exc}") from None
    return compiled


def redact(text: str, patterns: list[re.Pattern[str]]) -> tuple[str, int]:
    """``text`` with the secret part of every matching line replaced; and how many lines matched."""
    out = []
    count = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body):]
        for pattern in patterns:
            match = pattern.search(body)
            if match is not None:
                body = f"{body[:match.end()].rstrip()} {REDACTED}"
                count += 1
                break
        out.append(body + ending)
    return "".join(out), count


def _first_line(exc: BaseException) -> str:
    # SQLAlchemy appends the SQL and a help link after the driver's message.
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def run(device, job_id, config, db):
    try:
        patterns = _redaction_patterns(config)
    except ValueError as exc:
        return {"success": False, "device_id": device.id,
                "details": {"stage": "configuration", "error": str(exc)}}

    command = ssh.running_config_command(getattr(device, "device_type", None))
    try:
        raw = ssh.get_running_config(device, config)
    except ssh.DriverUnavailable as exc:
        return {"success": False, "device_id": device.id,
                "details": {"stage": "driver", "error": str(exc), "command": command}}
    except (ssh.DriverError, OSError) as exc:
        return {"success": False, "device_id": device.id,
                "details": {"stage": "retrieve", "error": str(exc), "command": command}}

    # PostgreSQL text columns refuse NUL; a terminal that emits one should not cost the backup.
    nul_count = raw.count("\x00")
    text, redacted_lines = redact(raw.replace("\x00", ""), patterns)
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    retrieved_at = datetime.now(timezone.utc)
    summary = {
        "data_hash": digest,
        "size_bytes": len(text.encode("utf-8", "surrogatepass")),
        "lines": len(text.splitlines()),
        "redacted_lines": redacted_lines,
        "command": command,
        "retrieved_at": retrieved_at.isoformat(),
    }
    if nul_count:
        summary["nul_characters_removed"] = nul_count

    try:
        latest = db.scalars(
            select(DeviceConfiguration)
            .where(DeviceConfiguration.device_id == device.id)
            .order_by(DeviceConfiguration.retrieved_at.desc(), DeviceConfiguration.id.desc())
            .limit(1)
        ).first()
        previous_id = None if latest is None else latest.id
        if latest is not None and latest.data_hash == digest:
            unchanged = {"changed": False, "snapshot_id": latest.id}
            return {"success": True, "device_id": device.id, "details": {**summary, **unchanged}}
        snapshot = DeviceConfiguration(
            device_id=device.id,
            config_data=text,
            data_hash=digest,
            retrieved_at=retrieved_at,
            config_metadata={"job_id": job_id, "command": command,
                             "redacted_lines": redacted_lines},
        )
        db.add(snapshot)
        db.flush()
        snapshot_id = snapshot.id
        db.commit()
    except Exception as exc:  # any database failure: report it, keep the session usable
        try:
            db.rollback()
        except Exception:  # the connection may be gone; the session is closed by the worker
            pass
        return {"success": False, "device_id": device.id,
                "details": {**summary, "stage": "store", "error": _first_line(exc)}}

    stored = {"changed": True, "snapshot_id": snapshot_id, "previous_snapshot_id": previous_id}
    return {"success": True, "device_id": device.id, "details": {**summary, **stored}}
