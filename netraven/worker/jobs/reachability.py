"""Reachability: does the device answer an ICMP echo, and are its TCP ports 22 and 443 open?

The device is reachable when the echo is answered or one port accepts a connection. ICMP needs a
ping socket, a raw socket (root) or a ``ping`` binary; when none is usable, ``details.icmp``
says so (``reachable: null`` and the reason) and the TCP checks still decide. Settings:
``config["reachability"]["timeout"]`` (seconds per probe, default 2) and ``["tcp_ports"]``
(default 22 and 443).
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Mapping

from netraven.worker.drivers import icmp

JOB_META = {
    "label": "Reachability",
    "description": "ICMP echo and TCP connects to ports 22 and 443; records any check that "
                   "could not run.",
    "icon": "mdi-lan-connect",
    "default_schedule": "hourly",
}

DEFAULT_TCP_PORTS = (22, 443)
DEFAULT_TIMEOUT = 2.0


def _settings(config: object) -> tuple[tuple[int, ...], float]:
    section = config.get("reachability") if isinstance(config, Mapping) else None
    section = section if isinstance(section, Mapping) else {}
    timeout = section.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"reachability.timeout must be a positive number of seconds, "
                         f"not {timeout!r}")
    ports = section.get("tcp_ports", DEFAULT_TCP_PORTS)
    if not isinstance(ports, (list, tuple)) or not all(
            isinstance(port, int) and not isinstance(port, bool) and 0 < port < 65536
            for port in ports):
        raise ValueError(f"reachability.tcp_ports must be a list of port numbers, not {ports!r}")
    return tuple(ports), float(timeout)


def _tcp_check(address: str, port: int, timeout: float) -> dict[str, object]:
    started = time.perf_counter()
    try:
        with socket.create_connection((address, port), timeout=timeout):
            pass
    except ConnectionRefusedError:
        return {"open": False, "state": "refused"}
    except TimeoutError:
        return {"open": False, "state": "timeout", "error": f"no answer within {timeout:g} s"}
    except OSError as exc:
        return {"open": False, "state": "error", "error": exc.strerror or str(exc)}
    rtt = (time.perf_counter() - started) * 1000.0
    return {"open": True, "state": "open", "rtt_ms": round(rtt, 3)}


def run(device, job_id, config, db):
    address = str(device.ip_address)
    try:
        ports, timeout = _settings(config)
        echo = icmp.ping(address, timeout=timeout)
        # JSON object keys are strings: "22", not 22 (an int key would silently change type).
        tcp = {str(port): _tcp_check(address, port, timeout) for port in ports}
    except ValueError as exc:  # a bad setting, or an address that is not an IP literal
        return {"success": False, "device_id": device.id,
                "details": {"ip_address": address, "error": str(exc)}}
    except OSError as exc:
        return {"success": False, "device_id": device.id,
                "details": {"ip_address": address, "error": f"network error: {exc}"}}

    reachable = echo.reachable is True or any(check["open"] for check in tcp.values())
    return {
        "success": reachable,
        "device_id": device.id,
        "details": {
            "ip_address": address,
            "reachable": reachable,
            "icmp": echo.as_dict(),
            "tcp": tcp,
        },
    }
