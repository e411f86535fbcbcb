"""The collector and the item of one job module: ``<path>::contract``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

from .report import ContractCheck, check_job, format_check


class NetRavenContractWarning(UserWarning):
    """A warning-level finding of a job module (shown in pytest's warnings summary)."""


class JobContractFailure(Exception):
    """The job module breaks the contract; carries the whole check for the report."""

    def __init__(self, check: ContractCheck) -> None:
        super().__init__(f"{check.path}: the job module breaks the job-result contract")
        self.check = check


class JobModule(pytest.File):
    """One job module: it holds one item, ``contract``."""

    def collect(self) -> list[pytest.Item]:
        return [JobContractItem.from_parent(self, name="contract")]


class JobContractItem(pytest.Item):
    """Runs the static check and the sandboxed dry run of one job module."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        from .plugin import MARKER

        self.add_marker(MARKER)

    def _settings(self) -> Any:
        from .plugin import JobContracts

        return self.config.pluginmanager.get_plugin(JobContracts.NAME)

    def runtest(self) -> None:
        settings = self._settings()
        strict = settings.strict
        check = check_job(self.path, timeout=settings.timeout, root=self.config.rootpath)
        codes = sorted({item.code for item in check.all_problems()})
        self.user_properties.append(("netraven_codes", " ".join(codes)))
        if check.failed(strict=strict):
            raise JobContractFailure(check)
        for code, message, line in check.warning_lines():
            warnings.warn_explicit(f"{code} {message}", NetRavenContractWarning,
                                   filename=str(self.path), lineno=line or 1)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, JobContractFailure):
            strict = self._settings().strict
            return format_check(excinfo.value.check, strict=strict, shown_path=self._shown_path())
        return super().repr_failure(excinfo, style=style)

    def _shown_path(self) -> str:
        try:
            return str(Path(self.path).relative_to(self.config.rootpath))
        except ValueError:
            return str(self.path)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self._shown_path()}::{self.name}"
