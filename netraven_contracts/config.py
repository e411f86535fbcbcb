"""``[tool.netraven-contracts]`` in pyproject.toml: which files are job modules, which codes count.

Found like flake8 finds its config: the nearest ``pyproject.toml`` with that table, from the
current directory upwards (or the file given with ``--config``). Keys::

    [tool.netraven-contracts]
    job-paths = ["**/jobs/*.py"]          # globs for walked directories (gitignore-like, ** = any dirs)
    exclude = ["legacy/**"]               # skipped when walking
    select = ["NRJ"]                      # code prefixes; the longest matching prefix decides
    ignore = ["NRJ012"]
    extend-ignore = ["NRJ015"]
    per-file-ignores = { "jobs/legacy_*.py" = ["NRJ012", "NRJ008"] }

A pattern without ``/`` matches the file name anywhere; one with ``/`` matches the path relative
to the config file's directory (or the current directory), or the absolute path.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping

TABLE = "netraven-contracts"
DEFAULT_JOB_PATHS = ("**/jobs/*.py",)
#: Never job modules, whatever the patterns say (the registry skips them too).
PRIVATE_FILE = re.compile(r"^(?:__init__|_.*)\.py$")
#: Directories never walked into.
SKIPPED_DIRS = frozenset({".git", ".hg", ".svn", ".tox", ".nox", ".venv", "venv", "__pycache__",
                          "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                          ".netraven_contracts_cache", "build", "dist", ".eggs"})
_KNOWN_KEYS = frozenset({"job-paths", "exclude", "select", "ignore", "extend-ignore", "extend-select",
                         "per-file-ignores"})
_SELECTOR = re.compile(r"^NRJ\d{0,3}$")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and what to write instead."""


@lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(c))
            else:
                body = pattern[i + 1:end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z")


def glob_match(pattern: str, path: str | os.PathLike[str], root: str | None = None) -> bool:
    """Does ``path`` match ``pattern`` (see the module docstring for the rules)?"""
    pattern = pattern.replace("\\", "/").rstrip("/")
    absolute = Path(os.path.abspath(path))
    if "/" not in pattern:
        return bool(_glob_regex(pattern).match(absolute.name))
    regex = _glob_regex(pattern.lstrip("/"))
    candidates = [absolute.as_posix().lstrip("/")]
    base = Path(os.path.abspath(root or os.getcwd()))
    try:
        candidates.append(absolute.relative_to(base).as_posix())
    except ValueError:
        pass
    return any(regex.match(c) for c in candidates)


def _longest(code: str, prefixes: Iterable[str]) -> int:
    return max((len(p) for p in prefixes if code.startswith(p)), default=-1)


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ("NRJ",)
    ignore: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    job_paths: tuple[str, ...] = DEFAULT_JOB_PATHS
    exclude: tuple[str, ...] = ()
    root: str | None = None        # the directory patterns are relative to
    source: str | None = None      # the file the settings came from
    _decisions: dict = field(default_factory=dict, compare=False, repr=False, hash=False)

    def is_selected(self, code: str, path: str | None = None) -> bool:
        key = (code, path)
        decision = self._decisions.get(key)
        if decision is None:
            ignore = self.ignore
            if path is not None and self.per_file_ignores:
                ignore = ignore + tuple(c for pattern, codes in self.per_file_ignores
                                        if glob_match(pattern, path, self.root) for c in codes)
            selected = _longest(code, self.select)
            decision = selected >= 0 and selected > _longest(code, ignore)
            self._decisions[key] = decision
        return decision

    def is_job_path(self, path: str | os.PathLike[str]) -> bool:
        if PRIVATE_FILE.match(os.path.basename(path)):
            return False
        return any(glob_match(pattern, path, self.root) for pattern in self.job_paths)

    def is_excluded(self, path: str | os.PathLike[str]) -> bool:
        return any(glob_match(pattern, path, self.root) for pattern in self.exclude)

    def with_overrides(self, *, select: Iterable[str] | None = None, ignore: Iterable[str] | None = None,
                       extend_ignore: Iterable[str] | None = None) -> "Settings":
        if select is not None and not [code for code in select if code.strip()]:
            raise ConfigError("--select needs at least one code or prefix, e.g. --select NRJ006")
        return Settings(
            select=tuple(_check_selectors(select, "--select")) if select is not None else self.select,
            ignore=(tuple(_check_selectors(ignore, "--ignore")) if ignore is not None else self.ignore)
            + tuple(_check_selectors(extend_ignore or (), "--extend-ignore")),
            per_file_ignores=self.per_file_ignores, job_paths=self.job_paths, exclude=self.exclude,
            root=self.root, source=self.source,
        )

    def fingerprint(self) -> str:
        """What of the settings changes the findings of a file (for the cache key)."""
        return repr((self.select, self.ignore, self.per_file_ignores))


def _check_selectors(values: Iterable[str], where: str) -> list[str]:
    out = []
    for value in values:
        code = value.strip().upper()
        if not code:
            continue
        if not _SELECTOR.match(code) or not any(rule.startswith(code) for rule in _rule_codes()):
            raise ConfigError(f'{where}: "{value}" is not a rule code or the prefix of one; codes look like '
                              f"NRJ005 (prefixes such as NRJ0 select several); `netraven-contracts rules` lists them")
        out.append(code)
    return out


def _rule_codes() -> Iterable[str]:
    from .rules import RULES

    return RULES


def _str_list(value: object, key: str, source: str) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ConfigError(f'{source}: [tool.{TABLE}] {key} must be a list of strings, e.g. {key} = ["..."]')


def settings_from_table(table: Mapping[str, object], source: str, root: str) -> Settings:
    unknown = sorted(set(table) - _KNOWN_KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown key{'s' if len(unknown) > 1 else ''} in [tool.{TABLE}]: "
                          f"{', '.join(unknown)}; known keys: {', '.join(sorted(_KNOWN_KEYS))}")
    select = _check_selectors(_str_list(table.get("select", ["NRJ"]), "select", source), f"{source}: select")
    select += _check_selectors(_str_list(table.get("extend-select", []), "extend-select", source),
                               f"{source}: extend-select")
    ignore = _check_selectors(_str_list(table.get("ignore", []), "ignore", source), f"{source}: ignore")
    ignore += _check_selectors(_str_list(table.get("extend-ignore", []), "extend-ignore", source),
                               f"{source}: extend-ignore")
    pfi_raw = table.get("per-file-ignores", {})
    if not isinstance(pfi_raw, Mapping):
        raise ConfigError(f'{source}: [tool.{TABLE}] per-file-ignores must be a table, e.g. '
                          f'per-file-ignores = {{ "jobs/legacy.py" = ["NRJ012"] }}')
    per_file = tuple((pattern, tuple(_check_selectors(_str_list(codes, f"per-file-ignores.{pattern}", source),
                                                      f"{source}: per-file-ignores")))
                     for pattern, codes in pfi_raw.items())
    job_paths = tuple(_str_list(table.get("job-paths", list(DEFAULT_JOB_PATHS)), "job-paths", source))
    exclude = tuple(_str_list(table.get("exclude", []), "exclude", source))
    return Settings(tuple(select), tuple(ignore), per_file, job_paths, exclude, root, source)


def _read_toml(path: Path) -> dict:
    import tomllib

    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def find_config(start: str | os.PathLike[str] | None = None) -> Path | None:
    """The nearest pyproject.toml, from ``start`` upwards, that has a [tool.netraven-contracts] table."""
    directory = Path(os.path.abspath(start or os.getcwd()))
    for candidate in (directory, *directory.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if f"[tool.{TABLE}" in text or f'"{TABLE}"' in text:
                return path
    return None


def load_settings(config: str | os.PathLike[str] | None = None, start: str | None = None) -> Settings:
    """Settings from ``config`` (a pyproject.toml), else from the nearest one, else the defaults."""
    path = Path(config) if config is not None else find_config(start)
    if path is None:
        return Settings(root=os.path.abspath(start or os.getcwd()))
    if config is not None and not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    data = _read_toml(path)
    table = data.get("tool", {}).get(TABLE, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"{path}: [tool.{TABLE}] must be a table")
    return settings_from_table(table, str(path), str(path.parent.resolve()))
