"""pytest plugin: checks every NetRaven job module's contract (static check + sandboxed dry run).

Active once the package is installed (entry point ``pytest11``). For job authors' own tests: the
fixtures ``fake_device``, ``fake_db``, ``job_config``, ``run_job`` and :func:`assert_valid_result`.
"""

from __future__ import annotations

from .assertions import ResultContractWarning, assert_valid_result

__all__ = ["ResultContractWarning", "assert_valid_result"]
