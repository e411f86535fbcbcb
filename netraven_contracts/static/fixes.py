"""``check --fix``: repair the mechanical faults, leaving every other byte of the file as it was.

Fixable (each finding carries what its repair needs, see :mod:`.checks`):

* NRJ012: an ad-hoc key of the literal that built the returned dict moves under its ``details``
  dict literal (created when there is none); not when "details" is set elsewhere, or holds the key;
* NRJ006: ``"device_id": <device>.id`` is added to such a literal written in ``run`` itself;
* NRJ008: the ``success`` value is wrapped in ``bool(...)``;
* NRJ003 (the body can fall off its end): a final failure result is appended to ``run``.

A finding suppressed by ``# noqa`` or not selected is not fixed. Fixing is repeated until nothing
changes (at most a few rounds), so a second ``--fix`` is a no-op.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import libcst as cst

from ..config import Settings
from .checks import AddDeviceId, AppendReturn, MoveToDetails, Reporter, WrapInBool, check_module
from .engine import _apply_noqa, _render, _Unparseable, decode_source, parse_source
from .interpreter import literal_str

FIXABLE = frozenset({"NRJ003", "NRJ006", "NRJ008", "NRJ012"})
_ROUNDS = 4
_DETAILS = "details"


@dataclass
class FixOutcome:
    path: str
    source: str
    fixed: str
    applied: list[str] = field(default_factory=list)   # codes, one per repaired finding
    encoding: str = "utf-8"
    bom: bool = False

    def write(self) -> None:
        """Replace the file atomically, keeping its mode."""
        data = ("\ufeff" if self.bom else "").encode(self.encoding) + self.fixed.encode(self.encoding)
        directory = os.path.dirname(os.path.abspath(self.path))
        mode = os.stat(self.path).st_mode
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".nrj-fix-", suffix=".py")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode & 0o7777)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


def fix_source(source: str, path: str = "<string>", *, settings: Settings | None = None) -> tuple[str, list[str]]:
    """The fixed source and the codes repaired. Unparseable source is returned unchanged."""
    settings = settings or Settings()
    applied: list[str] = []
    original = source
    for _ in range(_ROUNDS):
        try:
            module = parse_source(source)
        except _Unparseable:
            break
        try:
            repairs = _repairs(module, source, path, settings)
            if not repairs:
                break
            new_source = module.visit(_Repairer(repairs)).code
        except RecursionError:  # too deeply nested to analyse: the check reports it (NRJ900)
            break
        if new_source == source:
            break
        applied.extend(code for code, _ in repairs)
        source = new_source
    ending = original[len(original.rstrip("\r\n")):]
    if ending and not source.endswith(("\n", "\r")):  # libcst drops it after an appended statement
        source += ending
    return source, applied


def fix_file(path: str | os.PathLike[str], *, settings: Settings | None = None) -> FixOutcome | None:
    """Fix one file in memory (``FixOutcome.write`` saves it); None when it cannot be read as Python."""
    import io
    import tokenize

    path = os.fspath(path)
    with open(path, "rb") as handle:
        data = handle.read()
    try:
        text = decode_source(data)
    except _Unparseable:
        return None
    encoding = "utf-8"
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:
        pass
    bom = encoding == "utf-8-sig"
    fixed, applied = fix_source(text, path, settings=settings)
    return FixOutcome(path, text, fixed, applied, "utf-8" if bom else encoding, bom)


def _repairs(module: cst.Module, source: str, path: str, settings: Settings) -> list[tuple[str, object]]:
    report = Reporter()
    check_module(module, report)
    candidates = [p for p in report.pending if p.code in FIXABLE and p.repair is not None
                  and settings.is_selected(p.code, path)]
    if not candidates:
        return []
    findings = _render(module, candidates, path)
    kept = {id(f) for f in _apply_noqa(source, findings)}
    return [(p.code, p.repair) for p, f in zip(candidates, findings) if id(f) in kept]


class _Repairer(cst.CSTTransformer):
    def __init__(self, repairs: list[tuple[str, object]]):
        super().__init__()
        self.appends: dict[int, AppendReturn] = {}
        self.wraps: set[int] = set()
        self.add_id: dict[int, str] = {}
        self.moves: dict[int, set[int]] = {}
        for _, repair in repairs:
            if isinstance(repair, AppendReturn):
                self.appends[id(repair.run)] = repair
            elif isinstance(repair, WrapInBool):
                self.wraps.add(id(repair.value))
            elif isinstance(repair, AddDeviceId):
                self.add_id[id(repair.literal)] = repair.device
            elif isinstance(repair, MoveToDetails):
                self.moves.setdefault(id(repair.literal), set()).add(id(repair.key))

    def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode):  # type: ignore[override]
        updated = super().on_leave(original, updated)
        key = id(original)
        if key in self.wraps and isinstance(updated, cst.BaseExpression):
            updated = _wrap_in_bool(updated)
        if isinstance(original, cst.Dict) and (key in self.add_id or key in self.moves):
            updated = _rebuild_dict(original, updated, self.add_id.get(key), self.moves.get(key, set()))
        if isinstance(original, cst.FunctionDef) and key in self.appends:
            updated = _append_return(updated, self.appends[key].device)
        return updated


_EMPTY = cst.Module(body=[])


def _has_comment(node: cst.CSTNode | cst.MaybeSentinel) -> bool:
    return isinstance(node, cst.CSTNode) and "#" in _EMPTY.code_for_node(node)


def _wrap_in_bool(expr: cst.BaseExpression) -> cst.Call:
    # bool(...) brackets the value itself: `(a or b)` becomes `bool(a or b)`, not `(bool(a or b))`,
    # unless the parentheses hold a comment, which must survive
    if expr.lpar and not any(_has_comment(p) for p in (*expr.lpar, *expr.rpar)):
        expr = expr.with_changes(lpar=[], rpar=[])
    return cst.Call(func=cst.Name("bool"), args=[cst.Arg(expr)])


def _key_name(element: cst.BaseDictElement) -> str | None:
    return literal_str(element.key) if isinstance(element, cst.DictElement) else None


def _without_comment(comma: cst.Comma | cst.MaybeSentinel) -> cst.Comma | cst.MaybeSentinel:
    """The same layout (newline and indent, or a space), without the comment it carries."""
    if isinstance(comma, cst.Comma) and isinstance(comma.whitespace_after, cst.ParenthesizedWhitespace):
        after = comma.whitespace_after
        return comma.with_changes(whitespace_after=after.with_changes(
            first_line=cst.TrailingWhitespace(newline=after.first_line.newline), empty_lines=[]))
    return comma


def _keep_comment(own: cst.Comma, layout: cst.Comma | cst.MaybeSentinel) -> cst.Comma | cst.MaybeSentinel:
    """``layout``'s newline and indent, with the comment that ``own`` carries at the end of its line."""
    if isinstance(layout, cst.Comma) and isinstance(own.whitespace_after, cst.ParenthesizedWhitespace) \
            and isinstance(layout.whitespace_after, cst.ParenthesizedWhitespace):
        return layout.with_changes(whitespace_after=layout.whitespace_after.with_changes(
            first_line=own.whitespace_after.first_line))
    if not isinstance(layout, cst.Comma) and _has_comment(own):
        return own  # no trailing comma to carry the comment: keep the element's own comma
    return layout


