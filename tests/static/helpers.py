"""Snippets with their expectations written inline: ``#! NRJ005`` means "NRJ005 on this line",
``#! NRJ001@1`` names the line explicitly. Every finding (info included) must be expected."""

from __future__ import annotations

import re
import textwrap

from netraven_contracts.static import check_source

from tests.sources import META
_MARK = re.compile(r"#!\s*([A-Z0-9@ ,]+)$")


def module(snippet: str, meta: bool = True) -> str:
    body = textwrap.dedent(snippet).lstrip("\n")
    return (META if meta else "") + body


def expected(source: str) -> list[tuple[str, int]]:
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARK.search(line)
        if match:
            for token in re.split(r"[ ,]+", match.group(1).strip()):
                code, _, at = token.partition("@")
                out.append((code, int(at) if at else number))
    return sorted(out)


def found(source: str) -> list[tuple[str, int]]:
    return sorted((f.code, f.line) for f in check_source(source, "job.py"))
