"""Generate realistic NetRaven job modules (200-400 lines each) for the benchmarks.

About 80% are compliant; the others carry one of the faults NetRaven's history is full of. The
output is deterministic for a given seed, so runs compare like with like.
"""

from __future__ import annotations

import random
import textwrap
from pathlib import Path

_PARSER = '''
def _parse_{name}(output):
    """Parse `{command}` output into rows."""
    rows = []
    header = None
    for raw in output.splitlines():
        line = raw.strip()
        if not line or line.startswith("!"):
            continue
        if header is None:
            header = [column.lower() for column in line.split()]
            continue
        fields = line.split(None, len(header) - 1)
        if len(fields) != len(header):
            log.debug("skipping malformed line %r", line)
            continue
        row = dict(zip(header, fields))
        if "status" in row:
            row["up"] = row["status"].lower() in ("up", "connected")
        rows.append(row)
    return rows
'''

_REDACT = '''
def _redact_{name}(text, patterns):
    """Replace secrets in `text` by a marker, line by line."""
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]
    out = []
    for line in text.splitlines():
        for pattern in compiled:
            match = pattern.search(line)
            if match:
                line = line[: match.end()] + " <redacted>"
                break
        out.append(line)
    return "\\n".join(out)
'''

_SUMMARY = '''
def _summarise_{name}(rows, limit={limit}):
    counts = {{}}
    errors = []
    for index, row in enumerate(rows):
        key = row.get("type") or row.get("interface") or f"row-{{index}}"
        counts[key] = counts.get(key, 0) + 1
        if row.get("errors") not in (None, "0"):
            errors.append({{"row": index, "errors": row.get("errors")}})
        if len(errors) >= limit:
            break
    total = sum(counts.values())
    return {{"total": total, "kinds": len(counts), "errors": errors[:limit]}}
'''

_CONNECT = '''
def _connect_{name}(device, config):
    ssh = config.get("ssh", {{}})
    params = {{
        "device_type": device.device_type,
        "host": device.ip_address,
        "port": getattr(device, "port", None) or 22,
        "username": getattr(device, "username", None),
        "password": getattr(device, "password", None),
        "timeout": ssh.get("timeout", {timeout}),
    }}
    attempts = 0
    while True:
        attempts += 1
        try:
            return driver.connect(**params)
        except TimeoutError:
            if attempts >= ssh.get("retries", 3):
                raise
            time.sleep(min(2 ** attempts, 10))
'''

_RUN_OK = '''
def run(device, job_id, config, db):
    started = time.monotonic()
    result = {{"success": False, "device_id": device.id, "details": {{"job_id": job_id}}}}
    try:
        connection = _connect_{main}(device, config)
    except TimeoutError as exc:
        result["details"]["error"] = f"timeout: {{exc}}"
        return result
    except OSError as exc:
        return {{"success": False, "device_id": device.id, "details": {{"error": str(exc), "stage": "connect"}}}}
    try:
        output = connection.send_command("{command}")
    except Exception as exc:
        log.exception("command failed on %s", device.hostname)
        return {{"success": False, "device_id": device.id, "details": {{"error": str(exc), "stage": "command"}}}}
    finally:
        connection.disconnect()
    rows = _parse_{main}(output)
    summary = _summarise_{main}(rows)
    text = _redact_{main}(output, config.get("redaction", {{}}).get("patterns", []))
    digest = hashlib.sha256(text.encode()).hexdigest()
    result["details"].update(summary)
    result["details"]["sha256"] = digest
    result["details"]["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
    if summary["errors"]:
        result["details"]["warnings"] = [f"row {{e['row']}}: {{e['errors']}} errors" for e in summary["errors"]]
    result["success"] = summary["total"] > 0
    return result
'''

_FAULTS = {
    "except_without_device_id": ('return {{"success": False, "device_id": device.id, "details": {{"error": str(exc), "stage": "connect"}}}}',
                                 'return {{"success": False, "error": str(exc)}}'),
    "or_chain_success": ('result["success"] = summary["total"] > 0',
                         'result["success"] = summary.get("total") or summary.get("kinds")'),
    "datetime_in_details": ('result["details"]["sha256"] = digest',
                            'result["details"]["sha256"] = digest\n    result["details"]["at"] = datetime.now()'),
    "details_string": ('result["details"]["error"] = f"timeout: {{exc}}"\n        return result',
                       'return {{"success": False, "device_id": device.id, "details": f"timeout: {{exc}}"}}'),
    "falls_off": ('    result["success"] = summary["total"] > 0\n    return result',
                  '    if summary["total"] > 0:\n        result["success"] = True\n        return result'),
}

_COMMANDS = ["show interfaces", "show inventory", "show version", "show ip route", "show cdp neighbors detail",
             "show running-config", "show environment", "show vlan brief"]


def job_module(index: int, rng: random.Random, faulty: bool) -> tuple[str, str | None]:
    command = rng.choice(_COMMANDS)
    names = [f"{chr(97 + rng.randrange(26))}{index}_{k}" for k in range(rng.randint(3, 4))]
    main = names[0]
    parts = [
        f'"""Job {index}: runs `{command}` on every device and stores a summary."""\n',
        "import hashlib\nimport logging\nimport re\nimport time\nfrom datetime import datetime\n\n"
        "from netraven.worker.drivers import driver\n\nlog = logging.getLogger(__name__)\n",
        f'JOB_META = {{\n    "label": "Job {index}",\n    "description": "Runs {command}.",\n'
        f'    "icon": "mdi-router",\n    "default_schedule": "{rng.choice(["daily", "hourly", "weekly"])}",\n}}\n',
        f"MAX_ROWS = {rng.randint(100, 5000)}\nTIMEOUT = {rng.randint(5, 60)}\n",
    ]
    for name in names:
        parts.append(_PARSER.format(name=name, command=command))
        parts.append(_REDACT.format(name=name))
        parts.append(_SUMMARY.format(name=name, limit=rng.randint(5, 50)))
        parts.append(_CONNECT.format(name=name, timeout=rng.randint(5, 60)))
    body = _RUN_OK.format(main=main, command=command)
    fault = None
    if faulty:
        fault = rng.choice(sorted(_FAULTS))
        old, new = _FAULTS[fault]
        old, new = old.format(), new.format()
        assert old in body, fault
        body = body.replace(old, new, 1)
    parts.append(body)
    return "\n".join(textwrap.dedent(p) for p in parts), fault


def generate(directory: Path, count: int, seed: int = 20261203, faulty_share: float = 0.2) -> list[Path]:
    """Write ``count`` job modules into ``directory`` (a folder named ``jobs`` suits the default paths)."""
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        text, _ = job_module(index, rng, rng.random() < faulty_share)
        path = directory / f"job_{index:05}.py"
        path.write_text(text)
        paths.append(path)
    return paths
