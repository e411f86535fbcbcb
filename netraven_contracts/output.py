"""Output formats of ``netraven-contracts check``: text, json (github and sarif join them later)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Iterable

from .findings import Finding
from .rules import RULES, Severity


def format_text(findings: Iterable[Finding]) -> str:
    return "".join(f"{f}\n" for f in findings)


def format_json(findings: Iterable[Finding]) -> str:
    return json.dumps([f.as_dict() for f in findings], indent=2) + "\n"


def format_statistics(findings: Iterable[Finding]) -> str:
    counts = Counter(f.code for f in findings)
    return "".join(f"{counts[code]:>5}  {code}  {RULES[code].name}\n" for code in sorted(counts))


def summary(findings: list[Finding], files: int, shown_info: bool) -> str:
    by_severity = Counter(f.severity for f in findings)
    parts = []
    for severity, word in ((Severity.ERROR, "error"), (Severity.WARNING, "warning"), (Severity.INFO, "info")):
        count = by_severity.get(severity, 0)
        if count:
            parts.append(f"{count} {word}{'s' if count != 1 and word != 'info' else ''}")
    files_word = f"{files} file{'s' if files != 1 else ''} checked"
    if not parts:
        return f"No findings ({files_word})."
    with_findings = len({f.path for f in findings})
    hidden = "" if shown_info or not by_severity.get(Severity.INFO) else " (info hidden; --show-info shows it)"
    return f"Found {', '.join(parts)} in {with_findings} of {files_word}{hidden}."
