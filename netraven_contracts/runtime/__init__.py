"""The runtime half of the rule set: result validation and normalisation, fakes, the dry run.

``import netraven_contracts.runtime`` loads nothing heavy: each public name is imported from its
module on first use (typeguard only with the validator), so the static CLI pays for none of it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .dryrun import (
        DEFAULT_SCENARIOS,
        DEFAULT_TIMEOUT,
        DryRunError,
        DryRunReport,
        Outcome,
        Scenario,
        ScenarioOutcome,
        dry_run,
    )
    from .fakes import (
        FAKE_DEVICE_ID,
        FAKE_JOB_ID,
        FakeCall,
        FakeDatabaseError,
        FakeDevice,
        FakeQuery,
        FakeResult,
        FakeSession,
        WriteBlockedError,
        default_config,
    )
    from .normalize import InvalidResultError, NormalizedResult, normalize_result
    from .validate import validate_result

#: public name -> the module of this package that defines it
_EXPORTS = {
    "validate_result": "validate",
    "normalize_result": "normalize",
    "NormalizedResult": "normalize",
    "InvalidResultError": "normalize",
    "FakeDevice": "fakes",
    "FakeSession": "fakes",
    "FakeQuery": "fakes",
    "FakeResult": "fakes",
    "FakeCall": "fakes",
    "FakeDatabaseError": "fakes",
    "WriteBlockedError": "fakes",
    "default_config": "fakes",
    "FAKE_DEVICE_ID": "fakes",
    "FAKE_JOB_ID": "fakes",
    "dry_run": "dryrun",
    "DryRunReport": "dryrun",
    "DryRunError": "dryrun",
    "ScenarioOutcome": "dryrun",
    "Outcome": "dryrun",
    "Scenario": "dryrun",
    "DEFAULT_SCENARIOS": "dryrun",
    "DEFAULT_TIMEOUT": "dryrun",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
