"""A content-addressed cache of findings, so unchanged files are not parsed again.

An entry is keyed by the file's bytes, the tool version and the analysis fingerprint; it holds the
file's findings before ``select``/``ignore`` (applied on read, so changing them costs nothing).
Files with findings are cached too. Entries are written to a temporary file and renamed into
place, so a concurrent run reads a whole entry or none; an unreadable entry is a miss.

Where: ``$XDG_CACHE_HOME/netraven-contracts`` when ``XDG_CACHE_HOME`` is set, else
``.netraven_contracts_cache/`` in the project (the directory of the config file, or the current
directory). ``--cache-dir`` chooses another place, ``--no-cache`` bypasses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .findings import Finding
from .rules import RULES

if TYPE_CHECKING:
    from .config import Settings
    from .runner import Target

#: Bump when the meaning of an entry changes (format, or anything the findings depend on).
FORMAT = "1"
_FINGERPRINT = hashlib.sha256(
    "\0".join((__version__, FORMAT, *(f"{r.code}:{r.severity.value}:{r.message}" for r in RULES.values())))
    .encode()).hexdigest()[:16]


def default_cache_dir(settings: "Settings") -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "netraven-contracts"
    return Path(settings.root or os.getcwd()) / ".netraven_contracts_cache"


class Cache:
    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory) / f"v{FORMAT}"
        self.hits = 0
        self.misses = 0
        self._keys: dict[str, str] = {}
        self._writable = True

    def _key(self, target: "Target") -> str | None:
        try:
            with open(target.path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None  # unreadable files are reported, never cached
        key = hashlib.sha256(_FINGERPRINT.encode() + b"\0" + data).hexdigest()
        self._keys[target.path] = key
        return key

    def _entry(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, target: "Target", settings: "Settings") -> list[Finding] | None:
        key = self._key(target)
        if key is None:
            return None
        try:
            with open(self._entry(key), encoding="utf-8") as handle:
                rows = json.load(handle)
            findings = [Finding(target.shown, int(line), int(column), code, message, RULES[code].severity)
                        for line, column, code, message in rows]
        except (OSError, ValueError, KeyError, TypeError):
            self.misses += 1
            return None
        self.hits += 1
        return [f for f in findings if settings.is_selected(f.code, target.shown)]

    def put(self, target: "Target", findings: list[Finding]) -> None:
        key = self._keys.get(target.path)
        if key is None or not self._writable:
            return
        entry = self._entry(key)
        rows = [[f.line, f.column, f.code, f.message] for f in findings]
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            self._write_gitignore()
            fd, tmp = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-", suffix=".json")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(rows, handle, separators=(",", ":"))
                os.replace(tmp, entry)  # atomic: readers see the old entry, the new one, or none
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            self._writable = False  # a read-only checkout: carry on without caching

    def _write_gitignore(self) -> None:
        marker = self.directory.parent / ".gitignore"
        if not marker.exists():
            marker.write_text("# created by netraven-contracts\n*\n")
