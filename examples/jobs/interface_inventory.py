"""Collect the interface table (broken the way NetRaven's jobs broke: the except branch)."""

import logging

from netmiko import ConnectHandler

log = logging.getLogger(__name__)

JOB_META = {
    "label": "Interface inventory",
    "description": "Collects `show interfaces` from every device.",
    "icon": "mdi-ethernet",
    "default_schedule": "daily",
}


def run(device, job_id, config, db):
    params = {
        "device_type": device.device_type,
        "host": device.ip_address,
        "username": device.username,
        "password": device.password,
        "timeout": config.get("ssh", {}).get("timeout", 30),
    }
    try:
        with ConnectHandler(**params) as conn:
            output = conn.send_command("show interfaces", use_textfsm=True)
    except Exception as e:
        log.error("interface inventory failed on %s: %s", device.hostname, e)
        return {"success": False, "error": str(e)}
    return {
        "success": True,
        "device_id": device.id,
        "details": {"interfaces": output, "count": len(output)},
    }
