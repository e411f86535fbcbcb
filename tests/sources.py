"""Job-module sources and data paths shared by the test packages."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).parent / "data"
STATIC_CORPUS = sorted((DATA / "corpus" / "static").glob("*.py"))
RUNTIME_CORPUS = sorted((DATA / "corpus" / "runtime").glob("*.py"))

META = 'JOB_META = {"label": "T", "description": "Test.", "icon": "mdi-cog", "default_schedule": "daily"}\n'
GOOD = META + 'def run(device, job_id, config, db):\n    return {"success": True, "device_id": device.id}\n'
ADHOC = META + ('def run(device, job_id, config, db):\n'
                '    return {"success": True, "device_id": device.id, "serial": device.serial_number}\n')
MISSING_ID = META + 'def run(device, job_id, config, db):\n    return {"success": True}\n'
UNKNOWN = META + 'from elsewhere import build\n\ndef run(device, job_id, config, db):\n    return build(device)\n'

MISSING_ID_MESSAGE = 'result lacks "device_id"; add "device_id": device.id'
ADHOC_MESSAGE = 'top-level key "serial" is not part of the contract; move it under "details"'
UNKNOWN_MESSAGE = ("the shape of the value returned here cannot be known statically (`build(device)`); "
                   "the runtime checks (dry run, dispatcher) cover it")


def job_project(root: Path) -> Path:
    """A project with ``pkg/jobs/`` holding two faulty job modules (and an ``__init__.py`` and a
    private helper that are never job modules), and ``pkg/not_a_job.py`` beside it."""
    jobs = root / "pkg" / "jobs"
    jobs.mkdir(parents=True)
    (jobs / "__init__.py").write_text("")
    (jobs / "_shared.py").write_text("def helper():\n    return 1\n")
    (jobs / "adhoc.py").write_text(ADHOC)
    (jobs / "missing_id.py").write_text(MISSING_ID)
    (root / "pkg" / "not_a_job.py").write_text("x = 1\n")
    return root
