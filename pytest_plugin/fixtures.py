"""Fixtures for job authors' own tests: the fakes, and ``run_job`` to call a job in-process."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Callable

import pytest

from netraven_contracts import contract

from .assertions import assert_valid_result

RunJob = Callable[..., dict[str, Any]]


@pytest.fixture
def fake_device() -> Any:
    """A :class:`~netraven_contracts.runtime.FakeDevice` with every attribute (a fresh one per test)."""
    from netraven_contracts.runtime import FakeDevice

    return FakeDevice()


@pytest.fixture
def fake_db() -> Any:
    """A recording :class:`~netraven_contracts.runtime.FakeSession` (``fake_db.calls``)."""
    from netraven_contracts.runtime import FakeSession

    return FakeSession()


@pytest.fixture
def job_config() -> dict[str, Any]:
    """A fresh NetRaven-shaped config dict (``worker.*``, ``ssh.*``, ``redaction.patterns``)."""
    from netraven_contracts.runtime import default_config

    return default_config()


@pytest.fixture
def run_job(fake_device: Any, fake_db: Any, job_config: dict[str, Any]) -> RunJob:
    """``run_job(job, *, device=None, job_id=FAKE_JOB_ID, config=None, db=None, strict=False)``.

    Calls ``run(device, job_id, config, db)`` of ``job`` (a module, the path of a job file, or
    ``run`` itself) in this process, with this test's ``fake_device``, ``fake_db`` and
    ``job_config`` unless others are given, checks the result with the same rules as the
    dispatcher (failing the test on an error, or on a warning with ``strict=True``) and returns
    it. Not sandboxed: patch out the network yourself (the fake device's address is never routed).
    """
    from netraven_contracts.runtime import FAKE_JOB_ID

    def run(job: Any, *, device: Any = None, job_id: int = FAKE_JOB_ID, config: Any = None,
            db: Any = None, strict: bool = False) -> dict[str, Any]:
        __tracebackhide__ = True
        function = _run_function(job)
        device = fake_device if device is None else device
        result = function(device, job_id, job_config if config is None else config,
                          fake_db if db is None else db)
        assert_valid_result(result, device_id=getattr(device, "id", None), strict=strict)
        return result

    return run


def _run_function(job: Any) -> Callable[..., Any]:
    if isinstance(job, (str, os.PathLike)):
        job = _import_file(os.fspath(job))
    if isinstance(job, ModuleType):
        function = getattr(job, contract.RUN_FUNCTION, None)
        if not callable(function):
            pytest.fail(f"{job.__name__} defines no function `{contract.RUN_FUNCTION}` (NRJ001)",
                        pytrace=False)
        return function
    if callable(job):
        return job
    raise TypeError(f"run_job() takes a job module, the path of one, or its run function, not {job!r}")


def _import_file(path: str) -> ModuleType:
    name = "_netraven_job_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        pytest.fail(f"cannot import {path}: not a Python file", pytrace=False)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
