"""The handed static cases: each file's `# expect:` header against the CLI's JSON output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netraven_contracts.static import check_file

CASES = sorted((Path(__file__).parent.parent / "data" / "corpus" / "static").glob("*.py"))


def _expectation(path: Path) -> list[tuple[str, set[int]]]:
    tokens = path.read_text().splitlines()[0].split(":", 1)[1].split()
    if tokens == ["clean"]:
        return []
    return [(t.split("@")[0], {int(x) for x in t.split("@")[1].split("|")}) for t in tokens]


def _matches(want: list[tuple[str, set[int]]], got: set[tuple[str, int]]) -> bool:
    missing = [c for c, lines in want if not any(g[0] == c and g[1] in lines for g in got)]
    extra = [g for g in got if not any(g[0] == c and g[1] in lines for c, lines in want)]
    return not missing and not extra


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_handed_static_case(path: Path) -> None:
    got = {(f.code, f.line) for f in check_file(path)}
    assert _matches(_expectation(path), got), sorted(got)


def test_handed_cases_through_the_cli_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "--format", "json", *map(str, CASES)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    by_file: dict[str, set[tuple[str, int]]] = {}
    for finding in json.loads(proc.stdout):
        assert set(finding) >= {"path", "line", "column", "code", "severity", "message"}
        by_file.setdefault(Path(finding["path"]).name, set()).add((finding["code"], finding["line"]))
    for path in CASES:
        assert _matches(_expectation(path), by_file.get(path.name, set())), path.name
