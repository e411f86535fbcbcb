"""Which files to check, and checking them: in this process for a few files, across cores for many.

The analysis itself (:mod:`netraven_contracts.static`) is imported only when a file needs it, so
a run whose files all come from the cache never loads libcst.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

from .config import SKIPPED_DIRS, Settings
from .findings import Finding

if TYPE_CHECKING:
    from .cache import Cache

#: Below this many files, a process pool costs more than it saves.
PARALLEL_THRESHOLD = 16


@dataclass(frozen=True, slots=True)
class Target:
    path: str      # what to open
    shown: str     # how findings name it: as given on the command line, or joined to it


@dataclass
class RunResult:
    findings: list[Finding] = field(default_factory=list)
    files: int = 0
    internal_errors: list[str] = field(default_factory=list)


def collect_targets(paths: Iterable[str], settings: Settings) -> list[Target]:
    """Named files always; directories walked for job modules (``settings.job_paths``)."""
    targets: list[Target] = []
    seen: set[str] = set()

    def add(path: str, shown: str) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            targets.append(Target(path, shown))

    for given in paths:
        if os.path.isdir(given):
            for path in _walk(given, settings):
                add(path, path)
        else:
            add(given, given)
    return targets


def _walk(top: str, settings: Settings) -> Iterator[str]:
    for root, dirs, files in os.walk(top):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")
                         and not d.endswith(".egg-info") and not settings.is_excluded(os.path.join(root, d)))
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            if settings.is_job_path(path) and not settings.is_excluded(path):
                yield path


_EVERY_CODE = Settings()


def _check_one(target: Target) -> tuple[list[Finding], str | None]:
    """Every finding of one file, before select/ignore (so the cache serves any selection)."""
    from .static import check_file

    try:
        return check_file(target.path, settings=_EVERY_CODE, display_path=target.shown), None
    except Exception as exc:  # a bug of ours: say so, keep checking the other files
        return [], f"{target.shown}: internal error while checking ({type(exc).__name__}: {exc}); please report it"


def _check_chunk(targets: list[Target]) -> list[tuple[list[Finding], str | None]]:
    return [_check_one(t) for t in targets]


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_targets(targets: list[Target], settings: Settings, jobs: int | None = None,
                  cache: "Cache | None" = None) -> RunResult:
    """Check every target; ``cache`` skips files whose bytes it has seen before."""
    result = RunResult(files=len(targets))
    todo: list[Target] = []
    for target in targets:
        cached = cache.get(target, settings) if cache is not None else None
        if cached is not None:
            result.findings.extend(cached)
        else:
            todo.append(target)
    jobs = jobs or usable_cores()
    if len(todo) >= PARALLEL_THRESHOLD and jobs > 1:
        outcomes = _parallel(todo, jobs)
    else:
        outcomes = [_check_one(t) for t in todo]
    for target, (findings, error) in zip(todo, outcomes):
        if error is not None:
            result.internal_errors.append(error)
            continue
        if cache is not None:
            cache.put(target, findings)
        result.findings.extend(f for f in findings if settings.is_selected(f.code, target.shown))
    return result


def _parallel(todo: list[Target], jobs: int) -> list[tuple[list[Finding], str | None]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork: workers inherit the imported analyzer instead of importing libcst again each
    from . import static  # noqa: F401  (import before forking)

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunk = max(1, min(32, len(todo) // (jobs * 4)))
    chunks = [todo[i:i + chunk] for i in range(0, len(todo), chunk)]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method)) as pool:
        out: list[tuple[list[Finding], str | None]] = []
        for part in pool.map(_check_chunk, chunks):
            out.extend(part)
    return out