def _separator(elements: list[cst.BaseDictElement]) -> cst.Comma:
    """The comma style between elements of this dict (a newline and indent for a multi-line one)."""
    for element in elements[:-1]:
        if isinstance(element.comma, cst.Comma):
            return _without_comment(element.comma)
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _with_commas(elements: list[cst.BaseDictElement], before: list[cst.BaseDictElement]) -> list:
    """Commas for the new element list. Each element keeps the comment at the end of its line; the
    last one takes the old last comma's layout (where the closing brace sat); the others take the
    dict's separator layout."""
    if not elements:
        return elements
    separator = _separator(before)
    closing = before[-1].comma if before else cst.MaybeSentinel.DEFAULT
    previous_last = before[-1] if before else None
    out = []
    for index, element in enumerate(elements):
        own = element.comma if isinstance(element.comma, cst.Comma) else None
        if index == len(elements) - 1:
            if element is previous_last:
                comma = closing
            else:
                comma = _keep_comment(own, _without_comment(closing)) if own else _without_comment(closing)
        elif element is previous_last:
            comma = _keep_comment(own, separator) if own else separator
        else:
            comma = own or separator
        out.append(element.with_changes(comma=comma))
    return out


def _rebuild_dict(original: cst.Dict, updated: cst.Dict, device: str | None, moved_keys: set[int]) -> cst.Dict:
    old = list(original.elements)
    new = list(updated.elements)
    names = [_key_name(e) for e in new]
    # an element with a comment is left where it is: the comment belongs to its line
    # (a comment after the last element belongs to the closing brace's line)
    last_commented = _has_comment(updated.rbrace)
    moving = [new[i] for i, e in enumerate(old) if isinstance(e, cst.DictElement) and id(e.key) in moved_keys
              and not _has_comment(new[i]) and not (last_commented and i == len(old) - 1)]
    details_index = names.index(_DETAILS) if _DETAILS in names else None
    splat_in_details = False
    if details_index is not None:
        details_value = new[details_index].value
        inside = {_key_name(e) for e in details_value.elements} if isinstance(details_value, cst.Dict) else None
        if inside is None or _has_comment(details_value.lbrace) or _has_comment(details_value.rbrace):
            moving = []  # not a literal, or a comment sits at its edge where new keys would go
        else:  # never overwrite a key that details already has
            moving = [e for e in moving if _key_name(e) not in inside]
            splat_in_details = any(isinstance(e, cst.StarredDictElement) for e in details_value.elements)
    moving_ids = {id(e) for e in moving}
    kept = [e for e in new if id(e) not in moving_ids]
    if device is not None and "device_id" not in names:
        element = cst.DictElement(cst.SimpleString('"device_id"'),
                                  cst.Attribute(cst.Name(device), cst.Name("id")))
        # after "success"; before it when it is last and a comment follows it (the comment stays
        # on its line, before the closing brace)
        if "success" not in names:
            position = 0
        elif names[-1] == "success" and _has_comment(updated.rbrace):
            position = names.index("success")
        else:
            position = names.index("success") + 1
        position = sum(1 for e in new[:position] if id(e) not in moving_ids)
        kept.insert(position, element)
    if moving:
        bare = [cst.DictElement(e.key, e.value) for e in moving]
        if details_index is not None:
            index = next(i for i, e in enumerate(kept) if _key_name(e) == _DETAILS)
            details: cst.Dict = kept[index].value
            own = list(details.elements)
            # the worker lets details win over an ad-hoc key: in front of a ** splat, the splat does
            merged = bare + own if splat_in_details else own + bare
            inner = _with_commas(merged, own)
            kept[index] = kept[index].with_changes(value=details.with_changes(elements=inner))
        else:
            kept.append(cst.DictElement(cst.SimpleString(f'"{_DETAILS}"'),
                                        cst.Dict(_with_commas(bare, []))))
    return updated.with_changes(elements=_with_commas(kept, new))


def _append_return(func: cst.FunctionDef, device: str) -> cst.FunctionDef:
    body = func.body
    if not isinstance(body, cst.IndentedBlock):
        return func
    statement = cst.parse_statement(
        f'return {{"success": False, "device_id": {device}.id, "details": {{"error": "no result"}}}}\n')
    return func.with_changes(body=body.with_changes(body=[*body.body, statement]))
