"""The job-result contract: the one place that says what a NetRaven job module must look like.

Every other part of the project (static checker, runtime validator, pytest plugin, job registry,
dispatcher) reads these names; none of them restates a key, a type or a limit.

A job module ``netraven/worker/jobs/<job_type>.py`` defines

* ``JOB_META``: a dict literal with the str keys of :data:`JOB_META_SCHEMA` (other keys allowed);
* ``run(device, job_id, config, db)``: called once per device, returns a dict with the required
  keys of :data:`REQUIRED_KEYS`, optionally :data:`DETAILS_KEY` (a dict stored as JSON in a
  PostgreSQL JSONB column), and nothing that collides with a ``job_results`` column
  (:data:`RESERVED_KEYS`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Final, Mapping

#: Attributes every device object passed to ``run`` has, with their types (NetRaven's Device model).
DEVICE_ATTRIBUTES: Final[Mapping[str, type]] = MappingProxyType(
    {"id": int, "hostname": str, "ip_address": str, "device_type": str}
)
#: Attributes a device may lack or have empty (jobs must cope with both).
OPTIONAL_DEVICE_ATTRIBUTES: Final = ("port", "username", "password", "serial_number", "model")

#: Name of the function the worker calls once per device.
RUN_FUNCTION: Final = "run"
#: The positional arguments the worker passes to ``run``, in order.
RUN_PARAMETERS: Final = ("device", "job_id", "config", "db")

#: Keys every result must carry, and the exact type of their value.
REQUIRED_KEYS: Final[Mapping[str, type]] = MappingProxyType({"success": bool, "device_id": int})
SUCCESS_KEY: Final = "success"
DEVICE_ID_KEY: Final = "device_id"
#: The optional key for everything else; its value lands, as JSON, in ``job_results.details``.
DETAILS_KEY: Final = "details"
DETAILS_TYPE: Final = dict
#: The typed part of the contract, key by key (what the runtime validator hands to typeguard).
RESULT_TYPES: Final[Mapping[str, Any]] = MappingProxyType(
    {SUCCESS_KEY: bool, DEVICE_ID_KEY: int, DETAILS_KEY: dict[str, Any]}
)
#: Keys the result may carry at top level without a warning.
KNOWN_KEYS: Final = frozenset((SUCCESS_KEY, DEVICE_ID_KEY, DETAILS_KEY))

#: Columns of ``job_results`` that the worker fills itself; a job must not set them.
RESERVED_KEYS: Final = frozenset(("id", "job_id", "job_type", "status", "result_time", "created_at"))

#: Values of ``job_results.status``.
STATUS_SUCCESS: Final = "success"
STATUS_FAILURE: Final = "failure"

#: Module-level dict describing the job; every key below must be present with a str value.
JOB_META_NAME: Final = "JOB_META"
JOB_META_SCHEMA: Final[Mapping[str, type]] = MappingProxyType(
    {"label": str, "description": str, "icon": str, "default_schedule": str}
)
#: Key the registry adds to its copy of JOB_META (the module's file stem).
JOB_TYPE_META_KEY: Final = "job_type"
#: A job type is the module's file stem; ``job_results.job_type`` holds at most this many characters.
JOB_TYPE_MAX_LENGTH: Final = 32

#: Limits of what may go into the JSONB ``details`` column (runtime checks; configurable per call).
DEFAULT_MAX_DETAILS_BYTES: Final = 1024 * 1024
DEFAULT_MAX_DETAILS_DEPTH: Final = 32
#: Code points PostgreSQL's JSONB refuses in strings (SQLite would store them).
JSONB_FORBIDDEN_CHARS: Final = ("\u0000",)
