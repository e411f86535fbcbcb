"""What a job module defines at top level: imports, functions, constants, ``run``, ``JOB_META``.

Only top-level statements are read (descending into top-level ``if``/``try``/``with`` blocks,
where conditional imports and definitions live); nothing is executed.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass, field

import libcst as cst

from ..contract import JOB_META_NAME, RUN_FUNCTION
from .values import Func, Qual, Value, unknown

_BUILTIN_NAMES = frozenset(dir(builtins))
_NORETURN_ANNOTATIONS = frozenset({"NoReturn", "Never"})


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _import_target(node: cst.Attribute | cst.Name) -> str:
    return dotted_name(node) or ""


def import_bindings(stmt: cst.Import | cst.ImportFrom) -> list[tuple[str, str]]:
    """(local name, qualified name) for every name an import statement binds."""
    out: list[tuple[str, str]] = []
    if isinstance(stmt, cst.Import):
        for alias in stmt.names:
            full = _import_target(alias.name)
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                out.append((alias.asname.name.value, full))
            else:
                head = full.split(".", 1)[0]
                out.append((head, head))
        return out
    module = "." * len(stmt.relative) + (_import_target(stmt.module) if stmt.module else "")
    if isinstance(stmt.names, cst.ImportStar):
        return out
    for alias in stmt.names:
        name = _import_target(alias.name)
        local = alias.asname.name.value if alias.asname and isinstance(alias.asname.name, cst.Name) else name
        out.append((local, f"{module}.{name}" if module else name))
    return out


@dataclass
class ModuleScope:
    module: cst.Module
    imports: dict[str, str] = field(default_factory=dict)          # local name -> qualified name
    functions: dict[str, cst.FunctionDef] = field(default_factory=dict)
    constants: dict[str, cst.BaseExpression] = field(default_factory=dict)
    opaque: set[str] = field(default_factory=set)                  # bound, but to something unknown
    run_defs: list[cst.FunctionDef] = field(default_factory=list)
    run_other: cst.CSTNode | None = None                           # `run` bound by import/assignment
    job_meta: list[tuple[cst.CSTNode, cst.BaseExpression | None]] = field(default_factory=list)
    noreturn: set[str] = field(default_factory=set)

    @classmethod
    def read(cls, module: cst.Module) -> "ModuleScope":
        scope = cls(module)
        assigned: dict[str, int] = {}
        scope._read_block(module.body, assigned)
        for name, count in assigned.items():
            if count > 1:
                scope.constants.pop(name, None)
                scope.opaque.add(name)
        return scope

    def _read_block(self, body, assigned: dict[str, int]) -> None:
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    self._read_small(stmt, small, assigned)
            elif isinstance(stmt, cst.FunctionDef):
                self._define(stmt.name.value, assigned)
                self.constants.pop(stmt.name.value, None)
                if stmt.name.value == RUN_FUNCTION:
                    self.run_defs.append(stmt)
                if stmt.decorators:
                    self.opaque.add(stmt.name.value)
                    self.functions.pop(stmt.name.value, None)
                else:
                    self.opaque.discard(stmt.name.value)
                    self.functions[stmt.name.value] = stmt
                if stmt.returns is not None:
                    ann = stmt.returns.annotation
                    name = dotted_name(ann) if isinstance(ann, (cst.Name, cst.Attribute)) else None
                    if name and name.rsplit(".", 1)[-1] in _NORETURN_ANNOTATIONS:
                        self.noreturn.add(stmt.name.value)
            elif isinstance(stmt, cst.ClassDef):
                self._define(stmt.name.value, assigned)
                self.opaque.add(stmt.name.value)
            elif isinstance(stmt, cst.If):
                self._read_block(stmt.body.body, assigned)
                orelse = stmt.orelse
                while orelse is not None:
                    self._read_block(orelse.body.body, assigned)
                    orelse = orelse.orelse if isinstance(orelse, cst.If) else None
            elif isinstance(stmt, (cst.Try, cst.TryStar)):
                self._read_block(stmt.body.body, assigned)
                for handler in stmt.handlers:
                    self._read_block(handler.body.body, assigned)
                if stmt.orelse:
                    self._read_block(stmt.orelse.body.body, assigned)
                if stmt.finalbody:
                    self._read_block(stmt.finalbody.body.body, assigned)
            elif isinstance(stmt, cst.With):
                self._read_block(stmt.body.body, assigned)

    def _define(self, name: str, assigned: dict[str, int]) -> None:
        assigned[name] = assigned.get(name, 0) + 1

    def _read_small(self, line: cst.SimpleStatementLine, small: cst.BaseSmallStatement,
                    assigned: dict[str, int]) -> None:
        if isinstance(small, (cst.Import, cst.ImportFrom)):
            for local, full in import_bindings(small):
                self.imports[local] = full
                self.opaque.discard(local)
                if local == RUN_FUNCTION:
                    self.run_other = small
        elif isinstance(small, cst.Assign):
            for target in small.targets:
                self._bind_target(line, target.target, small.value, assigned, len(small.targets) == 1)
        elif isinstance(small, cst.AnnAssign) and small.value is not None:
            self._bind_target(line, small.target, small.value, assigned, True)
        elif isinstance(small, cst.AugAssign) and isinstance(small.target, cst.Name):
            self._define(small.target.value, assigned)
            self._define(small.target.value, assigned)

    def _bind_target(self, line, target, value, assigned, single: bool) -> None:
        if isinstance(target, cst.Name):
            name = target.value
            self._define(name, assigned)
            self.functions.pop(name, None)
            self.imports.pop(name, None)
            if name == JOB_META_NAME:
                self.job_meta.append((line, value))
            if name == RUN_FUNCTION:
                self.run_other = line
            if single:
                self.constants[name] = value
            else:
                self.opaque.add(name)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                inner = element.value
                if isinstance(inner, cst.Name):
                    self._define(inner.value, assigned)
                    self.opaque.add(inner.value)
                    if inner.value == JOB_META_NAME:
                        self.job_meta.append((line, None))

    def global_value(self, name: str) -> Value | cst.BaseExpression:
        """A module-level name: a Func, a Qual, the constant's expression (to evaluate), or a Ty."""
        if name in self.functions:
            return Func(self.functions[name], name)
        if name in self.constants:
            return self.constants[name]
        if name in self.imports:
            return Qual(self.imports[name])
        if name in self.opaque:
            return unknown(f"the module-level name {name}")
        if name in _BUILTIN_NAMES:
            return Qual(f"builtins.{name}")
        return unknown(f"the name {name}")


def is_noreturn_name(qualified: str) -> bool:
    return qualified in NORETURN_CALLS


NORETURN_CALLS = frozenset({
    "sys.exit", "os._exit", "os.abort", "builtins.exit", "builtins.quit",
    "typing.assert_never", "typing_extensions.assert_never", "os.execv", "os.execvp",
    "os.execve", "os.execl", "os.execlp",
})
