"""NetRaven's job template, as it was copied into new jobs for a year."""

import logging

log = logging.getLogger(__name__)

JOB_META = {
    "label": "Template",
    "description": "Copy me.",
    "default_schedule": 86400,
}


def run(device, job_id, config, db):
    log.info("running job %s on %s", job_id, device.hostname)
    if device.device_type not in ("cisco_ios", "cisco_xe"):
        log.warning("unsupported platform %s", device.device_type)
        return
    return {
        "success": True,
        "device_id": device.id,
        "job_type": "template",
        "details": "Job completed.",
    }
