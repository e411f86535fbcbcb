"""SARIF 2.1.0 output of ``netraven-contracts check --format sarif``, for GitHub code scanning.

One run of one tool: ``tool.driver.rules`` holds every catalogue entry (in catalogue order, so a
result's ``ruleIndex`` is stable across runs), each with the text GitHub shows for an alert
(``shortDescription``, ``fullDescription``, ``help`` with the fault and the fix, ``helpUri``).
Results point at the file relative to the source root (``uriBaseId`` ``%SRCROOT%``), the way
code scanning maps them onto the repository; a file outside the current directory keeps its
absolute ``file://`` URI. ``partialFingerprints`` are left out: ``github/codeql-action/upload-sarif``
computes them from the source when they are missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable
from urllib.parse import quote

from . import __version__
from .findings import Finding
from .output import workspace_path
from .rules import RULES, Rule, Severity

SARIF_VERSION = "2.1.0"
#: The ``$id`` of the OASIS schema the output is valid against (errata 01, the current text).
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
TOOL_NAME = "netraven-contracts"
SOURCE_ROOT = "%SRCROOT%"

#: SARIF has no "info"; "note" is its lowest level that still shows (GitHub: "Note").
LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}

_RULE_INDEX = {code: index for index, code in enumerate(RULES)}


def artifact_location(path: str) -> dict[str, str]:
    shown = workspace_path(path)
    if Path(shown).is_absolute():
        # uriBaseId may only qualify a relative reference
        return {"uri": Path(shown).as_uri()}
    return {"uri": quote(shown, safe="/"), "uriBaseId": SOURCE_ROOT}


def rule_descriptor(rule: Rule) -> dict[str, object]:
    from .ruledocs import explain

    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary} {rule.rationale}"},
        "help": {"text": explain(rule), "markdown": _help_markdown(rule)},
        "helpUri": rule.help_uri,
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"tags": ["netraven-job-contract", rule.phase.value]},
    }


def _help_markdown(rule: Rule) -> str:
    # the sections of docs/rules.md, so an alert reads like the rule's documentation
    parts = [
        rule.summary, "",
        "**Why is this bad?**", "", rule.rationale, "",
        "**Example**", "", "```python", rule.bad.rstrip("\n"), "```", "",
        "**Use instead**", "", "```python", rule.good.rstrip("\n"), "```",
    ]
    if rule.fix:
        parts += ["", f"**Fix**: `netraven-contracts check --fix` {rule.fix}."]
    parts += ["", f"[{rule.code} in docs/rules.md]({rule.help_uri})"]
    return "\n".join(parts)


def result(finding: Finding) -> dict[str, object]:
    return {
        "ruleId": finding.code,
        "ruleIndex": _RULE_INDEX[finding.code],
        "level": LEVELS[finding.severity],
        "message": {"text": finding.message},
        "locations": [{
            "physicalLocation": {
                "artifactLocation": artifact_location(finding.path),
                "region": {"startLine": finding.line, "startColumn": finding.column},
            },
        }],
    }


def sarif_log(findings: Iterable[Finding]) -> dict[str, object]:
    """The SARIF log (a JSON-ready dict) of ``findings``, one result each."""
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": TOOL_NAME,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [rule_descriptor(rule) for rule in RULES.values()],
            }},
            # libcst counts columns in characters, i.e. code points
            "columnKind": "unicodeCodePoints",
            "results": [result(f) for f in findings],
        }],
    }
