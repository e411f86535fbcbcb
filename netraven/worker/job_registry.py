"""The job registry: which job modules the worker may run, and why the others were rejected.

:func:`load_registry` is explicit (importing this module loads nothing). For each job module of a
package or folder it runs **both** the static check (``check_file``) and the sandboxed dry run
(``dry_run``: the module is imported and ``run()`` called with fakes in a separate process with a
hard time limit), so the report is complete; it registers the module only when neither found an
error. Only then is the module imported into the worker process.

Nothing is dropped silently: every rejected module is kept on the registry (module, path, codes,
messages) and logged as one line naming its codes. A module that hangs or crashes is contained
by the dry run's process and time limit, so it cannot stop the others from loading. Two modules
of the same job type (file stem) are both rejected: the worker could not tell which one to run.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, Final

from netraven_contracts import contract
from netraven_contracts.rules import RULES, Severity


logger = logging.getLogger("netraven.registry")

#: The product's own job modules.
DEFAULT_PACKAGE: Final = "netraven.worker.jobs"

SOURCE_STATIC: Final = "static"
SOURCE_DRY_RUN: Final = "dry-run"
SOURCE_REGISTRY: Final = "registry"


@dataclass(frozen=True, slots=True)
class RegistryFinding:
    """One problem found while loading a module, by the static check, the dry run or the
    registry itself (NRJ035 duplicate job type, NRJ036 job type too long, NRJ034 import)."""

    code: str
    severity: Severity
    message: str
    line: int | None
    source: str  # "static", "dry-run" or "registry"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "line": self.line}


@dataclass(frozen=True, slots=True)
class RegisteredJob:
    """A job module the worker may run. ``meta`` is a read-only copy of its ``JOB_META`` plus
    ``job_type``; the module's own dict is not touched."""

    job_type: str
    module: str
    path: Path
    meta: Mapping[str, Any]
    run: Callable[[Any, int, Any, Any], object] = field(repr=False)
    warnings: tuple[RegistryFinding, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"job_type": self.job_type, "module": self.module, "path": str(self.path),
                "meta": dict(self.meta)}


@dataclass(frozen=True, slots=True)
class RejectedModule:
    module: str
    path: Path
    findings: tuple[RegistryFinding, ...]

    @property
    def codes(self) -> list[str]:
        """Distinct codes of the error-level findings, in catalogue order."""
        errors = {f.code for f in self.findings if f.severity is Severity.ERROR}
        return [code for code in RULES if code in errors]

    def as_dict(self) -> dict[str, Any]:
        shown = [f for f in self.findings if f.severity is not Severity.INFO]
        return {"module": self.module, "path": str(self.path),
                "findings": [f.as_dict() for f in shown]}

    def summary(self) -> str:
        """One line: the codes and the first error's message."""
        errors = [f for f in self.findings if f.severity is Severity.ERROR]
        codes = ", ".join(self.codes)
        first = errors[0].message if errors else "rejected"
        return f"{codes}: {first}"


@dataclass(frozen=True, slots=True)
class JobRegistry:
    registered: Mapping[str, RegisteredJob]
    rejected: tuple[RejectedModule, ...]

    def __contains__(self, job_type: object) -> bool:
        return job_type in self.registered

    def get(self, job_type: str) -> RegisteredJob | None:
        return self.registered.get(job_type)

    def rejection(self, job_type: str) -> RejectedModule | None:
        """The rejected module whose job type (file stem) is ``job_type``, if any."""
        return next((r for r in self.rejected if r.path.stem == job_type), None)

    def as_dict(self) -> dict[str, Any]:
        """The ``netraven jobs list --format json`` object."""
        return {"registered": [job.as_dict() for job in self.registered.values()],
                "rejected": [module.as_dict() for module in self.rejected]}


@dataclass(frozen=True, slots=True)
class _Candidate:
    job_type: str
    module: str       # dotted name when it belongs to a package, else the file stem
    path: Path
    package: bool     # importable by its dotted name


class RegistryError(ValueError):
    """A source that is neither a folder nor an importable package."""


