"""The ``pytest11`` entry point: options, collection of job modules, fixtures.

``pytest --netraven-jobs PATH`` (repeatable; or ``netraven_jobs`` in the ini file) names job
folders (every ``*.py`` directly inside, except ``__init__.py`` and ``_*.py``) or job files. Each
module becomes one item ``<path>::contract`` that runs the static check and the sandboxed dry run.

The paths are added to pytest's own collection arguments, so pytest's normalisation removes
duplicates and overlaps (a jobs folder that is also a test path is collected once), ``-k``,
``-m``, ``--deselect``, xdist and ``--collect-only`` treat the items like any other. Paths from
the ini file are added only when the command line names no test paths itself (as ``testpaths``);
``--netraven-jobs`` paths always are.

Importing this module (which pytest does in every session of anyone who installed the package)
loads nothing but pytest: the checkers are imported when an item runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .fixtures import fake_db, fake_device, job_config, run_job  # noqa: F401 - the plugin's fixtures
from .items import JobModule

MARKER = "netraven_contract"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("netraven", "NetRaven job contracts")
    group.addoption(
        "--netraven-jobs", action="append", dest="netraven_jobs", default=[], metavar="PATH",
        help="a folder of NetRaven job modules (every *.py directly inside, except __init__.py "
             "and _*.py) or one module; each becomes a test item <path>::contract. Repeatable.")
    group.addoption(
        "--netraven-strict", action="store_true", dest="netraven_strict", default=None,
        help="warnings (NRJ008, NRJ010, NRJ012, NRJ033) fail the contract items too.")
    group.addoption(
        "--netraven-timeout", type=float, dest="netraven_timeout", default=None, metavar="SECONDS",
        help="time limit of the dry run's import and of each call of run() (default 5).")
    parser.addini("netraven_jobs", type="paths", default=[],
                  help="folders or files of NetRaven job modules (as --netraven-jobs).")
    parser.addini("netraven_strict", type="bool", default=False,
                  help="warnings fail the contract items too (as --netraven-strict).")
    parser.addini("netraven_timeout", type="string", default="",
                  help="time limit in seconds of the dry run's import and each run() call.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: the contract check of one NetRaven job module (static check + dry run)")
    options = [Path(config.invocation_params.dir, p) for p in config.getoption("netraven_jobs") or []]
    from_ini = [Path(p) for p in config.getini("netraven_jobs")]
    for path in (*options, *from_ini):
        if not path.exists():
            raise pytest.UsageError(f"--netraven-jobs / netraven_jobs: {path} does not exist; "
                                    "name a folder of job modules or a job module file")
    if not options and not from_ini:
        return
    plugin = JobContracts(config, [*options, *from_ini])
    # Settings are read once, here, so a bad one is one usage error, not a failure per item.
    plugin.timeout = _timeout(config)
    plugin.strict = _strict(config)
    _check_project_settings(config)
    config.pluginmanager.register(plugin, JobContracts.NAME)
    # Collect the job paths like test paths; pytest removes duplicates and overlaps itself.
    added = list(options)
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        added += from_ini
    present = {Path(config.invocation_params.dir, arg.split("::")[0]).absolute() for arg in config.args}
    for path in added:
        if path.absolute() not in present:
            config.args.append(str(path))
            present.add(path.absolute())


def _timeout(config: pytest.Config) -> float | None:
    value = config.getoption("netraven_timeout")
    source = "--netraven-timeout"
    if value is None:
        value, source = config.getini("netraven_timeout"), "netraven_timeout (ini)"
    if value in (None, ""):
        return None
    try:
        seconds = float(value)
    except ValueError:
        raise pytest.UsageError(f"{source}: {value!r} is not a number of seconds, e.g. 5") from None
    if not seconds > 0:
        raise pytest.UsageError(f"{source} must be a positive number of seconds, not {value!r}")
    return seconds


def _strict(config: pytest.Config) -> bool:
    if config.getoption("netraven_strict"):
        return True
    try:
        return bool(config.getini("netraven_strict"))
    except ValueError as exc:
        raise pytest.UsageError(f"netraven_strict (ini): {exc}; write true or false") from None


def _check_project_settings(config: pytest.Config) -> None:
    from netraven_contracts.config import ConfigError, load_settings

    try:
        load_settings(start=str(config.rootpath))
    except ConfigError as exc:
        raise pytest.UsageError(f"[tool.netraven-contracts]: {exc}") from None


class JobContracts:
    """Recognises the configured job modules during collection."""

    NAME = "netraven-contracts-jobs"

    def __init__(self, config: pytest.Config, roots: list[Path]) -> None:
        self.config = config
        self.timeout: float | None = None
        self.strict = False
        self.folders: set[Path] = set()
        self.files: set[Path] = set()
        for root in roots:
            for form in {root.absolute(), root.resolve()}:
                (self.folders if root.is_dir() else self.files).add(form)

    def is_job_module(self, path: Path) -> bool:
        if path.suffix != ".py" or path.name.startswith("_"):
            return False
        for form in {path.absolute(), path.resolve()}:
            if form in self.files or form.parent in self.folders:
                return True
        return False

    def pytest_collect_file(self, file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        if self.is_job_module(file_path):
            return JobModule.from_parent(parent, path=file_path)
        return None
