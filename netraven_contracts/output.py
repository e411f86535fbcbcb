"""Output formats of ``netraven-contracts check``.

Each format is a function (findings, show_info) -> text, registered in :data:`FORMATS`; the CLI
offers exactly these. ``text``, ``github`` and ``sarif`` show errors and warnings, and info-level
findings only with ``show_info``; ``json`` always has every finding.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Iterable

from .findings import Finding
from .rules import RULES, Severity


def format_text(findings: Iterable[Finding], show_info: bool = False) -> str:
    """``path:line:col: CODE message``; errors and warnings, info only when asked."""
    return "".join(f"{f}\n" for f in findings if show_info or f.severity is not Severity.INFO)


def format_json(findings: Iterable[Finding], show_info: bool = True) -> str:
    """A JSON array with every finding, info included."""
    return json.dumps([f.as_dict() for f in findings], indent=2) + "\n"


def workspace_path(path: str) -> str:
    """``path`` with ``/`` separators, relative to the current directory when it lies inside it
    (GitHub resolves annotation and SARIF paths against the checkout), else absolute."""
    absolute = os.path.abspath(path)
    try:
        relative = os.path.relpath(absolute)
    except ValueError:  # on another drive (Windows)
        return Path(absolute).as_posix()
    if relative == os.pardir or relative.startswith(os.pardir + os.sep):
        return Path(absolute).as_posix()
    return Path(relative).as_posix()


#: GitHub workflow-command names; "notice" is GitHub's lowest annotation level
_GITHUB_COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _escape_data(text: str) -> str:
    # what @actions/core does: the message ends at a line break, and % starts an escape
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    # properties are separated by "," and end at "::"
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def format_github(findings: Iterable[Finding], show_info: bool = False) -> str:
    """GitHub Actions workflow commands, one annotation per finding:
    ``::error file=jobs/backup.py,line=42,col=16,title=NRJ006::result lacks "device_id"; ...``."""
    lines = []
    for f in findings:
        if f.severity is Severity.INFO and not show_info:
            continue
        properties = ",".join(f"{name}={_escape_property(str(value))}" for name, value in (
            ("file", workspace_path(f.path)), ("line", f.line), ("col", f.column), ("title", f.code)))
        lines.append(f"::{_GITHUB_COMMANDS[f.severity]} {properties}::{_escape_data(f.message)}\n")
    return "".join(lines)


def format_sarif(findings: Iterable[Finding], show_info: bool = False) -> str:
    """A SARIF 2.1.0 log (:mod:`netraven_contracts.sarif`) for GitHub code scanning."""
    from .sarif import sarif_log

    shown = [f for f in findings if show_info or f.severity is not Severity.INFO]
    return json.dumps(sarif_log(shown), indent=2) + "\n"


FORMATS = {"text": format_text, "json": format_json, "github": format_github, "sarif": format_sarif}


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
