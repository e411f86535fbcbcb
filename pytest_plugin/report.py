"""Both checks of one job module, and the failure report the pytest item shows."""

from __future__ import annotations

import linecache
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Union

import pytest

if TYPE_CHECKING:
    from netraven_contracts.findings import Finding, Violation
    from netraven_contracts.runtime.dryrun import DryRunReport

Problem = Union["Finding", "Violation"]

#: Codes both checks report; the dry run's copy is left out when the static check has it.
_SHARED_CODES = frozenset({"NRJ001", "NRJ002"})


@dataclass(frozen=True)
class ContractCheck:
    """The static findings and the dry-run report of one job module (after select/ignore)."""

    path: Path
    findings: tuple[Finding, ...]
    violations: tuple[Violation, ...]     # the dry run's, filtered
    dry_run: DryRunReport | None          # None when the file does not parse (NRJ900)

    def all_problems(self) -> Iterator[Problem]:
        yield from self.findings
        yield from self.violations

    def counts(self) -> tuple[int, int]:
        errors = sum(1 for p in self.all_problems() if p.severity.value == "error")
        warnings = sum(1 for p in self.all_problems() if p.severity.value == "warning")
        return errors, warnings

    def failed(self, *, strict: bool) -> bool:
        errors, warnings = self.counts()
        return bool(errors or (strict and warnings))

    def warning_lines(self) -> list[tuple[str, str, int | None]]:
        return [(p.code, p.message, p.line) for p in self.all_problems() if p.severity.value == "warning"]


def check_job(path: str | os.PathLike[str], *, timeout: float | None = None,
              root: str | os.PathLike[str] | None = None) -> ContractCheck:
    """Run the static check, then the dry run (unless the file cannot be parsed)."""
    from netraven_contracts.config import ConfigError, load_settings
    from netraven_contracts.runtime import DEFAULT_TIMEOUT, dry_run
    from netraven_contracts.static import check_file

    path = Path(path)
    try:
        settings = load_settings(start=os.fspath(root) if root is not None else None)
    except ConfigError as exc:
        raise pytest.UsageError(f"[tool.netraven-contracts]: {exc}") from None
    try:
        findings = tuple(check_file(path, settings=settings))
    except Exception as exc:  # a bug of the checker: say so, and still run the dry run
        from netraven_contracts.findings import Finding
        from netraven_contracts.rules import RULES

        rule = RULES["NRJ900"]
        reason = f"internal error of the static checker ({type(exc).__name__}: {exc}); please report it"
        findings = (Finding(os.fspath(path), 1, 1, rule.code, rule.format(reason=reason), rule.severity),)
    else:
        if any(finding.code == "NRJ900" for finding in findings):
            return ContractCheck(path, findings, (), None)
    report = dry_run(path, timeout=timeout or DEFAULT_TIMEOUT)
    static_codes = {finding.code for finding in findings}
    violations = tuple(
        v for v in report.violations
        if settings.is_selected(v.code, os.fspath(path))
        and not (v.code in _SHARED_CODES and v.code in static_codes))
    return ContractCheck(path, findings, violations, report)


def _source(path: Path, line: int | None) -> str:
    if not line:
        return ""
    text = linecache.getline(os.fspath(path), line).rstrip()
    return f"      {line:>4} | {text}" if text else ""


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def format_check(check: ContractCheck, *, strict: bool = False, shown_path: str | None = None) -> str:
    """The readable failure report: every finding with its code, severity, message, the bad
    value's path and the source line; what the dry run exercised."""
    shown = shown_path or os.fspath(check.path)
    errors, warnings = check.counts()
    failing = sorted({p.code for p in check.all_problems()
                      if p.severity.value == "error" or (strict and p.severity.value == "warning")})
    lines = [f"{shown} breaks the job-result contract ({', '.join(failing)}): "
             f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}"
             + (" (--netraven-strict: warnings fail)" if strict and warnings else "")]

    if check.findings:
        lines += ["", "static check:"]
        for finding in check.findings:
            lines.append(f"  {shown}:{finding.line}:{finding.column}: {finding.code} "
                         f"[{finding.severity.value}] {finding.message}")
            if source := _source(check.path, finding.line):
                lines.append(source)

    report = check.dry_run
    if report is None:
        lines += ["", "dry run: not run, the file cannot be parsed (NRJ900)"]
        return "\n".join(lines)
    lines += ["", f"dry run ({report.isolation}; {report.duration:.2f} s):"]
    if not check.violations:
        lines.append("  no violation")
    for violation in check.violations:
        where = f"{shown}:{violation.line}" if violation.line else shown
        lines.append(f"  {where}: {violation.code} [{violation.severity.value}] {violation.message}")
        if violation.path:
            lines.append(f"      value: {violation.path}")
        if source := _source(check.path, violation.line):
            lines.append(source)
        scenarios = report.scenarios_of(violation)
        if scenarios:
            lines.append(f"      in scenario{'s' if len(scenarios) > 1 else ''}: {', '.join(scenarios)}")
    if report.return_lines:
        reached = ", ".join(map(str, report.reached_returns)) or "none"
        lines.append(f"  return statements of run() reached: {reached} "
                     f"(of {', '.join(map(str, report.return_lines))})")
        if report.unreached_returns:
            lines.append(f"  never reached in the dry run: {', '.join(map(str, report.unreached_returns))}")
    lines.append("  scenarios:")
    for outcome in report.scenarios:
        took = f" in {outcome.duration:.3f} s" if outcome.duration is not None else ""
        lines.append(f"    {outcome.name}: {outcome.outcome.value}{took} ({outcome.scenario.description})")
    outputs: dict[str, list[str]] = {}  # the same text printed by several scenarios is shown once
    if report.import_output.strip():
        outputs.setdefault(report.import_output, []).append("the import")
    for outcome in report.scenarios:
        if outcome.output.strip() and outcome.outcome.value not in ("timed-out", "crashed"):
            outputs.setdefault(outcome.output, []).append(outcome.name)
    for text, where in outputs.items():
        lines += [f"  output of {', '.join(where)}:",
                  *(f"    | {line}" for line in text.rstrip().splitlines()[-20:])]
    if report.crash_output.strip():
        lines += ["  end of the output of the process that was killed or died:",
                  *(f"    | {line}" for line in report.crash_output.rstrip().splitlines()[-25:])]
    return "\n".join(lines)
