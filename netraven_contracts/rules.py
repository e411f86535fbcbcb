"""The rule catalogue: every code the project reports, with everything said about it.

The checker, the runtime validator, the dry run, the registry, the CLI (``explain``, ``rules``),
SARIF output and ``docs/rules.md`` are all driven by :data:`RULES`; a message is worded here and
nowhere else.

Examples are executable: ``bad`` must produce exactly the rule's code, ``good`` nothing
(``tests/test_rules.py``).  Static examples omit ``JOB_META`` unless the rule is about it; the
tests put :data:`EXAMPLE_JOB_META` in front of them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Mapping


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Phase(str, enum.Enum):
    STATIC = "static"      # found by reading the source
    RUNTIME = "runtime"    # found on a real value or a real call (validator, dry run, dispatcher)
    REGISTRY = "registry"  # found by the worker's job registry, across the modules it loads


DOCS_URL: Final = "https://github.com/netraven/netraven-contracts/blob/main/docs/rules.md"

EXAMPLE_JOB_META: Final = (
    'JOB_META = {"label": "Example", "description": "An example job.", '
    '"icon": "mdi-cog", "default_schedule": "daily"}\n\n\n'
)


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: Severity
    phase: Phase
    summary: str      # one line: what the rule finds
    message: str      # str.format template of the reported message
    rationale: str    # why it matters
    bad: str          # a job module that produces exactly this code
    good: str         # the same job, fixed
    fix: str | None = None  # what `check --fix` does, when it can fix it

    def format(self, **fields: object) -> str:
        return self.message.format(**fields)

    @property
    def help_uri(self) -> str:
        return f"{DOCS_URL}#{self.code.lower()}"

    def example_module(self, which: str) -> str:
        """The ``bad`` or ``good`` example as a whole job module (JOB_META put in front)."""
        text = self.bad if which == "bad" else self.good
        if self.phase is Phase.STATIC and "JOB_META" not in text and self.code not in _NO_META_PREFIX:
            return EXAMPLE_JOB_META + text
        return text


_NO_META_PREFIX = frozenset({"NRJ020", "NRJ900"})

_RULE_LIST = [
    Rule(
        "NRJ001", "no-run-function", Severity.ERROR, Phase.STATIC,
        "The job module defines no module-level function `run`.",
        "job module defines no module-level function `run`; "
        "add `def run(device, job_id, config, db):` that returns the result dict",
        "The worker calls `run(device, job_id, config, db)` once per device. A module without it "
        "cannot run at all; older NetRaven jobs named it `execute` or `main` and were skipped "
        "without a word.",
        'def execute(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ002", "bad-run-signature", Severity.ERROR, Phase.STATIC,
        "`run` cannot be called as `run(device, job_id, config, db)` with four positional arguments.",
        "`run` cannot be called as run(device, job_id, config, db): {reason}; "
        "declare it as `def run(device, job_id, config, db):`",
        "The worker passes exactly four positional arguments. Too few or too many positional "
        "parameters, a required keyword-only parameter or an `async def` make every call fail "
        "(or, for `async def`, return a coroutine that never runs).",
        'def run(device, config):\n'
        '    return {"success": True, "device_id": device.id}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ003", "returns-none", Severity.ERROR, Phase.STATIC,
        "Some path of `run` returns `None` (bare `return`, `return None`, or the end of the body).",
        "{what}{where}; return a result dict such as "
        '{{"success": False, "device_id": {device}.id, "details": {{"error": "..."}}}}',
        "`None` is not a result: the worker cannot tell success from failure and stores no usable "
        "row. In NetRaven this hid behind `if/elif` chains without an `else` and helpers that "
        "only printed a message.",
        'def run(device, job_id, config, db):\n'
        '    output = device.driver.send_command("show version")\n'
        '    if "uptime" in output:\n'
        '        return {"success": True, "device_id": device.id, "details": {"raw": output}}\n',
        'def run(device, job_id, config, db):\n'
        '    output = device.driver.send_command("show version")\n'
        '    if "uptime" in output:\n'
        '        return {"success": True, "device_id": device.id, "details": {"raw": output}}\n'
        '    return {"success": False, "device_id": device.id, "details": {"error": "no uptime"}}\n',
        fix='adds a final `return {"success": False, "device_id": <device>.id, '
            '"details": {"error": "no result"}}` when the body can fall off its end',
    ),
    Rule(
        "NRJ004", "returns-non-dict", Severity.ERROR, Phase.STATIC,
        "Some path of `run` returns a value that is certainly not a dict.",
        "`run` returns {kind}, not a dict{where}; return a dict such as "
        '{{"success": ..., "device_id": {device}.id, "details": {{...}}}}',
        "Only a dict can be stored in `job_results`. A bare `True` or a status string says "
        "nothing about which device the row belongs to.",
        'def run(device, job_id, config, db):\n'
        '    device.driver.send_command("write memory")\n'
        '    return True\n',
        'def run(device, job_id, config, db):\n'
        '    device.driver.send_command("write memory")\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ005", "missing-success", Severity.ERROR, Phase.STATIC,
        'A dict that some path of `run` returns has no "success" key.',
        'result lacks "success"{where}; add "success": True or False',
        'The worker sets `job_results.status` from "success". A key set only inside an `if` is '
        "missing on the other path, and that row would be stored as neither success nor failure.",
        'def run(device, job_id, config, db):\n'
        '    result = {"device_id": device.id, "details": {}}\n'
        '    if device.driver.send_command("show users"):\n'
        '        result["success"] = True\n'
        '    return result\n',
        'def run(device, job_id, config, db):\n'
        '    result = {"success": False, "device_id": device.id, "details": {}}\n'
        '    if device.driver.send_command("show users"):\n'
        '        result["success"] = True\n'
        '    return result\n',
    ),
    Rule(
        "NRJ006", "missing-device-id", Severity.ERROR, Phase.STATIC,
        'A dict that some path of `run` returns has no "device_id" key.',
        'result lacks "device_id"{where}; add "device_id": {device}.id',
        "Without `device_id` the row cannot be tied to its device. NetRaven's `except` branches "
        'returned `{"success": False, "error": str(e)}` for weeks before anyone noticed.',
        'def run(device, job_id, config, db):\n'
        '    try:\n'
        '        inventory = device.driver.send_command("show inventory")\n'
        '    except ConnectionError as exc:\n'
        '        return {"success": False, "details": {"error": str(exc)}}\n'
        '    return {"success": True, "device_id": device.id, "details": {"inventory": inventory}}\n',
        'def run(device, job_id, config, db):\n'
        '    try:\n'
        '        inventory = device.driver.send_command("show inventory")\n'
        '    except ConnectionError as exc:\n'
        '        return {"success": False, "device_id": device.id, "details": {"error": str(exc)}}\n'
        '    return {"success": True, "device_id": device.id, "details": {"inventory": inventory}}\n',
        fix='adds `"device_id": <device>.id` to a dict literal written inside `run` that lacks it',
    ),
    Rule(
        "NRJ007", "success-not-bool", Severity.ERROR, Phase.STATIC,
        'The "success" value is certainly not a bool.',
        '"success" is {kind}, not a bool{where}; use True/False or a comparison',
        '"yes"/"no", 1/0 or a message string all end up as a truthy value: a failed job is '
        "stored as a success.",
        'def run(device, job_id, config, db):\n'
        '    synced = "synchronised" in device.driver.send_command("show ntp status")\n'
        '    return {"success": "yes" if synced else "no", "device_id": device.id}\n',
        'def run(device, job_id, config, db):\n'
        '    synced = "synchronised" in device.driver.send_command("show ntp status")\n'
        '    return {"success": synced, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ008", "success-not-provably-bool", Severity.WARNING, Phase.STATIC,
        'The "success" value is not provably a bool.',
        '"success" is not provably a bool ({origin}){where}; wrap it in bool(...)',
        "`a.get(...) or b.get(...)` returns whatever the last operand is, `None` included. "
        "Provably bool: True/False, bool(...), not x, comparisons, isinstance/issubclass/"
        "hasattr/callable/all/any, and and/or/if-else of those.",
        'def run(device, job_id, config, db):\n'
        '    checks = {"icmp": device.ping(), "ssh": device.tcp(22)}\n'
        '    ok = checks["icmp"].get("ok") or checks["ssh"].get("ok")\n'
        '    return {"success": ok, "device_id": device.id, "details": checks}\n',
        'def run(device, job_id, config, db):\n'
        '    checks = {"icmp": device.ping(), "ssh": device.tcp(22)}\n'
        '    ok = checks["icmp"].get("ok") or checks["ssh"].get("ok")\n'
        '    return {"success": bool(ok), "device_id": device.id, "details": checks}\n',
        fix='wraps the "success" value in `bool(...)`',
    ),
    Rule(
        "NRJ009", "device-id-not-int", Severity.ERROR, Phase.STATIC,
        'The "device_id" value is certainly not an int.',
        '"device_id" is {kind}, not an int{where}; use {device}.id',
        "`job_results.device_id` is an integer foreign key: a hostname, a string id or a bool "
        "is refused by PostgreSQL or, worse, stored against the wrong device.",
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": str(device.id), "details": {}}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": {}}\n',
    ),
    Rule(
        "NRJ010", "device-id-may-be-none", Severity.WARNING, Phase.STATIC,
        'The "device_id" value may be None.',
        '"device_id" may be None ({origin}){where}; use {device}.id',
        '`getattr(device, "id", None)` turns a half-loaded device into a row without a device: '
        "the insert fails, or the row is orphaned.",
        'def run(device, job_id, config, db):\n'
        '    device_id = getattr(device, "id", None)\n'
        '    return {"success": True, "device_id": device_id}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ011", "details-not-dict", Severity.ERROR, Phase.STATIC,
        'The "details" value is certainly not a dict.',
        '"details" is {kind}, not a dict{where}; wrap it, e.g. "details": {{"message": ...}}',
        "`job_results.details` is a JSON object that the UI and the API read by key; a string "
        "or a list there breaks every reader.",
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": "Job completed."}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": {"message": "Job completed."}}\n',
    ),
    Rule(
        "NRJ012", "ad-hoc-key", Severity.WARNING, Phase.STATIC,
        'A top-level key other than "success", "device_id" and "details".',
        'top-level key "{key}" is not part of the contract{note}; move it under "details"',
        "Only `success`, `device_id` and `details` map onto `job_results`; the worker folds "
        "other keys into `details`, where a key of the same name wins. Put them there yourself.",
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "serial": device.serial_number}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": {"serial": device.serial_number}}\n',
        fix="moves ad-hoc keys of a returned dict literal under `details` (creating or merging "
            "into the `details` dict literal)",
    ),
    Rule(
        "NRJ013", "reserved-key", Severity.ERROR, Phase.STATIC,
        "A top-level key reserved for a `job_results` column.",
        'top-level key "{key}" is reserved for the job_results column of that name; the worker '
        'sets it: remove it, or move it under "details"',
        "`id`, `job_id`, `job_type`, `status`, `result_time` and `created_at` are set by the "
        "worker. A job that sets them either is ignored or overwrites the row's identity.",
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "status": "done"}\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": {"state": "done"}}\n',
    ),
    Rule(
        "NRJ014", "details-not-json", Severity.ERROR, Phase.STATIC,
        "A value under `details` that JSONB cannot store as it is.",
        "details{at} is {kind}, which {why}; {fix}",
        "`details` is written as JSON into a PostgreSQL JSONB column. datetime, bytes, sets, "
        "Decimal, exception objects and NaN are not JSON; PostgreSQL also refuses \\u0000 in "
        "strings. NetRaven lost whole result rows, and rolled back the session, on one such value.",
        'from datetime import datetime, timezone\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    started = datetime.now(timezone.utc)\n'
        '    return {"success": True, "device_id": device.id, "details": {"started": started}}\n',
        'from datetime import datetime, timezone\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    started = datetime.now(timezone.utc)\n'
        '    return {"success": True, "device_id": device.id, "details": {"started": started.isoformat()}}\n',
    ),
    Rule(
        "NRJ015", "unknown-result-shape", Severity.INFO, Phase.STATIC,
        "A returned value whose shape cannot be known statically.",
        "the shape of the value returned here cannot be known statically ({origin}){where}; "
        "the runtime checks (dry run, dispatcher) cover it",
        "A result built by a function of another module, or passed in, cannot be checked by "
        "reading this file. Prefer building the result dict in the job module.",
        'from netraven.worker.results import build_result\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return build_result(device, ok=True)\n',
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ020", "missing-job-meta", Severity.ERROR, Phase.STATIC,
        "No module-level `JOB_META`, or it is not a dict literal.",
        "{problem}; define JOB_META = "
        '{{"label": ..., "description": ..., "icon": ..., "default_schedule": ...}} '
        "as a dict literal at module level",
        "The UI lists jobs and schedules them from JOB_META. It must be a literal so it can be "
        "read without importing (and running) the module.",
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
        'JOB_META = {"label": "Example", "description": "An example job.", "icon": "mdi-cog", '
        '"default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ021", "bad-job-meta", Severity.ERROR, Phase.STATIC,
        "`JOB_META` lacks `label`, `description`, `icon` or `default_schedule`, or one is not a str.",
        "JOB_META {problem}",
        "Every key is shown in the UI or used by the scheduler; a missing icon or an integer "
        "schedule breaks the job list for every job, not only this one.",
        'JOB_META = {"label": "Banner", "description": "Check banner.", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
        'JOB_META = {"label": "Banner", "description": "Check banner.", "icon": "mdi-flag", '
        '"default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ030", "run-raised", Severity.ERROR, Phase.RUNTIME,
        "`run()` raised an exception, or the process running it died.",
        "run() {what}; catch the failure inside run() and return "
        '{{"success": False, "device_id": device.id, "details": {{"error": str(exc)}}}}',
        "An exception escaping `run` is a result the job never wrote: the worker can only "
        "record that the job broke, not what happened on the device.",
        'JOB_META = {"label": "Strict", "description": "Raises.", "icon": "mdi-alert", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": {"vendor": device.vendor.upper()}}\n',
        'JOB_META = {"label": "Strict", "description": "Handles it.", "icon": "mdi-alert", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    vendor = getattr(device, "vendor", None)\n'
        '    if not vendor:\n'
        '        return {"success": False, "device_id": device.id, "details": {"error": "vendor unknown"}}\n'
        '    return {"success": True, "device_id": device.id, "details": {"vendor": vendor.upper()}}\n',
    ),
    Rule(
        "NRJ031", "run-timeout", Severity.ERROR, Phase.RUNTIME,
        "`run()` did not return within its time limit.",
        "run() did not return within {timeout:g} s{where}; give every network wait a timeout",
        "A job that hangs holds a worker slot forever; the dispatcher abandons it after the "
        "limit and records a failure.",
        'import time\n\n'
        'JOB_META = {"label": "Slow", "description": "Never ends.", "icon": "mdi-sleep", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    while True:\n'
        '        time.sleep(1)\n',
        'import time\n\n'
        'JOB_META = {"label": "Slow", "description": "Ends.", "icon": "mdi-sleep", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    time.sleep(0.01)\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ032", "device-id-mismatch", Severity.ERROR, Phase.RUNTIME,
        'The result\'s "device_id" is a valid int that differs from the device the job ran for.',
        '"device_id" is {got} but run() was called for device {expected}; use device.id',
        "A mixed-up id (the job id, a neighbour's id) files the result under another device.",
        'JOB_META = {"label": "Mixup", "description": "Wrong id.", "icon": "mdi-shuffle", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": job_id}\n',
        'JOB_META = {"label": "Mixup", "description": "Right id.", "icon": "mdi-shuffle", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
    Rule(
        "NRJ033", "sandbox-blocked", Severity.WARNING, Phase.RUNTIME,
        "During a dry run, `run()` tried to reach the network, start a process or write through "
        "the database session; the sandbox blocked it.",
        "during the dry run, {who} tried to {what}; the sandbox blocked it (the job's error "
        "path ran instead)",
        "The dry run never lets a job touch the network, start a process or commit: the attempt "
        "raises OSError so the job's own error handling runs. The warning tells which paths the "
        "dry run could not exercise for real.",
        'import socket\n\n'
        'JOB_META = {"label": "SSH", "description": "TCP 22.", "icon": "mdi-lan", "default_schedule": "hourly"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    try:\n'
        '        socket.create_connection((device.ip_address, 22), timeout=2).close()\n'
        '    except OSError as exc:\n'
        '        return {"success": False, "device_id": device.id, "details": {"error": str(exc)}}\n'
        '    return {"success": True, "device_id": device.id}\n',
        'JOB_META = {"label": "Facts", "description": "From the inventory.", "icon": "mdi-lan", "default_schedule": "hourly"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": {"hostname": device.hostname}}\n',
    ),
    Rule(
        "NRJ034", "import-failed", Severity.ERROR, Phase.RUNTIME,
        "The job module failed to import.",
        "the job module failed to import: {error}; install what it needs or fix the module",
        "A module that cannot be imported cannot run; the registry rejects it instead of "
        "failing every run later.",
        'import vendor_sdk_that_is_not_installed\n\n'
        'JOB_META = {"label": "SDK", "description": "Needs an SDK.", "icon": "mdi-package", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
        'import json\n\n'
        'JOB_META = {"label": "SDK", "description": "Needs only the standard library.", "icon": "mdi-package", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id, "details": json.loads("{}")}\n',
    ),
    Rule(
        "NRJ035", "duplicate-job-type", Severity.ERROR, Phase.REGISTRY,
        "Two job modules loaded by one registry have the same job type (file stem).",
        "job type {job_type!r} is also defined by {others}; rename one of the modules",
        "The job type is the module's file stem, and the worker runs a job by its type. With two "
        "modules of one type it could only pick one at random: the registry rejects both.",
        "# netraven/worker/jobs/backup.py\n# plugins/acme/jobs/backup.py   <- the same job type \"backup\"\n",
        "# netraven/worker/jobs/backup.py\n# plugins/acme/jobs/acme_backup.py\n",
    ),
    Rule(
        "NRJ036", "job-type-too-long", Severity.ERROR, Phase.REGISTRY,
        "The job type (the module's file stem) is longer than `job_results.job_type` holds.",
        "job type {job_type!r} is {length} characters, longer than the {limit} of "
        "job_results.job_type; rename the module",
        "Every result row stores the job type; a longer one is refused by PostgreSQL (or cut by "
        "other databases), so every result of the job would be lost.",
        "# jobs/collect_interface_counters_and_errors_hourly.py\n",
        "# jobs/interface_counters.py\n",
    ),
    Rule(
        "NRJ900", "cannot-analyse", Severity.ERROR, Phase.STATIC,
        "The file cannot be analysed: it does not exist, cannot be read or decoded, or does not parse.",
        "cannot analyse this file: {reason}",
        "A file the checker cannot read is a file nobody has checked; it must not pass quietly.",
        'JOB_META = {"label": "Broken", "description": "Does not parse.", "icon": "mdi-bug", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db)\n'
        '    return {"success": True, "device_id": device.id}\n',
        'JOB_META = {"label": "Broken", "description": "Parses.", "icon": "mdi-bug", "default_schedule": "daily"}\n\n\n'
        'def run(device, job_id, config, db):\n'
        '    return {"success": True, "device_id": device.id}\n',
    ),
]

#: code -> Rule, in catalogue order.
RULES: Final[Mapping[str, Rule]] = MappingProxyType({rule.code: rule for rule in _RULE_LIST})


def get_rule(code: str) -> Rule:
    """The rule for ``code`` (case-insensitive); ``KeyError`` names the known codes."""
    try:
        return RULES[code.upper()]
    except KeyError:
        raise KeyError(f"unknown rule code {code!r}; known codes: {', '.join(RULES)}") from None
