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
    for _ in range(_ROUNDS):
        try:
            module = parse_source(source)
        except _Unparseable:
            break
        repairs = _repairs(module, source, path, settings)
        if not repairs:
            break
        new_module = module.visit(_Repairer(repairs))
        new_source = new_module.code
        if new_source == source:
            break
        applied.extend(code for code, _ in repairs)
        source = new_source
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


def _wrap_in_bool(expr: cst.BaseExpression) -> cst.Call:
    # bool(...) brackets the value itself: `(a or b)` becomes `bool(a or b)`, not `(bool(a or b))`
    inner = expr.with_changes(lpar=[], rpar=[]) if expr.lpar else expr
    return cst.Call(func=cst.Name("bool"), args=[cst.Arg(inner)])


def _key_name(element: cst.BaseDictElement) -> str | None:
    return literal_str(element.key) if isinstance(element, cst.DictElement) else None


def _separator(elements: list[cst.BaseDictElement]) -> cst.Comma:
    """The comma style between elements of this dict (a newline and indent for a multi-line one)."""
    for element in elements[:-1]:
        if isinstance(element.comma, cst.Comma):
            return element.comma
    return cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))


def _with_commas(elements: list[cst.BaseDictElement], before: list[cst.BaseDictElement]) -> list:
    """Commas for the new element list: each element keeps its own (and the comments it holds);
    the last one takes the old last comma (where the closing brace sat); an element that was last,
    or is new, takes the dict's separator."""
    if not elements:
        return elements
    separator = _separator(before)
    last_comma = before[-1].comma if before else cst.MaybeSentinel.DEFAULT
    previous_last = before[-1] if before else None
    out = []
    for index, element in enumerate(elements):
        if index == len(elements) - 1:
            comma = last_comma
        elif element is previous_last or not isinstance(element.comma, cst.Comma):
            comma = separator
        else:
            comma = element.comma
        out.append(element.with_changes(comma=comma))
    return out


def _rebuild_dict(original: cst.Dict, updated: cst.Dict, device: str | None, moved_keys: set[int]) -> cst.Dict:
    old = list(original.elements)
    new = list(updated.elements)
    names = [_key_name(e) for e in new]
    moving = [new[i] for i, e in enumerate(old) if isinstance(e, cst.DictElement) and id(e.key) in moved_keys]
    details_index = names.index(_DETAILS) if _DETAILS in names else None
    if details_index is not None:
        details_value = new[details_index].value
        inside = {_key_name(e) for e in details_value.elements} if isinstance(details_value, cst.Dict) else None
        if inside is None:
            moving = []
        else:  # never overwrite a key that details already has
            moving = [e for e in moving if _key_name(e) not in inside]
    moving_ids = {id(e) for e in moving}
    kept = [e for e in new if id(e) not in moving_ids]
    if device is not None and "device_id" not in names:
        element = cst.DictElement(cst.SimpleString('"device_id"'),
                                  cst.Attribute(cst.Name(device), cst.Name("id")))
        position = names.index("success") + 1 if "success" in names else 0
        position = sum(1 for e in new[:position] if id(e) not in moving_ids)
        kept.insert(position, element)
    if moving:
        bare = [cst.DictElement(e.key, e.value) for e in moving]
        if details_index is not None:
            index = next(i for i, e in enumerate(kept) if _key_name(e) == _DETAILS)
            details: cst.Dict = kept[index].value
            inner = _with_commas(list(details.elements) + bare, list(details.elements))
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
