"""An older reachability job: success computed with `or`, a message string as details."""

import socket
import subprocess

JOB_META = {
    "label": "Reachability (legacy)",
    "description": "Ping and SSH port check.",
    "icon": "mdi-lan-connect",
    "default_schedule": "hourly",
}


def _ping(address):
    proc = subprocess.run(["ping", "-c", "1", "-W", "2", address], capture_output=True, text=True)
    return {"ok": proc.returncode == 0, "output": proc.stdout}


def _ssh_port(address):
    try:
        socket.create_connection((address, 22), timeout=2).close()
        return {"ok": True}
    except OSError as exc:
        return {"ok": None, "error": str(exc)}


def run(device, job_id, config, db):
    icmp = _ping(device.ip_address)
    ssh = _ssh_port(device.ip_address)
    reachable = icmp.get("ok") or ssh.get("ok")
    if reachable:
        details = f"{device.hostname} is reachable"
    else:
        details = f"{device.hostname} is down"
    return {"success": reachable, "device_id": device.id, "details": details}
