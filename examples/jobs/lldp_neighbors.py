"""LLDP neighbours: a half-loaded device gives device_id None, and a datetime goes into JSONB."""

from datetime import datetime

JOB_META = {
    "label": "LLDP neighbours",
    "description": "Reads the LLDP neighbour table.",
    "icon": "mdi-graph",
    "default_schedule": "daily",
}


def _parse(output):
    neighbours = []
    for line in output.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 4:
            neighbours.append({"local": fields[1], "remote": fields[0], "port": fields[3]})
    return neighbours


def run(device, job_id, config, db):
    device_id = getattr(device, "id", None)
    started = datetime.now()
    try:
        output = device.driver.send_command("show lldp neighbors")
    except TimeoutError:
        return {"success": False, "device_id": device_id, "details": {"error": "timeout", "started": started}}
    neighbours = _parse(output)
    return {
        "success": bool(neighbours),
        "device_id": device_id,
        "details": {"neighbours": neighbours, "started": started},
    }
