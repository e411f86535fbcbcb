"""The worker's configuration: NetRaven's shape (``worker.*``, ``ssh.*``, ``redaction.patterns``).

Every job receives this dict as its ``config`` argument. Defaults live here; ``netraven run
--config FILE`` merges a JSON file over them (nested sections key by key).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

#: Lines of a configuration matching one of these (case-insensitive regular expressions) have
#: everything after the match replaced before a snapshot is stored.
#: A keyword must be followed by whitespace (a value), so ``service password-encryption`` stays.
DEFAULT_REDACTION_PATTERNS: Final = (
    r"\bpassword(\s+\d)?(?=\s)",
    r"\bsecret(\s+\d)?(?=\s)",
    r"\bsnmp-server community(?=\s)",
    r"\bkey-string(\s+\d)?(?=\s)",
    r"\bpre-shared-key(?=\s)",
    r"\bauthentication-key(?=\s)",
    r"\bencrypted-password(?=\s)",
)

DEFAULTS: Final[Mapping[str, Any]] = {
    "worker": {
        "thread_pool_size": 5,      # devices run at the same time
        "job_timeout": 60.0,        # seconds per device before the job is abandoned (NRJ031)
        "batch_size": 500,          # result rows per INSERT
        "db_retry_seconds": 20.0,   # how long a write is retried before it goes to the spool
    },
    "ssh": {
        "timeout": 30.0,
        "username": None,
        "password": None,
        "enable_secret": None,
    },
    "redaction": {"patterns": list(DEFAULT_REDACTION_PATTERNS)},
    "reachability": {"timeout": 2.0, "tcp_ports": [22, 443]},
}


class ConfigError(ValueError):
    """The configuration file cannot be read, is not JSON, or has a value of the wrong type."""


def default_config() -> dict[str, Any]:
    """A fresh, mutable copy of the defaults."""
    return copy.deepcopy(dict(DEFAULTS))


def merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``override``, nested dicts merged key by key (``base`` is changed)."""
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def load_config(path: str | Path | None = None) -> dict[str, Any]:
    """The defaults, merged with the JSON object in ``path`` when one is given."""
    config = default_config()
    if path is None:
        return config
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"configuration {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"configuration {path} must hold a JSON object, not {type(data).__name__}")
    merge(config, data)
    worker = config.get("worker")
    if not isinstance(worker, dict):
        raise ConfigError(f"configuration {path}: \"worker\" must be an object")
    for key, kind in (("thread_pool_size", int), ("job_timeout", (int, float)),
                      ("batch_size", int), ("db_retry_seconds", (int, float))):
        value = worker.get(key)
        if isinstance(value, bool) or not isinstance(value, kind) or value <= 0:
            raise ConfigError(f"configuration {path}: worker.{key} must be a positive number, "
                              f"not {value!r}")
    return config
