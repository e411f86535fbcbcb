"""Abstract interpretation of a function body, path by path.

The interpreter walks ``run``'s statements carrying a list of :class:`State` objects: one per
path that reaches the current point (``if``/``try``/loops/``match`` fork them, joins dedupe
them). A state maps variables to abstract values and tracked dicts (by id) to their known keys,
so "a key set only inside an ``if`` is missing on the other path" falls out of the walk.

Each ``return`` hands (value, state, node) to the frame's ``on_return``: the result checks for
``run``, a collector for a helper being followed. Exceptions: every statement that may raise
hands a copy of its pre-state to the innermost enclosing ``try`` (its handlers start from those).
"""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

import libcst as cst

from ..contract import DEVICE_ATTRIBUTES, RUN_PARAMETERS
from . import known
from .scope import NORETURN_CALLS, ModuleScope, import_bindings
from .values import (
    BOOL, BYTES, CLASS, COMPLEX, DATE, DATETIME, DEVICE_OBJ, DICT, EXCEPTION, FLOAT, FUNC, GENERATOR, INT,
    LIST, NAN, NONE, OBJECT, SESSION, SET, STR, TIME, TIMEDELTA, TUPLE, VIEW,
    Device, DictObj, Entry, Func, Qual, Ref, Seq, Ty, Value, ty, unknown,
)

MAX_STATES = 48        # states kept per program point before the surplus is merged
WORK_BUDGET = 20_000   # statements walked (summed over paths; a 300-line job takes ~500) before coarsening
MAX_LOOP_PASSES = 2    # a loop body is walked at most this often (enough for key presence)
MAX_CALL_DEPTH = 4     # helpers followed this deep
DEDUPE_BELOW = 4       # state lists this short are not searched for duplicates

_NUMERIC = frozenset({INT, FLOAT, BOOL})
_READING_METHODS = frozenset({"count", "index", "copy", "issubset", "issuperset", "isdisjoint",
                              "union", "intersection", "difference", "symmetric_difference"})
_TRUE = Ty(frozenset((BOOL,)), truth=True)
_FALSE = Ty(frozenset((BOOL,)), truth=False)
_RAISING = frozenset({cst.Call, cst.Attribute, cst.Subscript, cst.BinaryOperation, cst.Await, cst.Yield,
                      cst.Import, cst.ImportFrom, cst.Raise, cst.Assert, cst.Del, cst.AugAssign})
_NOT_RAISING = frozenset({cst.Name, cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Lambda,
                          cst.FunctionDef, cst.ClassDef})


class Step(NamedTuple):
    """A branch a path took, for messages: ``on the path through "except ConnectionError" (line 8)``."""

    kind: str                  # if-true, if-false, elif-true, elif-false, except, case, no-case, loop-zero, helper
    node: cst.CSTNode          # the node whose line is cited
    label: cst.CSTNode | str | None


class State:
    __slots__ = ("env", "heap", "path")

    def __init__(self, env: dict[str, Value], heap: dict[int, DictObj], path: tuple[Step, ...] = ()):
        self.env = env
        self.heap = heap
        self.path = path

    def fork(self) -> "State":
        return State(dict(self.env), dict(self.heap), self.path)

    def took(self, step: Step) -> "State":
        self.path = self.path + (step,)
        return self


class Out:
    """Where the paths leaving a block go."""

    __slots__ = ("normal", "brk", "cont")

    def __init__(self, normal: list[State], brk: list[State] | None = None, cont: list[State] | None = None):
        self.normal = normal
        self.brk = brk if brk is not None else []
        self.cont = cont if cont is not None else []


ReturnHandler = Callable[[Value | None, State, cst.Return | None, cst.BaseExpression | None], None]


class Frame:
    """One function being interpreted."""

    __slots__ = ("in_run", "on_return", "handlers", "depth", "stack", "outer_raise", "saw_yield")

    def __init__(self, in_run: bool, on_return: ReturnHandler, depth: int = 0,
                 stack: tuple[cst.FunctionDef, ...] = (), outer_raise: Callable[[State], None] | None = None):
        self.in_run = in_run
        self.on_return = on_return
        self.handlers: list[list[State]] = []
        self.depth = depth
        self.stack = stack
        self.outer_raise = outer_raise   # set when an enclosing try (in a caller) collects raises
        self.saw_yield = False

    @property
    def listens(self) -> bool:
        """Does any enclosing ``try`` want the states at which an exception may be raised?"""
        return bool(self.handlers) or self.outer_raise is not None

    def raise_from(self, st: State) -> None:
        if self.handlers:
            self.handlers[-1].append(st.fork())
        elif self.outer_raise is not None:
            self.outer_raise(st)


_FIELDS: dict[type, tuple[str, ...]] = {}
_IS_NODE: dict[type, bool] = {}


def _is_node(cls: type) -> bool:
    known_ = _IS_NODE.get(cls)
    if known_ is None:
        known_ = _IS_NODE[cls] = issubclass(cls, cst.CSTNode)  # an ABC check: slow, so cached per type
    return known_


def iter_children(node: cst.CSTNode) -> Iterable[cst.CSTNode]:
    """The child nodes, read straight from the dataclass fields (libcst's ``children`` property runs
    a visitor and costs a hundred times more)."""
    cls = type(node)
    names = _FIELDS.get(cls)
    if names is None:
        names = _FIELDS[cls] = tuple(f for f in node.__dataclass_fields__
                                     if f not in ("lpar", "rpar") and not f.startswith("whitespace"))
    for name in names:
        value = getattr(node, name)
        vcls = type(value)
        if vcls is tuple or vcls is list:
            for item in value:
                if _is_node(type(item)):
                    yield item
        elif _is_node(vcls):
            yield value


def _suite_body(suite: cst.BaseSuite) -> Iterable[cst.CSTNode]:
    if isinstance(suite, cst.IndentedBlock):
        return suite.body
    return (suite,)  # SimpleStatementSuite: `if x: return y` on one line


_QUOTES = ('"""', "'''", '"', "'")


def literal_str(node: cst.BaseExpression) -> str | None:
    """The value of a plain (not bytes, not f-) string literal, else None."""
    if type(node) is cst.SimpleString:
        raw = node.value
        prefix_end = 0
        while raw[prefix_end] not in "\"'":
            prefix_end += 1
        prefix = raw[:prefix_end].lower()
        if "b" in prefix:
            return None
        if "\\" not in raw:  # no escapes: strip the prefix and the quotes (literal_eval is slow)
            for quote in _QUOTES:
                if raw.startswith(quote, prefix_end):
                    return raw[prefix_end + len(quote):len(raw) - len(quote)]
        try:
            value = node.evaluated_value
        except Exception:  # malformed escapes: libcst parses what Python would reject
            return None
        return value if isinstance(value, str) else None
    if type(node) is cst.ConcatenatedString:
        left, right = literal_str(node.left), literal_str(node.right)
        return left + right if left is not None and right is not None else None
    return None


def const_truth(node: cst.BaseExpression) -> bool | None:
    """The truth of a test that is a constant (``while True``, ``if 0``), else None."""
    if isinstance(node, cst.Name):
        return {"True": True, "False": False, "None": False, "TYPE_CHECKING": False}.get(node.value)
    if isinstance(node, cst.Integer):
        try:
            return int(node.value.replace("_", ""), 0) != 0
        except ValueError:
            return None
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        value = literal_str(node)
        return bool(value) if value is not None else None
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Not):
        inner = const_truth(node.expression)
        return None if inner is None else not inner
    return None


def to_ty(value: Value, heap: dict[int, DictObj] | None = None) -> Ty:
    if isinstance(value, Ty):
        return value
    if isinstance(value, Ref):
        return ty(DICT)
    if isinstance(value, Seq):
        return ty(value.kind)
    if isinstance(value, Func):
        return ty(FUNC)
    if isinstance(value, Device):
        return ty(DEVICE_OBJ)
    if isinstance(value, Qual):
        tag = known.ATTRIBUTES.get(value.name)
        return ty(tag) if tag else unknown(value.name)
    return unknown()


