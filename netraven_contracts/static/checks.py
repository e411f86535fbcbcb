"""The rules, applied: module-level checks and the checks of every value ``run`` returns.

Checks produce :class:`Pending` findings that still point at nodes; :mod:`.engine` turns them
into positioned, worded :class:`~netraven_contracts.findings.Finding` objects in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from ..contract import (
    DEFAULT_MAX_DETAILS_DEPTH, DETAILS_KEY, DEVICE_ID_KEY, JOB_META_SCHEMA, RESERVED_KEYS, RUN_PARAMETERS,
    SUCCESS_KEY,
)
from .interpreter import Interpreter, State, Step, literal_str, to_ty
from .scope import ModuleScope
from .values import (
    BOOL, DICT, INT, JSON_FIX, KIND_TEXT, NAN, NON_JSON, NONE, SET, Device, DictObj, Entry, Func, Qual,
    Ref, Seq, Ty, Value,
)


@dataclass(frozen=True, slots=True)
class AppendReturn:
    """NRJ003 (falls off the end): append a failure result to run's body."""

    run: cst.FunctionDef
    device: str


@dataclass(frozen=True, slots=True)
class AddDeviceId:
    """NRJ006: add ``"device_id": <device>.id`` to the literal that built the result, in run."""

    literal: cst.Dict
    device: str


@dataclass(frozen=True, slots=True)
class WrapInBool:
    """NRJ008: wrap the success value in ``bool(...)``."""

    value: cst.BaseExpression


@dataclass(frozen=True, slots=True)
class MoveToDetails:
    """NRJ012: move the key of ``literal`` that is ``key`` under its "details" dict literal."""

    literal: cst.Dict
    key: cst.CSTNode


@dataclass(slots=True)
class Pending:
    """A finding before it has a position and a message: ``fields`` may hold nodes and steps."""

    code: str
    node: cst.CSTNode | None        # None: line 1, column 1
    fields: dict[str, object] = field(default_factory=dict)
    repair: object = None           # what check --fix needs to repair it (see .fixes)


class Reporter:
    """Collects pending findings, once per (code, node, subject)."""

    def __init__(self) -> None:
        self.pending: list[Pending] = []
        self._seen: set[tuple] = set()
        self._subjects: dict[int, object] = {}
        self._by_key: dict[tuple, Pending] = {}

    def merge(self, other: "Reporter") -> None:
        for pending in other.pending:
            self.add(pending.code, pending.node, other._subjects[id(pending)], repair=pending.repair,
                     **pending.fields)

    def add(self, code: str, node: cst.CSTNode | None, subject: object = None, *, repair: object = None,
            **fields: object) -> None:
        key = (code, id(node), subject)
        if key in self._seen:
            # the same finding on another path: a repair is safe only if it is safe on every path
            existing = self._by_key[key]
            if existing.repair is not None and existing.repair != repair:
                existing.repair = None
            return
        self._seen.add(key)
        pending = Pending(code, node, fields, repair)
        self._by_key[key] = pending
        self._subjects[id(pending)] = subject
        self.pending.append(pending)


# ---------------------------------------------------------------------------- module level

def check_module(module: cst.Module, report: Reporter) -> None:
    scope = ModuleScope.read(module)
    _check_job_meta(scope, report)
    if not scope.run_defs:
        if scope.run_other is None:
            report.add("NRJ001", None)
        else:
            report.add("NRJ015", scope.run_other, origin="`run` is bound by an import or an assignment",
                       where="")
        return
    for run in scope.run_defs:
        if _is_overload(run):  # a typing stub: only the undecorated definition exists at runtime
            continue
        device = _first_param(run)
        if not _check_signature(run, report) or run.asynchronous is not None:
            continue
        own = Reporter()
        checker = ResultChecker(own, device, repairs=_has_device_param(run))
        ends, generator = Interpreter(scope).run_function(run, checker.on_return)
        if generator:  # its returns end a generator: calling run never returns a result
            report.add("NRJ004", run, kind="a generator (run contains `yield`)", where="", device=device)
            continue
        report.merge(own)
        if ends:
            report.add("NRJ003", run, what="`run` can reach the end of its body without a return",
                       where=_last_step(ends[0]), device=device,
                       repair=AppendReturn(run, device) if checker.repairs else None)


def _first_param(run: cst.FunctionDef) -> str:
    params = list(run.params.posonly_params) + list(run.params.params)
    return params[0].name.value if params else RUN_PARAMETERS[0]


def _has_device_param(run: cst.FunctionDef) -> bool:
    return bool(run.params.posonly_params or run.params.params)


def _is_overload(func: cst.FunctionDef) -> bool:
    for decorator in func.decorators:
        target = decorator.decorator
        name = target.attr.value if isinstance(target, cst.Attribute) else \
            target.value if isinstance(target, cst.Name) else None
        if name == "overload":
            return True
    return False


