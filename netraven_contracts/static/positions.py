"""Line and column of a few nodes, without computing positions for the whole module.

libcst's ``PositionProvider`` records every node and costs about twice the parse. A finding needs
the position of a handful of nodes, so :func:`locate` replays code generation only until the last
of them has been emitted, counting lines and columns and recording nothing else. Positions are
the ones ``PositionProvider`` gives (the syntactic start; the ``def`` keyword, not a decorator).
"""

from __future__ import annotations

import re
from typing import Iterable

import libcst as cst
from libcst._nodes.internal import CodegenState

_NEWLINE = re.compile(r"\r\n?|\n")


class _Done(Exception):
    pass


class _NullContext:
    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return False


_NULL = _NullContext()


class _Record:
    __slots__ = ("state", "node")

    def __init__(self, state: "_LocatingState", node: cst.CSTNode):
        self.state = state
        self.node = node

    def __enter__(self) -> None:
        self.state.syntactic[id(self.node)] = (self.state.line, self.state.column)

    def __exit__(self, *exc: object) -> bool:
        return False


class _LocatingState(CodegenState):
    """Counts lines/columns of the generated code; records the start of wanted nodes only."""

    def __init__(self, module: cst.Module, wanted: set[int]):
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.wanted = wanted
        self.pending = len(wanted)
        self.line = 1
        self.column = 0
        self.inclusive: dict[int, tuple[int, int]] = {}
        self.syntactic: dict[int, tuple[int, int]] = {}

    def _advance(self, value: str) -> None:
        if "\n" in value or "\r" in value:
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])
        else:
            self.column += len(value)

    def add_token(self, value: str) -> None:
        self._advance(value)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self._advance(token)

    def pop_trailing_newline(self) -> None:
        pass

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.inclusive:
            self.inclusive[key] = (self.line, self.column)

    def after_codegen(self, node: cst.CSTNode) -> None:
        if id(node) in self.wanted:
            self.pending -= 1
            if self.pending <= 0:
                raise _Done

    def record_syntactic_position(self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None,
                                  end_node: cst.CSTNode | None = None):  # type: ignore[override]
        if id(node) in self.wanted and id(node) not in self.syntactic:
            return _Record(self, node)
        return _NULL


def locate(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> dict[int, tuple[int, int]]:
    """``id(node)`` -> (1-based line, 0-based column) for every node of ``module`` given."""
    wanted = {id(node) for node in nodes}
    if not wanted:
        return {}
    state = _LocatingState(module, wanted)
    try:
        module._codegen(state)
    except _Done:
        pass
    found = dict(state.inclusive)
    found.update(state.syntactic)
    return found
