"""What the checks report: static findings (a place in a file) and runtime violations (a place in a value)."""

from __future__ import annotations

from dataclasses import dataclass

from .rules import RULES, Severity


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    """One static finding. ``line`` and ``column`` are 1-based, ``path`` is the file as given."""

    path: str
    line: int
    column: int
    code: str
    message: str
    severity: Severity

    def as_dict(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.code} {self.message}"


@dataclass(frozen=True, slots=True)
class Violation:
    """One runtime violation: ``path`` locates the bad value inside the result (``details.meta.when``;
    empty for the result as a whole)."""

    code: str
    message: str
    path: str = ""
    severity: Severity | None = None
    line: int | None = None  # a line of the job module, when one is known (the raise, the return)

    def __post_init__(self) -> None:
        if self.severity is None:
            object.__setattr__(self, "severity", RULES[self.code].severity)

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "path": self.path,
            "line": self.line,
        }

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.code}{where}: {self.message}"
