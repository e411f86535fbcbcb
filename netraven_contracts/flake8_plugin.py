"""flake8 plugin: ``flake8 --select NRJ`` reports what ``netraven-contracts check`` reports.

Registered as the ``NRJ`` entry point of the ``flake8.extension`` group. A thin shell over
:func:`netraven_contracts.static.check_source`:

* Only job modules are checked, by the configured job-path rule (``[tool.netraven-contracts]``
  ``job-paths`` and ``exclude`` in the nearest pyproject.toml, found as the CLI finds it, or the
  file given with ``--netraven-contracts-config``). flake8 hands the plugin every file, named or
  found by walking, and editors and pre-commit's flake8 hook name each file on the command line,
  so the plugin treats every file like a file the CLI finds by walking a folder: a named file
  outside the job paths is not checked (``netraven-contracts check FILE`` checks any file).
* Errors and warnings are reported, info-level findings (NRJ015) are not.
* ``# noqa`` is left to flake8: the plugin yields the findings a ``# noqa`` comment would
  suppress, flake8 drops them (and ``--disable-noqa`` shows them). The file-level
  ``# netraven-contracts: noqa``, which flake8 does not know, is honoured here.
* flake8 prints a plugin's column plus one, so the plugin yields the 0-based column and flake8
  prints the CLI's 1-based one.
* Code read from stdin is checked when ``--stdin-display-name`` names a job module.
* A file that flake8 itself cannot parse is flake8's E999, not an NRJ900: flake8 runs no plugin
  on it.

Importing this module costs next to nothing; libcst is imported when the first job module is
checked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from . import __version__

if TYPE_CHECKING:
    import argparse
    import ast

    from .config import Settings


class NetravenContractsChecker:
    """The flake8 checker of the job-result contract (codes NRJ...)."""

    name = "netraven-contracts"
    version = __version__

    _config: ClassVar[str | None] = None
    _settings: ClassVar[Settings | None] = None

    # flake8 classifies a plugin by its parameters: ``tree`` makes this an AST plugin, run once
    # per file. The analysis reads ``lines`` (the file as flake8 decoded it) with libcst.
    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        self.filename = filename
        self.lines = lines

    @classmethod
    def add_options(cls, manager: Any) -> None:
        manager.add_option(
            "--netraven-contracts-config", metavar="FILE", parse_from_config=True,
            help="pyproject.toml to read [tool.netraven-contracts] from (default: the nearest one "
                 "with that table, from the current directory upwards)",
        )

    @classmethod
    def parse_options(cls, options: argparse.Namespace) -> None:
        # Called once per flake8 process (and per worker process), before any file is checked:
        # a bad configuration stops flake8 with one clear message instead of a traceback per file.
        from .config import ConfigError, load_settings

        cls._config = getattr(options, "netraven_contracts_config", None)
        try:
            cls._settings = load_settings(cls._config)
        except ConfigError as exc:
            from flake8.exceptions import ExecutionError

            raise ExecutionError(f"netraven-contracts: {exc}") from None

    @classmethod
    def settings(cls) -> Settings:
        if cls._settings is None:  # constructed without flake8's option parsing
            from .config import load_settings

            cls._settings = load_settings(cls._config)
        return cls._settings

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        settings = self.settings()
        # code read from stdin is named "stdin" unless flake8 is given --stdin-display-name
        if not settings.is_job_path(self.filename) or settings.is_excluded(self.filename):
            return

        from .rules import Severity
        from .static import check_source
        from .static.engine import NOQA_FILE

        source = "".join(self.lines)
        if NOQA_FILE.search(source):
            return
        for finding in check_source(source, self.filename, settings=settings, apply_noqa=False):
            if finding.severity is Severity.INFO:
                continue
            yield finding.line, finding.column - 1, f"{finding.code} {finding.message}", type(self)
