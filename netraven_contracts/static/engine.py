"""From source text to findings: decode, parse, check, position, word, apply ``# noqa``.

:func:`check_source` is pure (no I/O, no printing, no global state); :func:`check_file` adds the
reading of one file. Neither raises for a bad file: it becomes an NRJ900 finding.
"""

from __future__ import annotations

import io
import os
import re
import tokenize

import libcst as cst

from ..config import Settings
from ..findings import Finding
from ..rules import RULES
from .checks import Pending, Reporter, check_module
from .interpreter import Step
from .positions import locate

_DEFAULT_SETTINGS = Settings()
_PARSER_POSITION = re.compile(r"error at (\d+):(\d+)")
_PARSER_NOISE = re.compile(r"^(?:parser|tokenizer) error:\s*(?:error at \d+:\d+:\s*)?")
# flake8's own pattern, so `# noqa` means the same to the CLI and to flake8
NOQA_INLINE = re.compile(r"# noqa(?::[\s]?(?P<codes>([A-Z]+[0-9]+(?:[,\s]+)?)+))?", re.IGNORECASE)
NOQA_FILE = re.compile(r"#\s*(?:flake8|netraven-contracts)[:=]\s*noqa\s*$", re.IGNORECASE | re.MULTILINE)
_SNIPPET_LIMIT = 60


class _Unparseable(Exception):
    def __init__(self, line: int, column: int, reason: str):
        super().__init__(reason)
        self.line = line
        self.column = column
        self.reason = reason


