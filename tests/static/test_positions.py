"""The partial position pass agrees with libcst's PositionProvider on every node it is asked for."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import MetadataWrapper, PositionProvider

from netraven_contracts.static.positions import locate

FILES = sorted((Path(__file__).parent.parent / "data" / "corpus").glob("*/*.py"))
FILES = [f for f in FILES if "s17_" not in f.name]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_locate_matches_position_provider(path: Path) -> None:
    module = cst.parse_module(path.read_text() + "\n@deco\n@other(\n    1)\ndef late(a,\n         b):\n    return {'x':\r\n 1}\n")
    positions = MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    nodes: list[cst.CSTNode] = []

    class Collect(cst.CSTVisitor):
        def on_visit(self, node: cst.CSTNode) -> bool:
            if not isinstance(node, (cst.IndentedBlock, cst.Module)):  # whitespace owners: never reported
                nodes.append(node)
            return True

    module.visit(Collect())
    found = locate(module, nodes)
    mismatched = [(type(n).__name__, found.get(id(n)), (positions[n].start.line, positions[n].start.column))
                  for n in nodes if found.get(id(n)) != (positions[n].start.line, positions[n].start.column)]
    assert mismatched == []


def test_locate_stops_early_and_still_finds_the_first_node() -> None:
    module = cst.parse_module("a = 1\nb = 2\n" * 500)
    first = module.body[0]
    assert locate(module, [first]) == {id(first): (1, 0)}