def _check_signature(run: cst.FunctionDef, report: Reporter) -> bool:
    """NRJ002 when run(device, job_id, config, db) would fail; True when the signature is fine."""
    params = run.params
    positional = list(params.posonly_params) + list(params.params)
    required = [p for p in positional if p.default is None]
    wanted = len(RUN_PARAMETERS)
    reasons = []
    if run.asynchronous is not None:
        reasons.append("it is `async def`, so calling it returns a coroutine instead of a result")
    if len(required) > wanted:
        reasons.append(f"it requires {len(required)} positional arguments")
    if len(positional) < wanted and not isinstance(params.star_arg, cst.Param):
        reasons.append(f"it accepts only {len(positional)} positional argument{'s' if len(positional) != 1 else ''}")
    for param in params.kwonly_params:
        if param.default is None:
            reasons.append(f'its keyword-only parameter "{param.name.value}" has no default')
    if reasons:
        report.add("NRJ002", run, reason="; ".join(reasons))
        return False
    return True


def _check_job_meta(scope: ModuleScope, report: Reporter) -> None:
    if not scope.job_meta:
        report.add("NRJ020", None, problem="the job module defines no module-level JOB_META")
        return
    line, value = scope.job_meta[-1]
    if not isinstance(value, cst.Dict):
        what = "not a dict literal" if value is not None else "bound by unpacking, not a dict literal"
        report.add("NRJ020", line, problem=f"JOB_META is {what}")
        return
    keys: dict[str, cst.BaseExpression] = {}
    has_splat = False
    for element in value.elements:
        if isinstance(element, cst.StarredDictElement):
            has_splat = True
            continue
        key = literal_str(element.key)
        if key is None:
            has_splat = True
        else:
            keys[key] = element.value
    for name, expected in JOB_META_SCHEMA.items():
        if name not in keys:
            if not has_splat:
                report.add("NRJ021", line, name, problem=f'lacks "{name}"; add "{name}": "..." (a str)')
            continue
        if expected is str and not _is_str_literal(keys[name]):
            kind = _literal_kind(keys[name])
            report.add("NRJ021", line, name,
                       problem=f'"{name}" is {kind}, not a str literal; write it as a string, e.g. "{name}": "..."')


def _is_str_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.SimpleString):
        return "b" not in node.prefix.lower()
    if isinstance(node, cst.FormattedString):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return _is_str_literal(node.left) and _is_str_literal(node.right)
    return False


def _literal_kind(node: cst.BaseExpression) -> str:
    if isinstance(node, (cst.Integer, cst.Float, cst.Imaginary)):
        return "a number"
    if isinstance(node, cst.Name) and node.value in ("None", "True", "False"):
        return "None" if node.value == "None" else "a bool"
    if isinstance(node, (cst.List, cst.Tuple, cst.Set, cst.Dict)):
        return "a " + type(node).__name__.lower()
    if isinstance(node, cst.SimpleString):
        return "bytes"
    return "an expression"


def _last_step(st: State) -> Step | str:
    for step in reversed(st.path):
        if step.kind != "helper":
            return step
    return ""


# ---------------------------------------------------------------------------- returned values