def decode_source(data: bytes) -> str:
    """Decode like Python does (PEP 263 cookie, UTF-8 BOM, UTF-8 by default)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        raise _Unparseable(1, 0, f"cannot determine its encoding ({exc.msg}); declare it with "
                                 "`# -*- coding: utf-8 -*-` or save the file as UTF-8") from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        line = data[: getattr(exc, "start", 0)].count(b"\n") + 1
        raise _Unparseable(line, 0, f"its bytes are not valid {encoding} ({exc}); save it as UTF-8") from None
    return text[1:] if text.startswith("\ufeff") else text


def parse_source(text: str) -> cst.Module:
    if "\x00" in text:
        index = text.index("\x00")
        line = text.count("\n", 0, index) + 1
        column = index - (text.rfind("\n", 0, index) + 1)
        raise _Unparseable(line, column, "it contains a NUL byte; remove it (a Python file cannot hold one)")
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        line, column, message = _error_position(text, exc)
        raise _Unparseable(max(line, 1), max(column, 0), f"syntax error ({message}); fix the syntax") from None
    except RecursionError:
        raise _Unparseable(1, 0, "it is nested too deeply to parse") from None
    except Exception as exc:  # the native parser can fail in other ways on hostile input
        raise _Unparseable(1, 0, f"the parser failed ({type(exc).__name__}: {exc})") from None
    except BaseException as exc:  # pyo3's PanicException derives from BaseException
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise _Unparseable(1, 0, f"the parser failed ({type(exc).__name__})") from None


def _error_position(text: str, exc: cst.ParserSyntaxError) -> tuple[int, int, str]:
    """Where the syntax error is, and what it is. libcst puts tokenizer errors at line 1 and parser
    errors at the next token (often the line after); CPython's compiler, when it fails too, names
    the line and says it better ("expected ':'" rather than a list of forty tokens)."""
    try:
        compile(text, "<job>", "exec", flags=0x400, dont_inherit=True)  # ast.PyCF_ONLY_AST
    except SyntaxError as error:
        if error.lineno:
            return error.lineno, max((error.offset or 1) - 1, 0), error.msg
    except (ValueError, RecursionError, MemoryError):
        pass
    match = _PARSER_POSITION.search(exc.message)
    line, column = (int(match.group(1)), int(match.group(2))) if match else (exc.raw_line, exc.raw_column)
    message = _PARSER_NOISE.sub("", exc.message.split("\n", 1)[0]).strip() or "invalid syntax"
    if message.startswith("expected one of") and message.count(",") > 6:
        message = "invalid syntax"
    return line, column, message


def _unparseable(path: str, error: _Unparseable) -> Finding:
    rule = RULES["NRJ900"]
    return Finding(path, error.line, error.column + 1, rule.code, rule.format(reason=error.reason), rule.severity)


def check_source(source: str | bytes, path: str = "<string>", *, settings: Settings | None = None,
                 apply_noqa: bool = True) -> list[Finding]:
    """Every finding for one job module's source, sorted by position.

    ``apply_noqa=False`` keeps findings that a ``# noqa`` comment suppresses (flake8 applies
    ``# noqa`` itself).
    """
    settings = settings or _DEFAULT_SETTINGS
    try:
        text = decode_source(source) if isinstance(source, bytes) else source
        module = parse_source(text)
    except _Unparseable as error:
        findings = [_unparseable(path, error)]
    else:
        try:
            report = Reporter()
            check_module(module, report)
            findings = _render(module, report.pending, path)
        except RecursionError:  # an expression nested hundreds deep: Python's own stack limit
            findings = [_unparseable(path, _Unparseable(1, 0, "it is nested too deeply to analyse"))]
        if findings and apply_noqa:
            findings = _apply_noqa(text, findings)
    findings = [f for f in findings if settings.is_selected(f.code, path if path != "<string>" else None)]
    findings.sort(key=lambda f: (f.line, f.column, f.code, f.message))
    return findings


def check_file(path: str | os.PathLike[str], *, settings: Settings | None = None,
               display_path: str | None = None, apply_noqa: bool = True) -> list[Finding]:
    """:func:`check_source` on a file; a file that cannot be read is an NRJ900 finding."""
    shown = display_path if display_path is not None else os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fix = "check the path" if isinstance(exc, FileNotFoundError) else "check its permissions"
        rule = RULES["NRJ900"]
        finding = Finding(shown, 1, 1, rule.code, rule.format(reason=f"cannot read it ({reason}); {fix}"),
                          rule.severity)
        return [finding] if (settings or _DEFAULT_SETTINGS).is_selected("NRJ900", shown) else []
    return check_source(data, shown, settings=settings, apply_noqa=apply_noqa)


# ---------------------------------------------------------------------------- wording

def _render(module: cst.Module, pending: list[Pending], path: str) -> list[Finding]:
    if not pending:
        return []
    nodes = [p.node for p in pending if p.node is not None]
    for p in pending:
        for value in p.fields.values():
            if isinstance(value, Step):
                nodes.append(value.node)
    positions = locate(module, nodes)
    findings = []
    for p in pending:
        line, column = positions.get(id(p.node), (1, 0)) if p.node is not None else (1, 0)
        fields = {name: _field_text(module, value, positions) for name, value in p.fields.items()}
        rule = RULES[p.code]
        findings.append(Finding(path, line, column + 1, p.code, rule.format(**fields), rule.severity))
    return findings


def _snippet(module: cst.Module, node: cst.CSTNode) -> str:
    text = " ".join(module.code_for_node(node).split())
    return text if len(text) <= _SNIPPET_LIMIT else text[: _SNIPPET_LIMIT - 3] + "..."


def _field_text(module: cst.Module, value: object, positions: dict[int, tuple[int, int]]) -> str:
    """A message field: a step (the path), a node (its code), text, or a tuple of those."""
    if isinstance(value, Step):
        return _where(module, value, positions)
    if isinstance(value, cst.CSTNode):
        return f"`{_snippet(module, value)}`"
    if isinstance(value, tuple):
        return "".join(_field_text(module, part, positions) for part in value)
    return "" if value is None else str(value)


def _where(module: cst.Module, step: Step, positions: dict[int, tuple[int, int]]) -> str:
    line = positions.get(id(step.node), (0, 0))[0]
    label = step.label
    text = _snippet(module, label) if isinstance(label, cst.CSTNode) else (label or "")
    kind = step.kind
    if kind.endswith("-true") or kind.endswith("-false"):
        word, truth = kind.split("-")
        return f' on the path where "{word} {text}" is {truth} (line {line})'
    if kind == "except":
        return f' on the path through "except {text}" (line {line})' if text else \
            f' on the path through "except:" (line {line})'
    if kind == "case":
        return f' on the path through "case {text}" (line {line})'
    if kind == "no-case":
        return f' on the path where no case of "match {text}" matches (line {line})'
    if kind == "loop-zero":
        return f" on the path where the loop at line {line} runs no iteration"
    return f" on the path through {text}() (line {line})"


# ---------------------------------------------------------------------------- noqa

def _logical_line_texts(text: str) -> dict[int, str] | None:
    """flake8's mapping: line number -> the text of the logical line that holds it."""
    lines = text.splitlines(keepends=True)
    mapping: dict[int, str] = {}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    low, high = len(lines) + 2, -1
    for tok in tokens:
        if tok.type in (tokenize.ENDMARKER, tokenize.DEDENT):
            continue
        low = min(low, tok.start[0])
        high = max(high, tok.end[0])
        if tok.type in (tokenize.NL, tokenize.NEWLINE):
            joined = "".join(lines[low - 1: high])
            for number in range(low, high + 1):
                mapping[number] = joined
            low, high = len(lines) + 2, -1
    return mapping


def _apply_noqa(text: str, findings: list[Finding]) -> list[Finding]:
    lowered = text.lower()
    if "noqa" not in lowered:
        return findings
    if NOQA_FILE.search(text):
        return []
    logical = _logical_line_texts(text)
    lines = text.splitlines()
    kept = []
    for finding in findings:
        if logical is not None and finding.line in logical:
            line_text = logical[finding.line]
        else:
            line_text = lines[finding.line - 1] if 0 < finding.line <= len(lines) else ""
        match = NOQA_INLINE.search(line_text)
        if match is None:
            kept.append(finding)
            continue
        codes = match.group("codes")
        if codes is None:
            continue
        listed = tuple(c for c in re.split(r"[,\s]+", codes.upper()) if c)
        if not finding.code.startswith(listed):
            kept.append(finding)
    return kept
