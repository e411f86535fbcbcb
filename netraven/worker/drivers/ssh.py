"""Running configuration over SSH, through netmiko when it is installed.

netmiko is optional (it is not a dependency of this project): without it
:func:`get_running_config` raises :class:`DriverUnavailable`, and ``config_backup`` returns a
failure result that says so. Credentials come from the device, else from the worker
configuration's ``ssh`` section.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

#: The command that prints the running configuration, per netmiko device type.
RUNNING_CONFIG_COMMANDS: Final[Mapping[str, str]] = {
    "cisco_ios": "show running-config",
    "cisco_xe": "show running-config",
    "cisco_xr": "show running-config",
    "cisco_nxos": "show running-config",
    "cisco_asa": "show running-config",
    "arista_eos": "show running-config",
    "juniper_junos": "show configuration | display set",
    "paloalto_panos": "show config running",
    "hp_procurve": "show running-config",
    "dell_os10": "show running-configuration",
    "fortinet": "show full-configuration",
    "mikrotik_routeros": "/export",
}
DEFAULT_COMMAND: Final = "show running-config"
DEFAULT_TIMEOUT: Final = 30.0


class DriverError(Exception):
    """The configuration could not be retrieved (connection, login, command)."""


class DriverUnavailable(DriverError):
    """No SSH library is installed."""


def running_config_command(device_type: str | None) -> str:
    return RUNNING_CONFIG_COMMANDS.get(str(device_type or "").lower(), DEFAULT_COMMAND)


def _setting(device: Any, ssh: Mapping[str, Any], name: str) -> Any:
    value = getattr(device, name, None)
    return value if value not in (None, "") else ssh.get(name)


def get_running_config(device: Any, config: Mapping[str, Any]) -> str:
    """Log in to ``device`` over SSH and return its running configuration as text."""
    try:
        from netmiko import ConnectHandler  # optional: imported only when a backup runs
    except ImportError as exc:
        raise DriverUnavailable(
            f"netmiko is not installed ({exc}); install it (pip install netmiko) to back up "
            "configurations over SSH"
        ) from exc
    ssh = config.get("ssh") if isinstance(config, Mapping) else None
    ssh = ssh if isinstance(ssh, Mapping) else {}
    username = _setting(device, ssh, "username")
    password = _setting(device, ssh, "password")
    if not username:
        raise DriverError("no SSH username: set it on the device or as ssh.username in the "
                          "worker configuration")
    timeout = float(ssh.get("timeout", DEFAULT_TIMEOUT))
    params = {
        "device_type": str(device.device_type),
        "host": str(device.ip_address),
        "port": int(getattr(device, "port", None) or 22),
        "username": str(username),
        "password": "" if password is None else str(password),
        "secret": str(ssh.get("enable_secret") or ""),
        "conn_timeout": timeout,
        "auth_timeout": timeout,
        "banner_timeout": timeout,
    }
    command = running_config_command(device.device_type)
    try:
        with ConnectHandler(**params) as connection:
            if params["secret"]:
                connection.enable()
            output = connection.send_command(command, read_timeout=timeout)
    except Exception as exc:  # netmiko, paramiko and socket errors have no common base
        raise DriverError(f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(output, str):
        raise DriverError(f"{command!r} returned {type(output).__name__}, not text")
    return output