class ResultChecker:
    """Checks each value ``run`` returns, on the path it is returned on."""

    def __init__(self, report: Reporter, device: str, repairs: bool = True):
        self.report = report
        self.device = device
        self.repairs = repairs  # False when run has no parameter to name the device with

    def on_return(self, value: Value | None, st: State, ret: cst.Return, value_node: cst.BaseExpression | None) -> None:
        where = _last_step(st)
        if value is None:
            self.report.add("NRJ003", ret, what="`return` without a value returns None", where=where,
                            device=self.device)
            return
        if isinstance(value, Ref) and value.oid in st.heap:
            self._check_dict(st.heap[value.oid], st, ret, where)
            return
        if isinstance(value, (Seq, Func, Device)):
            self.report.add("NRJ004", ret, kind=to_ty(value).kind(), where=where, device=self.device)
            return
        if isinstance(value, Qual):
            self.report.add("NRJ015", ret, origin=value_node or value.name, where="")
            return
        self._check_ty(value, ret, value_node, where)

    def _check_ty(self, value: Ty, ret: cst.Return, value_node: cst.BaseExpression | None, where: object) -> None:
        if value.only(NONE):
            plain = isinstance(value_node, cst.Name) and value_node.value == "None"
            what = "`return None` returns None" if plain else \
                ("`run` returns None (from ", _origin_text(value, value_node), ")")
            self.report.add("NRJ003", ret, what=what, where=where, device=self.device)
        elif value.known and DICT not in value.tags:
            self.report.add("NRJ004", ret, kind=value.kind(), where=where, device=self.device)
        elif not value.joined and (value.open or DICT in value.tags):
            self.report.add("NRJ015", ret, origin=value.origin or value_node, where="")

    def _check_dict(self, obj: DictObj, st: State, ret: cst.Return, where: object) -> None:
        unknown_keys = []
        for key, code in ((SUCCESS_KEY, "NRJ005"), (DEVICE_ID_KEY, "NRJ006")):
            entry = obj.entries.get(key)
            if entry is None and obj.open:
                unknown_keys.append(key)
            elif entry is None or entry.maybe:
                repair = AddDeviceId(obj.origin, self.device) \
                    if code == "NRJ006" and obj.origin is not None and self.repairs else None
                self.report.add(code, ret, where=where, device=self.device, repair=repair)
        if unknown_keys:
            keys = " and ".join(f'"{k}"' for k in unknown_keys)
            self.report.add("NRJ015", ret, origin=f"a dict whose {keys} key{'s' if len(unknown_keys) > 1 else ''} "
                                                  "may be set by code this check cannot see", where="")
        for key, entry in obj.entries.items():
            site = entry.site if entry.site is not None else ret
            if key == SUCCESS_KEY:
                self._check_success(entry.value, site, entry.site)
            elif key == DEVICE_ID_KEY:
                self._check_device_id(entry.value, site, ret, where)
            elif key == DETAILS_KEY:
                self._check_details(entry.value, site, st, ret)
            elif key in RESERVED_KEYS:
                self.report.add("NRJ013", entry.key_site or ret, key, key=key)
            elif not obj.lossy:  # after `result.pop(name)` the key may be gone
                self.report.add("NRJ012", entry.key_site or ret, key, key=key, note="",
                                repair=self._move_fix(obj, key, entry))

    def _move_fix(self, obj: DictObj, key: str, entry: Entry) -> "MoveToDetails | None":
        """Moving the key is safe when it stands in the literal that built the returned dict, nothing
        reads or removes it later, nothing unseen has the dict, and "details" (if any) is that
        literal's own dict literal, not one set or replaced later."""
        literal = obj.origin
        if literal is None or entry.key_site is None or obj.open or obj.touched is None or key in obj.touched:
            return None
        elements = [e for e in literal.elements if isinstance(e, cst.DictElement)]
        if not any(e.key is entry.key_site for e in elements):
            return None
        details = obj.entries.get(DETAILS_KEY)
        if details is not None:
            own = [e for e in elements if literal_str(e.key) == DETAILS_KEY]
            if not own or own[-1].value is not details.site or not isinstance(own[-1].value, cst.Dict):
                return None
        return MoveToDetails(literal, entry.key_site)

    def _check_success(self, value: Value, site: cst.CSTNode, value_node: cst.CSTNode | None) -> None:
        t = to_ty(value)
        if t.only(BOOL):
            return
        if t.known and BOOL not in t.tags:
            self.report.add("NRJ007", site, kind=t.kind(), where="")
        else:
            repair = WrapInBool(value_node) if isinstance(value_node, cst.BaseExpression) else None
            self.report.add("NRJ008", site, origin=t.origin or site, where="", repair=repair)

    def _check_device_id(self, value: Value, site: cst.CSTNode, ret: cst.Return, where: object) -> None:
        t = to_ty(value)
        if t.known and INT not in t.tags:
            self.report.add("NRJ009", site, kind=t.kind(), where="", device=self.device)
        elif NONE in t.tags:
            self.report.add("NRJ010", ret, origin=t.origin or site, where=where, device=self.device)

    def _check_details(self, value: Value, site: cst.CSTNode, st: State, ret: cst.Return) -> None:
        if isinstance(value, Ref) and value.oid in st.heap:
            self._scan_json(value, "", site, st, ret, set())
            return
        t = to_ty(value)
        if t.known and DICT not in t.tags:
            self.report.add("NRJ011", site, kind=t.kind(), where="")

    def _scan_json(self, value: Value, at: str, site: cst.CSTNode, st: State, ret: cst.Return, seen: set[int]) -> None:
        if len(seen) > DEFAULT_MAX_DETAILS_DEPTH:  # deeper than JSONB is useful; the runtime check says so
            return
        if isinstance(value, Ref):
            obj = st.heap.get(value.oid)
            if obj is None or value.oid in seen:
                return
            seen = seen | {value.oid}
            for key_site, kind in obj.bad_keys:
                self.report.add("NRJ014", key_site or ret, (at, "key", kind), at=at,
                                kind=f"a dict with {kind} as a key", why="JSON silently turns into a string",
                                fix="use str keys")
            for key, entry in obj.entries.items():
                self._scan_json(entry.value, f'{at}["{key}"]', entry.site if entry.site is not None else ret,
                                st, ret, seen)
            return
        if isinstance(value, Seq):
            if value.kind == SET:
                self._report_json(SET, at, site, ret)
                return
            for index, item in enumerate(value.items):
                item_site = value.sites[index] if index < len(value.sites) and value.sites[index] is not None else site
                self._scan_json(item, f"{at}[{index}]", item_site, st, ret, seen)
            return
        t = to_ty(value)
        if t.open:
            return
        bad = sorted(t.tags & NON_JSON)
        if bad:
            self._report_json(bad[0], at, site, ret)

    def _report_json(self, tag: str, at: str, site: cst.CSTNode, ret: cst.Return) -> None:
        why = "JSONB refuses (JSON has no NaN or Infinity)" if tag == NAN else "JSON cannot encode"
        self.report.add("NRJ014", site, (at, tag), at=at, kind=KIND_TEXT[tag], why=why, fix=JSON_FIX[tag])


def _origin_text(value: Ty, node: cst.CSTNode | None) -> object:
    return value.origin or node or "an expression"

