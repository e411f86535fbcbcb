"""The catalogue: its examples are executable, docs/rules.md is generated from it, codes are exact."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netraven_contracts.ruledocs import rules_markdown
from netraven_contracts.rules import RULES, Phase, Severity
from netraven_contracts.static import check_source

STATIC = [r for r in RULES.values() if r.phase is Phase.STATIC]


def test_codes_and_severities_are_the_public_interface() -> None:
    assert {code: rule.severity for code, rule in RULES.items()} == {
        "NRJ001": Severity.ERROR, "NRJ002": Severity.ERROR, "NRJ003": Severity.ERROR, "NRJ004": Severity.ERROR,
        "NRJ005": Severity.ERROR, "NRJ006": Severity.ERROR, "NRJ007": Severity.ERROR, "NRJ008": Severity.WARNING,
        "NRJ009": Severity.ERROR, "NRJ010": Severity.WARNING, "NRJ011": Severity.ERROR, "NRJ012": Severity.WARNING,
        "NRJ013": Severity.ERROR, "NRJ014": Severity.ERROR, "NRJ015": Severity.INFO, "NRJ020": Severity.ERROR,
        "NRJ021": Severity.ERROR, "NRJ030": Severity.ERROR, "NRJ031": Severity.ERROR, "NRJ032": Severity.ERROR,
        "NRJ033": Severity.WARNING, "NRJ034": Severity.ERROR, "NRJ035": Severity.ERROR, "NRJ036": Severity.ERROR,
        "NRJ900": Severity.ERROR,
    }


@pytest.mark.parametrize("rule", STATIC, ids=[r.code for r in STATIC])
def test_static_bad_example_produces_exactly_its_code(rule) -> None:
    findings = check_source(rule.example_module("bad"), "jobs/example.py")
    assert {f.code for f in findings} == {rule.code}, [str(f) for f in findings]


@pytest.mark.parametrize("rule", STATIC, ids=[r.code for r in STATIC])
def test_static_good_example_is_clean(rule) -> None:
    assert check_source(rule.example_module("good"), "jobs/example.py") == []


def test_docs_rules_md_is_generated_from_the_catalogue() -> None:
    docs = Path(__file__).parent.parent / "docs" / "rules.md"
    assert docs.read_text() == rules_markdown(), \
        "docs/rules.md drifted: run `netraven-contracts rules --format markdown > docs/rules.md`"


def test_explain_prints_the_rule_with_both_examples() -> None:
    proc = subprocess.run([sys.executable, "-m", "netraven_contracts", "explain", "nrj005"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    rule = RULES["NRJ005"]
    assert proc.stdout.startswith("NRJ005 missing-success (error, static)\n")
    for line in (rule.bad + rule.good).splitlines():
        assert f"    {line}".rstrip() in proc.stdout.splitlines()


def test_explain_unknown_code_exits_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "netraven_contracts", "explain", "NRJ999"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "unknown rule code 'NRJ999'" in proc.stderr and proc.stdout == ""


def test_rules_lists_every_code_once() -> None:
    proc = subprocess.run([sys.executable, "-m", "netraven_contracts", "rules"], capture_output=True, text=True,
                          timeout=60)
    assert [line.split()[0] for line in proc.stdout.splitlines()] == list(RULES)