class Interpreter:
    """Interprets ``run`` (and the helpers it calls) of one module."""

    def __init__(self, scope: ModuleScope):
        self.scope = scope
        self._next_oid = 0
        self._raises: dict[int, bool] = {}
        self._evaluating: set[str] = set()
        self._const_cache: dict[str, Value] = {}
        self._const_refs: dict[str, tuple[Ref, dict[int, DictObj]]] = {}
        # Past the work budget (pathological nesting), paths are merged harder and loops walked
        # once: the analysis stays linear, at the price of precision.
        self.work = 0
        self.max_states = MAX_STATES
        self.loop_passes = MAX_LOOP_PASSES

    # ------------------------------------------------------------------ entry points
    def run_function(self, func: cst.FunctionDef, on_return: ReturnHandler) -> tuple[list[State], bool]:
        """Interpret ``run``: the states that fall off the end of its body, and whether it yields."""
        env: dict[str, Value] = {}
        params = list(func.params.posonly_params) + list(func.params.params)
        for index, param in enumerate(params):
            env[param.name.value] = self._param_value(index, param.name.value)
        self._bind_other_params(func.params, env)
        frame = Frame(True, on_return)
        out = self.exec_block(func.body, [State(env, {})], frame)
        return out.normal, frame.saw_yield

    def _param_value(self, index: int, name: str) -> Value:
        role = RUN_PARAMETERS[index] if index < len(RUN_PARAMETERS) else None
        if role == "device":
            return Device(name)
        if role == "job_id":
            return ty(INT, origin=name)
        if role == "db":
            return ty(SESSION, origin=name)
        return unknown(f"the parameter {name}")

    def _bind_other_params(self, params: cst.Parameters, env: dict[str, Value]) -> None:
        for param in params.kwonly_params:
            env[param.name.value] = unknown(f"the parameter {param.name.value}")
        if isinstance(params.star_arg, cst.Param):
            env[params.star_arg.name.value] = Seq(TUPLE, open=True)
        if params.star_kwarg is not None:
            env[params.star_kwarg.name.value] = unknown(f"the parameter {params.star_kwarg.name.value}", DICT)

    # ------------------------------------------------------------------ heap helpers
    def _new_ref(self, st: State, obj: DictObj) -> Ref:
        self._next_oid += 1
        st.heap[self._next_oid] = obj
        return Ref(self._next_oid)

    def _set_entry(self, st: State, ref: Ref, key: str, entry: Entry) -> None:
        obj = st.heap[ref.oid].copy()
        obj.entries[key] = entry
        st.heap[ref.oid] = obj

    def _escape(self, value: Value, st: State, seen: set[int] | None = None) -> None:
        """``value`` was handed to code we cannot see: any key may have been added."""
        if isinstance(value, Ref):
            seen = seen if seen is not None else set()
            if value.oid in seen or value.oid not in st.heap:
                return
            seen.add(value.oid)
            obj = st.heap[value.oid]
            if not obj.open or obj.touched is not None:
                obj = obj.touch(None)
                obj.open = True
                st.heap[value.oid] = obj
            for entry in obj.entries.values():
                self._escape(entry.value, st, seen)
        elif isinstance(value, Seq):
            for item in value.items:
                self._escape(item, st, seen)

    # ------------------------------------------------------------------ state sets
    def _sig(self, value: Value, heap: dict[int, DictObj], names: dict[int, int] | None = None,
             depth: int = 0) -> object:
        """A hashable summary of what a path knows of ``value``. Dicts are numbered in the order they
        are met (``names``), so two paths that built equal dicts under different ids compare equal."""
        cls = type(value)
        if cls is Ref:
            names = names if names is not None else {}
            number = names.get(value.oid)
            if number is not None:
                return number
            number = names[value.oid] = len(names)
            obj = heap.get(value.oid)
            if obj is None or depth > 3:
                return number
            inner = obj.sig
            if inner is None:
                nested = False
                parts = []
                for key in sorted(obj.entries):
                    entry = obj.entries[key]
                    if type(entry.value) in (Ref, Seq):
                        nested = True
                        part = self._sig(entry.value, heap, names, depth + 1)
                    else:
                        part = entry.value
                    parts.append((key, entry.maybe, part, id(entry.site), id(entry.key_site)))
                inner = (obj.open, obj.lossy, obj.touched, len(obj.bad_keys), tuple(parts))
                if not nested:  # a flat dict's summary does not depend on the numbering: keep it
                    obj.sig = inner
            return (number, inner)
        if cls is Seq:
            return ("S", value.kind, value.open, tuple(self._sig(i, heap, names, depth + 1) for i in value.items))
        return value

    def _state_sig(self, st: State, extra: Value | None = None) -> tuple:
        names: dict[int, int] = {}
        sig = tuple((k, self._sig(st.env[k], st.heap, names)) for k in sorted(st.env))
        return sig if extra is None else (sig, self._sig(extra, st.heap, names))

    def _spend(self, amount: int) -> None:
        self.work += amount
        if self.work > WORK_BUDGET and self.loop_passes > 1:
            self.max_states, self.loop_passes = 8, 1

    def dedupe(self, states: list[State]) -> list[State]:
        # a few duplicates cost less to carry than to find
        if len(states) <= DEDUPE_BELOW:
            return states
        self._spend(len(states))
        max_states = self.max_states
        seen: set[tuple] = set()
        out: list[State] = []
        for st in states:
            sig = self._state_sig(st)
            if sig not in seen:
                seen.add(sig)
                out.append(st)
        if len(out) > max_states:
            merged = out[max_states - 1]
            for st in out[max_states:]:
                merged = self._join_states(merged, st)
            out = out[:max_states - 1] + [merged]
        return out

    def _join_states(self, a: State, b: State) -> State:
        heap = dict(a.heap)
        memo: dict[tuple[int, int], Ref] = {}
        env = dict(a.env)
        for name, vb in b.env.items():
            va = a.env.get(name)
            env[name] = vb if va is None else self._join(va, vb, a.heap, b.heap, heap, memo)
        return State(env, heap, a.path)

    def _join(self, va: Value, vb: Value, ha: dict, hb: dict, out: dict, memo: dict) -> Value:
        # a Ref (or a Seq holding one) names a heap object whose contents differ per state
        if not isinstance(va, (Ref, Seq)) and (va is vb or va == vb):
            return va
        if isinstance(va, Ref) and isinstance(vb, Ref) and va.oid in ha and vb.oid in hb:
            key = (va.oid, vb.oid)
            if key in memo:
                return memo[key]
            if va.oid == vb.oid:
                ref = va
            else:
                self._next_oid += 1
                ref = Ref(self._next_oid)
            memo[key] = ref
            oa, ob = ha[va.oid], hb[vb.oid]
            entries: dict[str, Entry] = {}
            for name in oa.entries.keys() | ob.entries.keys():
                ea, eb = oa.entries.get(name), ob.entries.get(name)
                if ea is not None and eb is not None:
                    entries[name] = Entry(self._join(ea.value, eb.value, ha, hb, out, memo),
                                          ea.site if ea.site is not None else eb.site,
                                          ea.key_site or eb.key_site, ea.maybe or eb.maybe)
                else:
                    e = ea if ea is not None else eb
                    value = e.value if ea is not None or not isinstance(e.value, Ref) else Ty(frozenset((DICT,)), joined=True)
                    entries[name] = Entry(value, e.site, e.key_site, True)
            out[ref.oid] = DictObj(entries, oa.open or ob.open, oa.bad_keys + ob.bad_keys, None,
                                   oa.origin if oa.origin is ob.origin else None)
            return ref
        if isinstance(va, Seq) and isinstance(vb, Seq) and va.kind == vb.kind:
            if len(va.items) == len(vb.items):
                return Seq(va.kind, tuple(self._join(x, y, ha, hb, out, memo) for x, y in zip(va.items, vb.items)),
                           va.sites, va.open or vb.open)
            return Seq(va.kind, (), (), True)
        joined = to_ty(va).union(to_ty(vb))
        return Ty(joined.tags, joined.open, joined.origin, True)

    def join_alternatives(self, alts: list[tuple[Value, State]]) -> tuple[Value, State]:
        value, state = alts[0]
        for other_value, other in alts[1:]:
            heap = dict(state.heap)
            memo: dict[tuple[int, int], Ref] = {}
            value = self._join(value, other_value, state.heap, other.heap, heap, memo)
            env = dict(state.env)
            for name, vb in other.env.items():
                va = state.env.get(name)
                env[name] = vb if va is None else self._join(va, vb, state.heap, other.heap, heap, memo)
            state = State(env, heap, state.path)
        return value, state

    # ------------------------------------------------------------------ may it raise?
    def may_raise(self, node: cst.CSTNode | None) -> bool:
        if node is None:
            return False
        key = id(node)
        cached = self._raises.get(key)
        if cached is None:
            cached = self._raises[key] = self._compute_may_raise(node)
        return cached

    def _compute_may_raise(self, node: cst.CSTNode) -> bool:
        t = type(node)
        if t in _RAISING:
            return True
        if t in _NOT_RAISING:
            return False
        if t is cst.Assign:
            return self.may_raise(node.value) or any(
                type(target.target) not in (cst.Name, cst.Subscript) or self._target_may_raise(target.target)
                for target in node.targets)
        return any(self.may_raise(child) for child in iter_children(node))

    def _target_may_raise(self, target: cst.BaseExpression) -> bool:
        # result["k"] = v cannot raise on a dict; result["a"]["b"] = v may (KeyError)
        if isinstance(target, cst.Subscript):
            return not isinstance(target.value, cst.Name)
        return False

    # ------------------------------------------------------------------ statements
    def exec_block(self, suite: cst.BaseSuite, states: list[State], fr: Frame) -> Out:
        out = Out(states)
        for stmt in _suite_body(suite):
            if not out.normal:
                break
            result = self.exec_stmt(stmt, out.normal, fr)
            out.normal = result.normal
            out.brk.extend(result.brk)
            out.cont.extend(result.cont)
        return out

    def exec_stmt(self, stmt: cst.CSTNode, states: list[State], fr: Frame) -> Out:
        t = type(stmt)
        if t is cst.SimpleStatementLine or t is cst.SimpleStatementSuite:
            out = Out(states)
            for small in stmt.body:
                nxt: list[State] = []
                for st in out.normal:
                    self.exec_small(small, st, fr, nxt, out)
                # a followed helper with several returns forks the path: keep the count bounded
                out.normal = self.dedupe(nxt) if len(nxt) > len(out.normal) else nxt
                if not nxt:
                    break
            return out
        if t is cst.If:
            return self.exec_if(stmt, states, fr, "if")
        if t is cst.For:
            return self.exec_for(stmt, states, fr)
        if t is cst.While:
            return self.exec_while(stmt, states, fr)
        if t is cst.Try or t is cst.TryStar:
            return self.exec_try(stmt, states, fr)
        if t is cst.With:
            return self.exec_with(stmt, states, fr)
        if t is cst.Match:
            return self.exec_match(stmt, states, fr)
        if t is cst.FunctionDef:
            value: Value = Func(stmt, stmt.name.value, closure=True) if not stmt.decorators else \
                unknown(f"the decorated function {stmt.name.value}")
            for st in states:
                st.env[stmt.name.value] = value
            return Out(states)
        if t is cst.ClassDef:
            for st in states:
                st.env[stmt.name.value] = unknown(f"the class {stmt.name.value}", CLASS)
            return Out(states)
        return Out(states)

    def exec_small(self, small: cst.BaseSmallStatement, st: State, fr: Frame, nxt: list[State], out: Out) -> None:
        self._spend(1)
        t = type(small)
        if t is cst.Expr:
            value = small.value
            if isinstance(value, cst.Call):
                callee = self._callee(value, st, fr)
                if self._is_noreturn(callee):
                    fr.raise_from(st)  # it raises (SystemExit, or the helper's exception)
                    return
                if isinstance(callee, Func):
                    for _, alt in self.call_helper(callee, value, st, fr):
                        nxt.append(alt)
                    return
            if fr.listens and self.may_raise(value):
                fr.raise_from(st)
            self.ev(value, st, fr)
            nxt.append(st)
        elif t is cst.Assign:
            if fr.listens and self.may_raise(small):
                fr.raise_from(st)
            for value, alt in self.ev_alternatives(small.value, st, fr):
                for target in small.targets:
                    self.assign(target.target, value, alt, fr, small.value)
                nxt.append(alt)
        elif t is cst.AnnAssign:
            if small.value is None:
                nxt.append(st)
                return
            if fr.listens and self.may_raise(small.value):
                fr.raise_from(st)
            for value, alt in self.ev_alternatives(small.value, st, fr):
                self.assign(small.target, value, alt, fr, small.value)
                nxt.append(alt)
        elif t is cst.AugAssign:
            fr.raise_from(st)
            self.aug_assign(small, st, fr)
            nxt.append(st)
        elif t is cst.Return:
            if small.value is None:
                fr.on_return(None, st, small, None)
                return
            if fr.listens and self.may_raise(small.value):
                fr.raise_from(st)
            for value, alt in self.ev_alternatives(small.value, st, fr, split_ifexp=True):
                fr.on_return(value, alt, small, small.value)
        elif t is cst.Raise:
            fr.raise_from(st)
        elif t is cst.Assert:
            truth = const_truth(small.test)
            fr.raise_from(st)
            if truth is False:
                return
            self.ev(small.test, st, fr)
            if self.narrow(small.test, st, True):
                nxt.append(st)
        elif t is cst.Break:
            out.brk.append(st)
        elif t is cst.Continue:
            out.cont.append(st)
        elif t is cst.Del:
            fr.raise_from(st)
            self.delete(small.target, st, fr)
            nxt.append(st)
        elif t is cst.Import or t is cst.ImportFrom:
            fr.raise_from(st)
            for local, full in import_bindings(small):
                st.env[local] = Qual(full)
            nxt.append(st)
        else:  # Pass, Global, Nonlocal, TypeAlias
            nxt.append(st)

    def exec_if(self, node: cst.If, states: list[State], fr: Frame, word: str) -> Out:
        truth = const_truth(node.test)
        raises = fr.listens and self.may_raise(node.test)
        yes: list[State] = []
        no: list[State] = []
        for st in states:
            if raises:
                fr.raise_from(st)
            self.ev(node.test, st, fr)
            if truth is not False:
                s1 = st.fork()
                if self.narrow(node.test, s1, True):
                    yes.append(s1 if truth is True else s1.took(Step(f"{word}-true", node, node.test)))
            if truth is not True:
                if self.narrow(node.test, st, False):
                    no.append(st if truth is False else st.took(Step(f"{word}-false", node, node.test)))
        out_yes = self.exec_block(node.body, yes, fr) if yes else Out([])
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            out_no = self.exec_if(orelse, no, fr, "elif") if no else Out([])
        elif isinstance(orelse, cst.Else):
            out_no = self.exec_block(orelse.body, no, fr) if no else Out([])
        else:
            out_no = Out(no)
        return Out(self.dedupe(out_yes.normal + out_no.normal), out_yes.brk + out_no.brk,
                   out_yes.cont + out_no.cont)

    def _loop(self, node: cst.For | cst.While, states: list[State], fr: Frame,
              enter: Callable[[State], State | None], skippable: list[State]) -> Out:
        """``skippable``: the states on which the loop may run no iteration at all."""
        exits: list[State] = [st.fork().took(Step("loop-zero", node, None)) for st in skippable]
        brk: list[State] = []
        # a pass that ends where it started (the body changed nothing a path knows) is the last
        seen: set[tuple] = set()
        current = states
        for _ in range(self.loop_passes):
            entered = [s for s in (enter(st) for st in current) if s is not None]
            if not entered:
                break
            seen.update(self._state_sig(st) for st in entered)
            out = self.exec_block(node.body, entered, fr)
            brk.extend(out.brk)
            again = self.dedupe(out.normal + out.cont)
            # every path that ends a pass may leave the loop; only new ones need another pass
            if isinstance(node, cst.While):
                for st in again:
                    after = st.fork()
                    if const_truth(node.test) is not True and self.narrow(node.test, after, False):
                        exits.append(after)
            else:
                exits.extend(st.fork() for st in again)
            fresh = []
            for st in again:
                sig = self._state_sig(st)
                if sig not in seen:
                    seen.add(sig)
                    fresh.append(st)
            if not fresh:
                break
            current = fresh
        if node.orelse is not None and exits:
            else_out = self.exec_block(node.orelse.body, self.dedupe(exits), fr)
            exits = else_out.normal
            brk.extend(else_out.brk)
            return Out(self.dedupe(exits + brk), [], else_out.cont)
        return Out(self.dedupe(exits + brk))

    def exec_for(self, node: cst.For, states: list[State], fr: Frame) -> Out:
        item: Value = unknown()
        skippable = []
        for st in states:
            if fr.listens and self.may_raise(node.iter):
                fr.raise_from(st)
            iterable = self.ev(node.iter, st, fr)
            if isinstance(iterable, Ref):
                self._touch(st, iterable, None)  # iterating reads every key
            if isinstance(iterable, Seq) and iterable.items and not iterable.open:
                tys = [to_ty(i) for i in iterable.items]
                item = tys[0]
                for other in tys[1:]:
                    item = item.union(other)
            if not self._nonempty(node.iter, iterable, st):
                skippable.append(st)
        if isinstance(node.iter, cst.Call) and isinstance(node.iter.func, cst.Name) and node.iter.func.value == "range":
            item = ty(INT)

        def enter(st: State) -> State:
            st = st.fork()
            self.assign(node.target, item, st, fr, None)
            return st

        return self._loop(node, states, fr, enter, skippable)

    def _nonempty(self, node: cst.BaseExpression, value: Value, st: State, depth: int = 0) -> bool:
        """Is the iterable certainly not empty (so the loop runs at least once)?"""
        if isinstance(value, Seq):
            return bool(value.items)
        if isinstance(value, Ref):
            obj = st.heap.get(value.oid)
            return obj is not None and any(not e.maybe for e in obj.entries.values())
        if depth > 3 or not isinstance(node, cst.Call):
            return False
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in known.DICT_VIEW_METHODS and not node.args:
            return self._nonempty(func.value, self.lookup(func.value.value, st, Frame(False, _ignore_return))
                                  if isinstance(func.value, cst.Name) else unknown(), st, depth + 1)
        if not isinstance(func, cst.Name) or func.value in st.env:
            return False
        if func.value == "range" and 1 <= len(node.args) <= 3 and all(a.keyword is None and not a.star
                                                                        for a in node.args):
            bounds = [self._const_int(a.value) for a in node.args]
            return None not in bounds and (bounds[2] if len(bounds) == 3 else 1) != 0 \
                and len(range(*bounds)) > 0  # type: ignore[arg-type]
        if func.value in ("enumerate", "sorted", "reversed", "list", "tuple", "iter") and node.args:
            inner = node.args[0].value
            value = self.lookup(inner.value, st, Frame(False, _ignore_return)) if isinstance(inner, cst.Name) else \
                (self.ev(inner, State({}, dict(st.heap)), Frame(False, _ignore_return)) if isinstance(inner, (cst.List, cst.Tuple))
                 else unknown())
            return self._nonempty(inner, value, st, depth + 1)
        return False

    def _const_int(self, node: cst.BaseExpression, depth: int = 0) -> int | None:
        if isinstance(node, cst.Integer):
            try:
                return int(node.value.replace("_", ""), 0)
            except ValueError:
                return None
        if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
            inner = self._const_int(node.expression, depth)
            return -inner if inner is not None else None
        if isinstance(node, cst.Name) and depth < 4 and node.value in self.scope.constants:
            return self._const_int(self.scope.constants[node.value], depth + 1)
        return None

    def exec_while(self, node: cst.While, states: list[State], fr: Frame) -> Out:
        truth = const_truth(node.test)

        def enter(st: State) -> State | None:
            st = st.fork()
            if fr.listens and self.may_raise(node.test):
                fr.raise_from(st)
            self.ev(node.test, st, fr)
            return st if truth is True or self.narrow(node.test, st, True) else None

        if truth is False:
            return Out(states) if node.orelse is None else self.exec_block(node.orelse.body, states, fr)
        out = self._loop(node, states, fr, enter, [])
        if truth is not True:
            # the test may be false before the first pass
            zero = []
            for st in states:
                s = st.fork()
                if self.narrow(node.test, s, False):
                    zero.append(s.took(Step("loop-zero", node, None)))
            if zero:
                if node.orelse is not None:
                    else_out = self.exec_block(node.orelse.body, zero, fr)
                    out.normal = self.dedupe(out.normal + else_out.normal + else_out.brk)
                else:
                    out.normal = self.dedupe(out.normal + zero)
        return out

    def exec_try(self, node: cst.Try | cst.TryStar, states: list[State], fr: Frame) -> Out:
        collector: list[State] = []
        fr.handlers.append(collector)
        try:
            body = self.exec_block(node.body, states, fr)
        finally:
            fr.handlers.pop()
        normal, brk, cont = body.normal, list(body.brk), list(body.cont)
        if node.orelse is not None and normal:
            else_out = self.exec_block(node.orelse.body, normal, fr)
            normal, brk, cont = else_out.normal, brk + else_out.brk, cont + else_out.cont
        raised = self.dedupe(collector)
        catches_all = False
        for handler in node.handlers:
            if handler.type is None or (isinstance(handler.type, cst.Name)
                                        and handler.type.value in ("Exception", "BaseException")):
                catches_all = True
            if not raised:
                continue
            entering = []
            for st in raised:
                s = st.fork().took(Step("except", handler, handler.type))
                if handler.name is not None:
                    self.assign(handler.name.name, ty(EXCEPTION, origin=handler.name.name), s, fr, None)
                entering.append(s)
            h_out = self.exec_block(handler.body, entering, fr)
            normal = normal + h_out.normal
            brk.extend(h_out.brk)
            cont.extend(h_out.cont)
        if not catches_all:
            for st in raised:
                fr.raise_from(st)
        normal = self.dedupe(normal)
        if node.finalbody is not None:
            fin = node.finalbody.body
            normal = self.exec_block(fin, normal, fr).normal if normal else []
            brk = self.exec_block(fin, brk, fr).normal if brk else []
            cont = self.exec_block(fin, cont, fr).normal if cont else []
        return Out(normal, brk, cont)

    def exec_with(self, node: cst.With, states: list[State], fr: Frame) -> Out:
        for st in states:
            for item in node.items:
                if fr.listens and self.may_raise(item.item):
                    fr.raise_from(st)
                self.ev(item.item, st, fr)
                if item.asname is not None:
                    self.assign(item.asname.name, unknown(item.item), st, fr, None)
        return self.exec_block(node.body, states, fr)

    def exec_match(self, node: cst.Match, states: list[State], fr: Frame) -> Out:
        subjects = []
        for st in states:
            if fr.listens and self.may_raise(node.subject):
                fr.raise_from(st)
            subjects.append(self.ev(node.subject, st, fr))
        normal: list[State] = []
        brk: list[State] = []
        cont: list[State] = []
        remaining = states
        for case in node.cases:
            entering = []
            for st in remaining:
                s = st.fork().took(Step("case", case, case.pattern))
                self._bind_pattern(case.pattern, s, fr)
                if case.guard is None or self.narrow(case.guard, s, True):
                    entering.append(s)
            out = self.exec_block(case.body, entering, fr)
            normal.extend(out.normal)
            brk.extend(out.brk)
            cont.extend(out.cont)
            if case.guard is None and self._irrefutable(case.pattern):
                remaining = []
                break
        normal.extend(st.fork().took(Step("no-case", node, node.subject)) for st in remaining)
        return Out(self.dedupe(normal), brk, cont)

    def _irrefutable(self, pattern: cst.MatchPattern) -> bool:
        if isinstance(pattern, cst.MatchAs):
            return pattern.pattern is None or self._irrefutable(pattern.pattern)
        if isinstance(pattern, cst.MatchOr):
            return any(self._irrefutable(p.pattern) for p in pattern.patterns)
        return False

    def _bind_pattern(self, pattern: cst.CSTNode, st: State, fr: Frame) -> None:
        if isinstance(pattern, cst.MatchAs) and pattern.name is not None:
            st.env[pattern.name.value] = unknown(pattern.name)
        elif isinstance(pattern, cst.MatchStar) and pattern.name is not None:
            st.env[pattern.name.value] = Seq(LIST, open=True)
        elif isinstance(pattern, cst.MatchMapping) and pattern.rest is not None:
            st.env[pattern.rest.value] = self._new_ref(st, DictObj(open=True))
        for child in iter_children(pattern):
            if not isinstance(child, cst.BaseExpression):
                self._bind_pattern(child, st, fr)

    # ------------------------------------------------------------------ binding
    def assign(self, target: cst.BaseExpression, value: Value, st: State, fr: Frame,
               value_node: cst.BaseExpression | None) -> None:
        if isinstance(target, cst.Name):
            st.env[target.value] = value
        elif isinstance(target, cst.Subscript):
            base = self.ev(target.value, st, fr)
            key = self.subscript_key(target, st, fr)
            if isinstance(base, Seq):
                self._store_back(target.value, Seq(base.kind, (), (), True), st, fr)
                return
            if isinstance(base, Ref) and base.oid in st.heap:
                if isinstance(key, str):
                    site = value_node if fr.in_run else None
                    key_site = target.slice[0].slice.value if fr.in_run else None
                    self._set_entry(st, base, key, Entry(value, site, key_site))
                else:
                    self._mark_open(st, base)
            else:
                self._escape(value, st)
        elif isinstance(target, (cst.Tuple, cst.List)):
            elements = target.elements
            starred = any(isinstance(e, cst.StarredElement) for e in elements)
            items = value.items if isinstance(value, Seq) and not value.open and not starred \
                and len(value.items) == len(elements) else None
            for index, element in enumerate(elements):
                if isinstance(element, cst.StarredElement):
                    self.assign(element.value, Seq(LIST, open=True), st, fr, None)
                else:
                    self.assign(element.value, items[index] if items is not None else unknown(value_node),
                                st, fr, None)
        elif isinstance(target, cst.StarredElement):
            self.assign(target.value, Seq(LIST, open=True), st, fr, None)
        else:  # attribute: the value escapes into an object we do not track
            self._escape(value, st)

    def _store_back(self, target: cst.BaseExpression, value: Value, st: State, fr: Frame) -> None:
        """A changed list goes back where it came from: a variable, or a key of a tracked dict."""
        if isinstance(target, cst.Name):
            st.env[target.value] = value
        elif isinstance(target, cst.Subscript):
            base = self.ev(target.value, st, fr)
            key = self.subscript_key(target, st, fr)
            if isinstance(base, Ref) and isinstance(key, str) and base.oid in st.heap:
                entry = st.heap[base.oid].entries.get(key)
                if entry is not None:
                    self._set_entry(st, base, key, Entry(value, entry.site, entry.key_site, entry.maybe))

    def _touch(self, st: State, ref: Ref, key: str | None, lossy: bool = False) -> None:
        """Record that ``key`` (None: any key) of a tracked dict was read or removed."""
        obj = st.heap.get(ref.oid)
        if obj is None:
            return
        if obj.touched is not None and (key is None or key not in obj.touched):
            obj = obj.touch(key)
        if lossy and not obj.lossy:
            obj = obj.copy()
            obj.lossy = True
        st.heap[ref.oid] = obj

    def _mark_open(self, st: State, ref: Ref) -> None:
        obj = st.heap[ref.oid]
        if not obj.open:
            obj = obj.copy()
            obj.open = True
            st.heap[ref.oid] = obj

    def aug_assign(self, node: cst.AugAssign, st: State, fr: Frame) -> None:
        current = self.ev(node.target, st, fr)
        operand = self.ev(node.value, st, fr)
        op = type(node.operator).__name__.replace("Assign", "")
        if op == "BitOr" and isinstance(current, Ref) and current.oid in st.heap:
            self._update_from(current, operand, st, fr, None)  # d |= other updates in place
            return
        result = self._binary(op, current, operand, st, node)
        self.assign(node.target, result, st, fr, node.value)

    def delete(self, target: cst.BaseExpression, st: State, fr: Frame) -> None:
        if isinstance(target, cst.Name):
            st.env.pop(target.value, None)
        elif isinstance(target, cst.Subscript):
            base = self.ev(target.value, st, fr)
            key = self.subscript_key(target, st, fr)
            if isinstance(base, Ref) and base.oid in st.heap:
                self._touch(st, base, key if isinstance(key, str) else None, lossy=not isinstance(key, str))
                if isinstance(key, str):
                    obj = st.heap[base.oid].copy()
                    obj.entries.pop(key, None)
                    st.heap[base.oid] = obj
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.delete(element.value, st, fr)

    def subscript_key(self, node: cst.Subscript, st: State, fr: Frame) -> str | int | None:
        if len(node.slice) != 1 or not isinstance(node.slice[0].slice, cst.Index):
            return None
        index = node.slice[0].slice.value
        text = literal_str(index)
        if text is not None:
            return text
        if isinstance(index, cst.Integer):
            try:
                return int(index.value.replace("_", ""), 0)
            except ValueError:
                return None
        if isinstance(index, cst.Name) and index.value not in st.env:
            constant = self.scope.constants.get(index.value)
            if constant is not None:
                return literal_str(constant)
        return None

    # ------------------------------------------------------------------ narrowing
    def narrow(self, test: cst.BaseExpression, st: State, truth: bool) -> bool:
        """Restrict ``st`` to the test being ``truth``; False if that cannot happen on this path."""
        const = const_truth(test)
        if const is not None:
            return const == truth
        if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
            return self.narrow(test.expression, st, not truth)
        if isinstance(test, cst.BooleanOperation):
            if isinstance(test.operator, cst.And) and truth:
                return self.narrow(test.left, st, True) and self.narrow(test.right, st, True)
            if isinstance(test.operator, cst.Or) and not truth:
                return self.narrow(test.left, st, False) and self.narrow(test.right, st, False)
            return True
        if isinstance(test, cst.NamedExpr) and isinstance(test.target, cst.Name):
            return self._narrow_truthy(test.target.value, st, truth)
        if isinstance(test, cst.Name):
            return self._narrow_truthy(test.value, st, truth)
        if isinstance(test, cst.Comparison) and len(test.comparisons) == 1 and isinstance(test.left, cst.Name):
            comparison = test.comparisons[0]
            right = comparison.comparator
            op = comparison.operator
            if isinstance(right, cst.Name) and right.value == "None":
                if isinstance(op, (cst.Is, cst.Equal)):
                    return self._narrow_none(test.left.value, st, truth)
                if isinstance(op, (cst.IsNot, cst.NotEqual)):
                    return self._narrow_none(test.left.value, st, not truth)
            elif isinstance(op, (cst.Equal, cst.NotEqual, cst.Is, cst.IsNot)):
                # `if best == math.inf: best = None`: a sentinel infinity, replaced on one path
                equal = truth == isinstance(op, (cst.Equal, cst.Is))
                current = st.env.get(test.left.value)
                if not equal and isinstance(current, Ty) and NAN in current.tags \
                        and to_ty(self.ev(right, State({}, dict(st.heap)), Frame(False, _ignore_return))).only(NAN):
                    st.env[test.left.value] = current.without(NAN) if current.tags != {NAN} else ty(FLOAT)
        if isinstance(test, cst.Call) and isinstance(test.func, cst.Name) and test.func.value == "isinstance" \
                and len(test.args) == 2 and isinstance(test.args[0].value, cst.Name) \
                and isinstance(test.args[1].value, cst.Name) and test.args[1].value.value == "dict":
            value = st.env.get(test.args[0].value.value)
            if value is None:
                return True
            if truth:
                return not (isinstance(value, (Seq, Func, Device)) or (isinstance(value, Ty) and value.known
                                                                        and DICT not in value.tags))
            return not isinstance(value, Ref)
        return True

    def _narrow_none(self, name: str, st: State, is_none: bool) -> bool:
        value = st.env.get(name)
        if value is None:
            return True
        certainly_none = isinstance(value, Ty) and value.only(NONE)
        # defensive code against what the contract promises (`if device.hostname is None`) runs
        maybe_none = isinstance(value, Ty) and (value.may_be(NONE) or value.assumed)
        if is_none:
            if not maybe_none:
                return False
            st.env[name] = ty(NONE)
            return True
        if certainly_none:
            return False
        if isinstance(value, Ty) and NONE in value.tags:
            st.env[name] = value.without(NONE)
        return True

    def _narrow_truthy(self, name: str, st: State, truth: bool) -> bool:
        value = st.env.get(name)
        if value is None:
            return True
        if isinstance(value, Ty):
            if value.truth is not None:  # a bool tested before on this path: `if ok:` ... `if not ok:`
                return value.truth == truth
            if truth and value.only(NONE):
                return False
            narrowed = value.without(NONE) if truth and NONE in value.tags else value
            if narrowed.only(BOOL):
                narrowed = narrowed.with_truth(truth)
            st.env[name] = narrowed
            return True
        if truth:
            return True
        if isinstance(value, (Func, Device)):
            return False
        if isinstance(value, Seq):
            return not value.items  # a literal with items is truthy
        if isinstance(value, Ref):
            obj = st.heap.get(value.oid)
            return obj is None or not any(not e.maybe for e in obj.entries.values())
        return True

    # ------------------------------------------------------------------ expressions
    def ev_alternatives(self, node: cst.BaseExpression, st: State, fr: Frame,
                        split_ifexp: bool = False) -> list[tuple[Value, State]]:
        """Evaluate, forking where a followed helper has several returns (or an if-expression is returned)."""
        if split_ifexp and isinstance(node, cst.IfExp):
            self.ev(node.test, st, fr)
            truth = const_truth(node.test)
            alts: list[tuple[Value, State]] = []
            if truth is not False:
                s1 = st.fork()
                if self.narrow(node.test, s1, True):
                    alts.extend(self.ev_alternatives(node.body, s1, fr, True))
            if truth is not True and self.narrow(node.test, st, False):
                alts.extend(self.ev_alternatives(node.orelse, st, fr, True))
            return alts
        if isinstance(node, cst.Call):
            callee = self._callee(node, st, fr)
            if isinstance(callee, Func):
                return self.call_helper(callee, node, st, fr)
        return [(self.ev(node, st, fr), st)]

    def _callee(self, call: cst.Call, st: State, fr: Frame) -> Value | None:
        func = call.func
        if isinstance(func, cst.Name):
            return self.lookup(func.value, st, fr)
        if isinstance(func, cst.Attribute):
            base = func.value
            if isinstance(base, (cst.Name, cst.Attribute)):
                # a module attribute (sys.exit); evaluating a Name/Attribute chain has no effects
                value = self.ev(base, st, fr)
                if isinstance(value, Qual):
                    return Qual(f"{value.name}.{func.attr.value}")
        return None

    def _is_noreturn(self, callee: Value | None) -> bool:
        if isinstance(callee, Qual):
            return callee.name in NORETURN_CALLS
        if isinstance(callee, Func):
            return callee.name in self.scope.noreturn and self.scope.functions.get(callee.name) is callee.node
        return False

    def lookup(self, name: str, st: State, fr: Frame) -> Value:
        value = st.env.get(name)
        if value is not None:
            return value
        if name == "True" or name == "False":
            return _TRUE if name == "True" else _FALSE
        if name == "None":
            return ty(NONE)
        cached = self._const_cache.get(name)
        if cached is not None:
            return cached
        shared = self._const_refs.get(name)
        if shared is not None:
            # the constant's dicts, built once, are shared by every path (copied when changed)
            ref, objects = shared
            for oid, obj in objects.items():
                if oid not in st.heap:
                    st.heap[oid] = obj
            return ref
        found = self.scope.global_value(name)
        if isinstance(found, cst.BaseExpression):
            if name in self._evaluating:
                return unknown(f"the module-level name {name}")
            self._evaluating.add(name)
            scratch = State({}, {})
            try:
                value = self.ev(found, scratch, Frame(False, _ignore_return))
            finally:
                self._evaluating.discard(name)
            if isinstance(value, Ref):
                self._const_refs[name] = (value, scratch.heap)
                return self.lookup(name, st, fr)
            if isinstance(value, Ty | Seq | Func | Qual | Device) and not any(
                    isinstance(item, Ref) for item in getattr(value, "items", ())):
                if isinstance(value, Ty):
                    self._const_cache[name] = value
                return value
            return unknown(f"the module-level name {name}")
        return found

    def ev(self, node: cst.BaseExpression, st: State, fr: Frame) -> Value:
        t = type(node)
        if t is cst.Name:
            return self.lookup(node.value, st, fr)
        if t is cst.SimpleString:
            return ty(BYTES) if "b" in node.prefix.lower() else ty(STR)
        if t is cst.FormattedString:
            for part in node.parts:  # f"{result['hostname']}" reads a key
                if type(part) is cst.FormattedStringExpression:
                    self.ev(part.expression, st, fr)
            return ty(STR)
        if t is cst.ConcatenatedString:
            return self.ev(node.left, st, fr)
        if t is cst.Integer:
            return ty(INT)
        if t is cst.Float:
            return ty(FLOAT)
        if t is cst.Imaginary:
            return ty(COMPLEX)
        if t is cst.Dict:
            return self.new_dict(node, st, fr)
        if t is cst.Attribute:
            return self.ev_attribute(node, st, fr)
        if t is cst.Call:
            return self.ev_call(node, st, fr)
        if t is cst.Subscript:
            return self.ev_subscript(node, st, fr)
        if t is cst.Comparison:
            left = self.ev(node.left, st, fr)
            for comparison in node.comparisons:
                right = self.ev(comparison.comparator, st, fr)
                if isinstance(right, Ref) and isinstance(comparison.operator, (cst.In, cst.NotIn)):
                    self._touch(st, right, literal_str(node.left))  # `"k" in result` reads key k
                left = right
            return ty(BOOL)
        if t is cst.BooleanOperation:
            left = to_ty(self.ev(node.left, st, fr))
            right = to_ty(self.ev(node.right, st, fr))
            if left.only(BOOL) and right.only(BOOL):
                return ty(BOOL)
            if isinstance(node.operator, cst.Or):
                left = left.without(NONE)  # `a or b` is a only when a is truthy: never None
            joined = left.union(right)
            return Ty(joined.tags, joined.open, node, joined.joined)
        if t is cst.UnaryOperation:
            operand = to_ty(self.ev(node.expression, st, fr))
            op = node.operator
            if isinstance(op, cst.Not):
                return ty(BOOL)
            if isinstance(op, cst.BitInvert):
                return ty(INT) if operand.known and operand.tags <= {INT, BOOL} else unknown(node)
            if operand.only(NAN):  # -math.inf
                return ty(NAN, origin=node)
            if operand.known and operand.tags <= _NUMERIC:
                return ty(*(operand.tags - {BOOL} | ({INT} if BOOL in operand.tags else set())))
            return unknown(node)
        if t is cst.BinaryOperation:
            left = self.ev(node.left, st, fr)
            right = self.ev(node.right, st, fr)
            return self._binary(type(node.operator).__name__, left, right, st, node)
        if t is cst.IfExp:
            self.ev(node.test, st, fr)
            a = self.ev(node.body, st, fr)
            b = self.ev(node.orelse, st, fr)
            joined = self._join(a, b, st.heap, st.heap, st.heap, {})
            if isinstance(joined, Ty):
                return Ty(joined.tags, joined.open, node, joined.joined, joined.truth, joined.assumed)
            return joined
        if t in (cst.List, cst.Tuple, cst.Set):
            kind = LIST if t is cst.List else TUPLE if t is cst.Tuple else SET
            items: list[Value] = []
            sites: list[cst.CSTNode | None] = []
            is_open = False
            for element in node.elements:
                if isinstance(element, cst.StarredElement):
                    self.ev(element.value, st, fr)
                    is_open = True
                else:
                    items.append(self.ev(element.value, st, fr))
                    sites.append(element.value if fr.in_run else None)
            return Seq(kind, tuple(items), tuple(sites), is_open)
        if t is cst.ListComp:
            return Seq(LIST, open=True)
        if t is cst.SetComp:
            return Seq(SET, open=True)
        if t is cst.GeneratorExp:
            return ty(GENERATOR)
        if t is cst.DictComp:
            return self._new_ref(st, DictObj(open=True))
        if t is cst.Lambda:
            return ty(FUNC)
        if t is cst.NamedExpr:
            value = self.ev(node.value, st, fr)
            self.assign(node.target, value, st, fr, node.value)
            return value
        if t is cst.Yield:
            fr.saw_yield = True
            return unknown(node)
        if t is cst.Await:
            return unknown(node)
        return unknown(node)

    def _binary(self, op: str, left: Value, right: Value, st: State, node: cst.CSTNode) -> Value:
        if op == "BitOr" and isinstance(left, Ref) and isinstance(right, Ref) \
                and left.oid in st.heap and right.oid in st.heap:
            merged = st.heap[left.oid].copy()
            other = st.heap[right.oid]
            merged.entries.update(other.entries)
            merged.open = merged.open or other.open
            merged.bad_keys = merged.bad_keys + other.bad_keys
            return self._new_ref(st, merged)
        a, b = to_ty(left), to_ty(right)
        if op == "Add":
            for tag in (STR, BYTES, LIST, TUPLE):
                if a.only(tag) or b.only(tag):
                    return ty(tag)
        if op == "Modulo" and (a.only(STR) or a.only(BYTES)):
            return ty(next(iter(a.tags)))
        if op == "Multiply":
            for tag in (STR, BYTES, LIST, TUPLE):
                if a.only(tag) or b.only(tag):
                    return ty(tag)
        if op == "Subtract" and a.only(DATETIME) and b.only(DATETIME):
            return ty(TIMEDELTA)
        for tag in (DATETIME, DATE):  # a datetime moved by a timedelta is a datetime
            if op in ("Add", "Subtract") and a.only(tag) and b.only(TIMEDELTA) or \
                    op == "Add" and a.only(TIMEDELTA) and b.only(tag):
                return ty(tag)
        if op in ("BitOr", "BitAnd", "BitXor", "Subtract") and a.only(SET) and b.only(SET):
            return ty(SET)
        if a.known and b.known and a.tags <= _NUMERIC and b.tags <= _NUMERIC:
            if op == "Divide":
                return ty(FLOAT)
            if op in ("BitOr", "BitAnd", "BitXor") and a.only(BOOL) and b.only(BOOL):
                return ty(BOOL)
            if FLOAT in a.tags or FLOAT in b.tags:
                return ty(FLOAT) if op not in ("LeftShift", "RightShift") else unknown(node)
            return ty(INT)
        return unknown(node)

    def new_dict(self, node: cst.Dict, st: State, fr: Frame) -> Ref:
        obj = DictObj(origin=node if fr.in_run else None)
        for element in node.elements:
            if isinstance(element, cst.StarredDictElement):
                source = self.ev(element.value, st, fr)
                if isinstance(source, Ref) and source.oid in st.heap:
                    self._touch(st, source, None)
                    other = st.heap[source.oid]
                    obj.entries.update(other.entries)
                    obj.open = obj.open or other.open
                    obj.bad_keys = obj.bad_keys + other.bad_keys
                else:
                    obj.open = True
                continue
            key = literal_str(element.key)
            if key is None and isinstance(element.key, cst.Name) and element.key.value not in st.env:
                constant = self.scope.constants.get(element.key.value)
                key = literal_str(constant) if constant is not None else None
            value = self.ev(element.value, st, fr)
            if key is not None:
                obj.entries[key] = Entry(value, element.value if fr.in_run else None,
                                         element.key if fr.in_run else None)
                continue
            key_ty = to_ty(self.ev(element.key, st, fr))
            if key_ty.known and STR not in key_ty.tags:
                obj.bad_keys = obj.bad_keys + ((element.key if fr.in_run else None, key_ty.kind()),)
            else:
                obj.open = True
        return self._new_ref(st, obj)

    def ev_attribute(self, node: cst.Attribute, st: State, fr: Frame) -> Value:
        base = self.ev(node.value, st, fr)
        attr = node.attr.value
        if isinstance(base, Qual):
            full = f"{base.name}.{attr}"
            tag = known.ATTRIBUTES.get(full)
            return ty(tag, origin=node) if tag and tag != CLASS else Qual(full)
        if isinstance(base, Device):
            expected = DEVICE_ATTRIBUTES.get(attr)
            if expected is not None:
                return Ty(frozenset(({int: INT, str: STR}.get(expected, OBJECT),)), False, node, assumed=True)
            return unknown(node)
        if isinstance(base, Ty) and base.only(EXCEPTION) and attr == "args":
            return ty(TUPLE)
        return unknown(node)

    def ev_subscript(self, node: cst.Subscript, st: State, fr: Frame) -> Value:
        base = self.ev(node.value, st, fr)
        key = self.subscript_key(node, st, fr)
        if isinstance(base, Ref) and base.oid in st.heap:
            self._touch(st, base, key if isinstance(key, str) else None)
            entry = st.heap[base.oid].entries.get(key) if isinstance(key, str) else None
            if entry is not None and not entry.maybe:
                return entry.value
            return unknown(node)
        if isinstance(base, Seq) and isinstance(key, int) and not base.open and base.kind != SET:
            if -len(base.items) <= key < len(base.items):
                return base.items[key]
        if isinstance(base, Ty) and base.only(STR):
            return ty(STR)
        for element in node.slice:
            if isinstance(element.slice, cst.Index):
                self.ev(element.slice.value, st, fr)
        return unknown(node)

    # ------------------------------------------------------------------ calls
    def _args(self, call: cst.Call, st: State, fr: Frame) -> list[Value]:
        return [self.ev(arg.value, st, fr) for arg in call.args]

    def ev_call(self, node: cst.Call, st: State, fr: Frame) -> Value:
        func = node.func
        if isinstance(func, cst.Attribute):
            receiver = self.ev(func.value, st, fr)
            method = func.attr.value
            if isinstance(receiver, Qual):
                return self.call_qualified(Qual(f"{receiver.name}.{method}"), node, st, fr)
            if isinstance(receiver, Ref) and receiver.oid in st.heap:
                return self.dict_method(receiver, method, node, st, fr)
            if isinstance(receiver, Seq) and receiver.kind in (LIST, SET) and method not in _READING_METHODS:
                args = self._args(node, st, fr)
                if method in ("append", "add") and len(args) == 1:
                    site = node.args[0].value if fr.in_run else None
                    changed = Seq(receiver.kind, receiver.items + (args[0],), receiver.sites + (site,), receiver.open)
                elif method in ("extend", "insert", "update"):
                    changed = Seq(receiver.kind, receiver.items, receiver.sites, True)
                else:  # pop, remove, clear, sort, ...: which items remain is not known
                    changed = Seq(receiver.kind, (), (), True)
                self._store_back(func.value, changed, st, fr)
                return unknown(node) if method == "pop" else ty(NONE)
            args = self._args(node, st, fr)
            if method not in known.PURE_METHODS:
                for arg in args:
                    self._escape(arg, st)
            if method in known.ANY_RECEIVER_METHODS:
                return ty(known.ANY_RECEIVER_METHODS[method], origin=node)
            receiver_ty = to_ty(receiver)
            if receiver_ty.only(STR) and method in known.STR_METHODS:
                return ty(known.STR_METHODS[method], origin=node)
            for tag in (DATETIME, DATE, TIME):
                if receiver_ty.only(tag) and method in known.SAME_TYPE_METHODS:
                    return ty(tag, origin=node)
            if receiver_ty.only(BYTES) and method == "decode":
                return ty(STR)
            if method == "get" and 1 <= len(args) <= 2:
                default = to_ty(args[1]) if len(args) == 2 else ty(NONE)
                return Ty(default.tags, True, node)
            return unknown(node)
        callee = self.ev(func, st, fr)
        if isinstance(callee, Func):
            if self._is_noreturn(callee):
                return unknown(node)
            alternatives = self.call_helper(callee, node, st, fr)
            if not alternatives:
                return unknown(node)
            value, merged = self.join_alternatives(alternatives)
            st.heap = merged.heap
            return value
        if isinstance(callee, Qual):
            return self.call_qualified(callee, node, st, fr)
        for arg in self._args(node, st, fr):
            self._escape(arg, st)
        return unknown(node)

    def call_qualified(self, callee: Qual, node: cst.Call, st: State, fr: Frame) -> Value:
        name = callee.name
        if name in ("builtins.dict", "collections.OrderedDict", "collections.defaultdict"):
            return self._dict_call(node, st, fr, positional_is_factory=name == "collections.defaultdict")
        if name == "builtins.getattr":
            args = self._args(node, st, fr)
            if len(args) == 3:
                default = to_ty(args[2])
                if isinstance(args[0], Device):
                    attr = literal_str(node.args[1].value)
                    expected = DEVICE_ATTRIBUTES.get(attr) if attr else None
                    if expected is not None:
                        base = {int: INT, str: STR}.get(expected, OBJECT)
                        return Ty(default.tags | {base}, default.open, node)
                return Ty(default.tags, True, node)
            return unknown(node)
        if name in ("copy.copy", "copy.deepcopy"):
            args = self._args(node, st, fr)
            if len(args) == 1 and isinstance(args[0], Ref) and args[0].oid in st.heap:
                if name == "copy.deepcopy":
                    return self._deep_copy(args[0], st, {})
                return self._new_ref(st, st.heap[args[0].oid].copy())
            return unknown(node)
        if name == "builtins.float" and len(node.args) == 1:
            text = literal_str(node.args[0].value)
            if text is not None and text.strip().lower() in known.NAN_LITERALS:
                return ty(NAN, origin=node)
        if name == "builtins.round":
            self._args(node, st, fr)
            return ty(INT) if len(node.args) == 1 else ty(FLOAT)
        tag = known.CALLS.get(name)
        args = self._args(node, st, fr)
        if tag is not None:
            return ty(tag, origin=node)
        if name not in known.PURE_CALLS and not name.startswith(known.PURE_MODULES):
            for arg in args:
                self._escape(arg, st)
        return unknown(node)

    def _deep_copy(self, ref: Ref, st: State, copies: dict[int, Ref]) -> Ref:
        if ref.oid in copies:
            return copies[ref.oid]
        obj = st.heap[ref.oid].copy()
        new = copies[ref.oid] = self._new_ref(st, obj)
        for key, entry in list(obj.entries.items()):
            if isinstance(entry.value, Ref) and entry.value.oid in st.heap:
                obj.entries[key] = Entry(self._deep_copy(entry.value, st, copies), entry.site, entry.key_site,
                                         entry.maybe)
        return new

    def _dict_call(self, node: cst.Call, st: State, fr: Frame, positional_is_factory: bool) -> Ref:
        obj = DictObj()
        ref = self._new_ref(st, obj)
        for arg in node.args:
            if arg.keyword is not None:
                value = self.ev(arg.value, st, fr)
                self._set_entry(st, ref, arg.keyword.value,
                                Entry(value, arg.value if fr.in_run else None, arg.keyword if fr.in_run else None))
            elif arg.star == "**" or (arg.star == "" and not positional_is_factory):
                self._update_from(ref, self.ev(arg.value, st, fr), st, fr, arg)
            else:
                self.ev(arg.value, st, fr)
        return ref

    def _update_from(self, ref: Ref, source: Value, st: State, fr: Frame, arg: cst.Arg | None) -> None:
        if isinstance(source, Ref) and source.oid in st.heap:
            obj = st.heap[ref.oid].copy()
            other = st.heap[source.oid]
            obj.entries.update(other.entries)
            obj.open = obj.open or other.open
            obj.bad_keys = obj.bad_keys + other.bad_keys
            st.heap[ref.oid] = obj
        else:
            self._mark_open(st, ref)

    def dict_method(self, ref: Ref, method: str, node: cst.Call, st: State, fr: Frame) -> Value:
        args = node.args
        key = literal_str(args[0].value) if args and args[0].keyword is None and not args[0].star else None
        if method not in ("update", "setdefault") or key is None:
            # the method reads (or removes) that key, or any key: --fix must not move it
            self._touch(st, ref, key if method in ("get", "pop", "setdefault") else None,
                        lossy=method in ("pop", "popitem") and key is None)
        obj = st.heap[ref.oid]
        if method == "get" and 1 <= len(args) <= 2:
            default = self.ev(args[1].value, st, fr) if len(args) == 2 else ty(NONE)
            entry = obj.entries.get(key) if key is not None else None
            if entry is not None and not entry.maybe:
                return entry.value
            if entry is None and key is not None and not obj.open:
                return default
            return Ty(to_ty(default).tags, True, node)
        if method == "setdefault" and len(args) in (1, 2):
            value = self.ev(args[1].value, st, fr) if len(args) == 2 else ty(NONE)
            if key is None:
                self._mark_open(st, ref)
                return unknown(node)
            entry = obj.entries.get(key)
            if entry is not None and not entry.maybe:
                return entry.value
            site = args[1].value if len(args) == 2 else args[0].value
            self._set_entry(st, ref, key, Entry(value, site if fr.in_run else None,
                                                args[0].value if fr.in_run else None))
            return value
        if method == "pop" and len(args) in (1, 2):
            default = self.ev(args[1].value, st, fr) if len(args) == 2 else None
            if key is None:
                return unknown(node)
            entry = obj.entries.get(key)
            new = obj.copy()
            new.entries.pop(key, None)
            st.heap[ref.oid] = new
            if entry is not None and not entry.maybe:
                return entry.value
            return to_ty(default) if default is not None else unknown(node)
        if method == "update":
            for arg in args:
                if arg.keyword is not None:
                    value = self.ev(arg.value, st, fr)
                    self._set_entry(st, ref, arg.keyword.value,
                                    Entry(value, arg.value if fr.in_run else None, arg.keyword if fr.in_run else None))
                else:
                    self._update_from(ref, self.ev(arg.value, st, fr), st, fr, arg)
            return ty(NONE)
        if method == "copy":
            return self._new_ref(st, obj.copy())
        if method == "clear":
            st.heap[ref.oid] = DictObj(origin=obj.origin)
            return ty(NONE)
        if method in known.DICT_VIEW_METHODS:
            return ty(VIEW, origin=node)
        for arg in args:
            self._escape(self.ev(arg.value, st, fr), st)
        if method == "popitem":
            self._mark_open(st, ref)
        return unknown(node)

    def call_helper(self, func: Func, call: cst.Call, st: State, fr: Frame) -> list[tuple[Value, State]]:
        """Follow a call to a function of the module: one (value, state) per way it can return."""
        node = func.node
        if node in fr.stack:
            # recursion adds no new way to return: the other returns of the function are its values
            self._args(call, st, fr)
            return []
        if fr.depth >= MAX_CALL_DEPTH or node.asynchronous is not None:
            for arg in self._args(call, st, fr):
                self._escape(arg, st)
            return [(unknown(call), st)]
        env = self._bind_arguments(node, call, st, fr)
        if func.closure:  # a function defined in the caller sees the caller's variables
            env = {**st.env, **env}
        caller_env = dict(st.env)
        caller_path = st.path
        step = Step("helper", call, func.name)
        returns: list[tuple[Value, State]] = []

        def collect(value: Value | None, rs: State, ret: cst.Return | None, _: object) -> None:
            returns.append((value if value is not None else ty(NONE, origin=f"a bare return in {func.name}()"),
                            rs))

        def reraise(rs: State) -> None:
            fr.raise_from(State(dict(caller_env), rs.heap, caller_path))

        sub = Frame(False, collect, fr.depth + 1, fr.stack + (node,), reraise if fr.listens else None)
        out = self.exec_block(node.body, [State(env, dict(st.heap), caller_path)], sub)
        if sub.saw_yield:  # a generator function: the call returns a generator, whatever it yields
            return [(ty(GENERATOR, origin=call), st)]
        for rs in out.normal:
            returns.append((ty(NONE, origin=f"{func.name}() reaching the end of its body"), rs))
        # the helper's paths differ in its own locals; what the caller sees is often the same
        results: list[tuple[Value, State]] = []
        seen: set[object] = set()
        for value, rs in returns:
            back = State(dict(caller_env), rs.heap, caller_path + (step,))
            sig = self._state_sig(back, value)
            if sig not in seen:
                seen.add(sig)
                results.append((value, back))
        return results

    def _bind_arguments(self, node: cst.FunctionDef, call: cst.Call, st: State, fr: Frame) -> dict[str, Value]:
        params = node.params
        positional = list(params.posonly_params) + list(params.params)
        names = [p.name.value for p in positional]
        kwonly = {p.name.value: p for p in params.kwonly_params}
        env: dict[str, Value] = {}
        extra_positional: list[Value] = []
        extra_keywords: dict[str, tuple[Value, cst.Arg]] = {}
        unknown_rest = False
        index = 0
        for arg in call.args:
            value = self.ev(arg.value, st, fr)
            if arg.star == "*":
                unknown_rest = True
                continue
            if arg.star == "**":
                unknown_rest = True
                continue
            if arg.keyword is None:
                if index < len(names):
                    env[names[index]] = value
                else:
                    extra_positional.append(value)
                index += 1
            else:
                name = arg.keyword.value
                if name in names or name in kwonly:
                    env[name] = value
                else:
                    extra_keywords[name] = (value, arg)
        for param in positional + list(params.kwonly_params):
            name = param.name.value
            if name in env:
                continue
            if param.default is not None and not unknown_rest:
                env[name] = self.ev(param.default, State({}, st.heap), Frame(False, _ignore_return))
            else:
                env[name] = unknown(f"the parameter {name}")
        if isinstance(params.star_arg, cst.Param):
            env[params.star_arg.name.value] = Seq(TUPLE, tuple(extra_positional), (), unknown_rest)
        if params.star_kwarg is not None:
            obj = DictObj(open=unknown_rest)
            for name, (value, arg) in extra_keywords.items():
                obj.entries[name] = Entry(value, arg.value if fr.in_run else None, arg.keyword if fr.in_run else None)
            env[params.star_kwarg.name.value] = self._new_ref(st, obj)
        return env


def _ignore_return(*_: object) -> None:
    return None

