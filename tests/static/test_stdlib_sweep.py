"""No crash on real-world Python: every file of the installed standard library, its deliberately
broken test files included, gives findings or NRJ900 and never exit status 2. Takes minutes."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from netraven_contracts.rules import RULES


@pytest.mark.slow
def test_every_stdlib_file_is_checked_without_crashing(tmp_path: Path) -> None:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(str(p) for p in stdlib.rglob("*.py") if "site-packages" not in p.parts)
    assert len(files) > 1000 and any("/test/" in f for f in files)
    proc = subprocess.run([sys.executable, "-m", "netraven_contracts", "check", "--format", "json", "--no-cache",
                           *files], capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    findings = json.loads(proc.stdout)
    assert {f["path"] for f in findings} <= set(files)
    assert all(f["code"] in RULES and f["line"] >= 1 and f["column"] >= 1 for f in findings)
    # the tokenizer test data that cannot be decoded or parsed is reported, not skipped
    bad = {Path(f["path"]).name for f in findings if f["code"] == "NRJ900"}
    assert {"bad_coding.py", "badsyntax_3131.py"} <= bad