def discover(source: str | os.PathLike[str] | None = None) -> list[_Candidate]:
    """The job modules of ``source``: every ``*.py`` directly inside, except ``__init__.py`` and
    names starting with ``_``. ``source`` is a folder, a dotted package name, or ``None`` for the
    product's own ``netraven.worker.jobs``."""
    package_name: str | None = None
    if source is None:
        package_name = DEFAULT_PACKAGE
    elif isinstance(source, str) and not os.path.exists(source) and all(
            part.isidentifier() for part in source.split(".")):
        package_name = source
    if package_name is not None:
        try:
            package = importlib.import_module(package_name)
        except ImportError as exc:
            raise RegistryError(f"cannot import the job package {package_name!r}: {exc}") from None
        folders = [Path(p) for p in getattr(package, "__path__", [])]
        if not folders:
            raise RegistryError(f"{package_name!r} is a module, not a package of job modules")
        return [_Candidate(p.stem, f"{package_name}.{p.stem}", p, True)
                for folder in folders for p in _module_files(folder)]
    folder = Path(source)  # type: ignore[arg-type]
    if not folder.is_dir():
        raise RegistryError(f"{str(folder)!r} is not a folder of job modules")
    return [_Candidate(p.stem, p.stem, p, False) for p in _module_files(folder)]


def _module_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.py")
                  if p.is_file() and p.name != "__init__.py" and not p.name.startswith("_"))


