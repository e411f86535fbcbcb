"""Devices as the jobs see them, and the inventory queries the CLI and the dispatcher need.

Jobs receive a :class:`DeviceInfo`: a plain copy of the ``devices`` row, owned by the thread that
runs the job. An ORM instance would tie every job to the session that loaded it (sessions are not
shared between threads) and fail on the first lazy load after that session closed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from netraven.db.engine import as_database_error
from netraven.db.models import Device


@dataclass(slots=True)
class DeviceInfo:
    """What a job reads of its device. ``password`` never appears in a repr."""

    id: int
    hostname: str
    ip_address: str
    device_type: str
    port: int = 22
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    serial_number: str | None = None
    model: str | None = None
    description: str | None = None

    @classmethod
    def from_model(cls, device: Device) -> DeviceInfo:
        return cls(id=device.id, hostname=device.hostname, ip_address=device.ip_address,
                   device_type=device.device_type, port=device.port, username=device.username,
                   password=device.password, serial_number=device.serial_number,
                   model=device.model, description=device.description)


class InventoryError(ValueError):
    """A request about devices that cannot be met (unknown hostnames, duplicate hostname, bad IP)."""


def load_devices(engine: Engine, hostnames: Iterable[str] | None = None) -> list[DeviceInfo]:
    """The devices named by ``hostnames`` (in that order), or all devices by id when ``None``.

    Raises :class:`InventoryError` naming every unknown hostname.
    """
    wanted = None if hostnames is None else list(dict.fromkeys(hostnames))
    statement = select(Device).order_by(Device.id)
    if wanted is not None:
        statement = statement.where(Device.hostname.in_(wanted))
    try:
        with Session(engine) as session:
            devices = [DeviceInfo.from_model(d) for d in session.scalars(statement)]
    except sa_exc.SQLAlchemyError as exc:
        raise as_database_error(exc, engine) from exc
    if wanted is None:
        return devices
    by_name = {d.hostname: d for d in devices}
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise InventoryError(f"unknown device{'s' if len(unknown) > 1 else ''}: "
                             f"{', '.join(unknown)} (see `netraven devices list`)")
    return [by_name[name] for name in wanted]


def add_device(engine: Engine, *, hostname: str, ip_address: str, device_type: str,
               port: int = 22, username: str | None = None, serial_number: str | None = None,
               model: str | None = None, description: str | None = None) -> DeviceInfo:
    """Insert a device; :class:`InventoryError` for a bad address, port or an existing hostname."""
    hostname = hostname.strip()
    if not hostname:
        raise InventoryError("the hostname is empty")
    try:
        address = str(ipaddress.ip_address(ip_address.strip()))
    except ValueError:
        raise InventoryError(f"{ip_address!r} is not an IPv4 or IPv6 address") from None
    if not 0 < port < 65536:
        raise InventoryError(f"port {port} is not between 1 and 65535")
    if not device_type.strip():
        raise InventoryError("the device type is empty")
    device = Device(hostname=hostname, ip_address=address, device_type=device_type.strip(),
                    port=port, username=username, serial_number=serial_number, model=model,
                    description=description)
    try:
        with Session(engine) as session:
            existing = session.scalar(select(Device.id).where(Device.hostname == hostname))
            if existing is not None:
                raise InventoryError(f"a device named {hostname!r} already exists (id {existing})")
            session.add(device)
            session.commit()
            return DeviceInfo.from_model(device)
    except sa_exc.IntegrityError:  # lost a race with another `devices add` of the same name
        raise InventoryError(f"a device named {hostname!r} already exists") from None
    except sa_exc.SQLAlchemyError as exc:
        raise as_database_error(exc, engine) from exc


def list_devices(engine: Engine) -> Sequence[DeviceInfo]:
    return load_devices(engine)