def load_registry(
    sources: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
    *,
    job_types: Iterable[str] | None = None,
    dry_run_timeout: float | None = None,
    max_workers: int | None = None,
) -> JobRegistry:
    """Check, dry-run and load the job modules of ``sources`` (see :func:`discover`; a list
    combines several). ``job_types`` limits the work to those modules (``netraven run`` needs
    one). Returns the registry; raises :class:`RegistryError` only for a source that does not
    exist or a ``[tool.netraven-contracts]`` configuration that cannot be used."""
    if sources is None or isinstance(sources, (str, os.PathLike)):
        candidates = discover(sources)
    else:
        candidates = [c for source in sources for c in discover(source)]
    if job_types is not None:
        wanted = set(job_types)
        candidates = [c for c in candidates if c.job_type in wanted]

    by_type: dict[str, list[_Candidate]] = {}
    for candidate in candidates:
        by_type.setdefault(candidate.job_type, []).append(candidate)

    settings = _project_settings(candidates)
    workers = max_workers or min(8, max(2, os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="netraven-registry") as pool:
        checked = list(pool.map(
            lambda c: (c, _check(c, dry_run_timeout, settings[c.path.parent])), candidates))

    registered: dict[str, RegisteredJob] = {}
    rejected: list[RejectedModule] = []
    for candidate, findings in checked:
        findings = list(findings)
        twins = by_type[candidate.job_type]
        if len(twins) > 1:
            others = ", ".join(str(t.path) for t in twins if t is not candidate)
            findings.append(RegistryFinding(
                "NRJ035", RULES["NRJ035"].severity,
                RULES["NRJ035"].format(job_type=candidate.job_type, others=others), None, SOURCE_REGISTRY))
        if len(candidate.job_type) > contract.JOB_TYPE_MAX_LENGTH:
            findings.append(RegistryFinding(
                "NRJ036", RULES["NRJ036"].severity,
                RULES["NRJ036"].format(job_type=candidate.job_type, length=len(candidate.job_type),
                                       limit=contract.JOB_TYPE_MAX_LENGTH), None, SOURCE_REGISTRY))
        if any(f.severity is Severity.ERROR for f in findings):
            rejected.append(RejectedModule(candidate.module, candidate.path, tuple(findings)))
            continue
        loaded = _import(candidate)
        if isinstance(loaded, RegistryFinding):
            rejected.append(RejectedModule(candidate.module, candidate.path,
                                           (*findings, loaded)))
            continue
        meta, run = loaded
        registered[candidate.job_type] = RegisteredJob(
            candidate.job_type, candidate.module, candidate.path, meta, run,
            tuple(f for f in findings if f.severity is Severity.WARNING))

    for module in rejected:
        logger.error("rejected job module %s: %s", module.path, module.summary())
    for job in registered.values():
        logger.info("registered job type %r from %s%s", job.job_type, job.path,
                    f" (warnings: {', '.join(sorted({w.code for w in job.warnings}))})"
                    if job.warnings else "")
    return JobRegistry(MappingProxyType(dict(sorted(registered.items()))),
                       tuple(sorted(rejected, key=lambda r: str(r.path))))


def _project_settings(candidates: Iterable[_Candidate]) -> dict[Path, Any]:
    """The ``[tool.netraven-contracts]`` settings of each job folder, found from the folder
    upwards as the CLI finds them, so select/ignore mean in production what they mean in CI.
    (NRJ035 and NRJ036, the registry's own, cannot be ignored: such a module cannot be run.)"""
    from netraven_contracts.config import ConfigError, load_settings

    found: dict[Path, Any] = {}
    for candidate in candidates:
        folder = candidate.path.parent
        if folder not in found:
            try:
                found[folder] = load_settings(start=str(folder))
            except ConfigError as exc:
                raise RegistryError(f"{exc} (the configuration of the job modules in {folder})") from None
    return found


def _check(candidate: _Candidate, timeout: float | None, settings: Any = None) -> list[RegistryFinding]:
    """Static check and dry run, both always (a checker's own failure is a finding too); codes
    the project's configuration does not select are left out, as ``netraven-contracts check``
    leaves them out."""
    from netraven_contracts.runtime import dry_run  # heavy: loaded when a registry is loaded
    from netraven_contracts.static import check_file

    findings: list[RegistryFinding] = []
    try:
        for f in check_file(candidate.path, settings=settings):
            findings.append(RegistryFinding(f.code, f.severity, f.message, f.line, SOURCE_STATIC))
    except Exception as exc:  # a checker bug must reject this module, not the whole registry
        findings.append(RegistryFinding(
            "NRJ900", Severity.ERROR, RULES["NRJ900"].format(
                reason=f"the static check failed: {type(exc).__name__}: {exc}"),
            None, SOURCE_STATIC))
    try:
        report = dry_run(candidate.path, **({"timeout": timeout} if timeout else {}))
        for v in report.violations:
            if settings is None or settings.is_selected(v.code, str(candidate.path)):
                findings.append(RegistryFinding(v.code, v.severity, v.message, v.line,
                                                SOURCE_DRY_RUN))
    except Exception as exc:
        findings.append(RegistryFinding(
            "NRJ030", Severity.ERROR, RULES["NRJ030"].format(
                what=f"could not be dry-run ({type(exc).__name__}: {exc})"),
            None, SOURCE_DRY_RUN))
    return findings


def _import(candidate: _Candidate) -> tuple[Mapping[str, Any], Callable[..., object]] | RegistryFinding:
    """Import an accepted module into this process; a failure rejects it (NRJ034)."""
    try:
        if candidate.package:
            module = importlib.import_module(candidate.module)
        else:
            module = _import_file(candidate.path)
    except BaseException as exc:  # SystemExit from a module body is a failed import too
        if isinstance(exc, KeyboardInterrupt):
            raise
        return RegistryFinding("NRJ034", Severity.ERROR, RULES["NRJ034"].format(
            error=f"{type(exc).__name__}: {exc}"), None, SOURCE_REGISTRY)
    run = getattr(module, contract.RUN_FUNCTION, None)
    meta = getattr(module, contract.JOB_META_NAME, None)
    if not callable(run):
        return RegistryFinding("NRJ001", Severity.ERROR, RULES["NRJ001"].format(), 1,
                               SOURCE_REGISTRY)
    if not isinstance(meta, Mapping):
        return RegistryFinding("NRJ020", Severity.ERROR, RULES["NRJ020"].format(
            problem="JOB_META is not a dict after import"), None, SOURCE_REGISTRY)
    copied = dict(meta)
    copied[contract.JOB_TYPE_META_KEY] = candidate.job_type
    return MappingProxyType(copied), run


def _import_file(path: Path) -> ModuleType:
    # A name unique per file, so two folders' "backup.py" never share a sys.modules entry.
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"_netraven_job_{digest}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Always executed afresh: the dry run has just checked the file as it is now.
    sys.modules[name] = module  # dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
