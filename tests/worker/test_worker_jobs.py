"""The product's job modules: compliant (static check, dry run), and doing what they say.

``config_backup`` runs against a real database (SQLite and PostgreSQL) with the SSH driver
replaced; ``reachability`` runs against 127.0.0.1 only, with ICMP availability forced each way.
"""

from __future__ import annotations

import datetime as dt
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from netraven_contracts.rules import Severity
from netraven_contracts.runtime import FakeSession, dry_run, validate_result
from netraven_contracts.static import check_file

from netraven.config import default_config
from netraven.db.models import DeviceConfiguration
from netraven.worker.drivers import icmp, ssh
from netraven.worker.inventory import DeviceInfo
from netraven.worker.jobs import config_backup, reachability

JOBS = [Path(config_backup.__file__), Path(reachability.__file__)]

RUNNING_CONFIG = """hostname lab-router
service password-encryption
enable secret 5 $1$mERr$hx5rVt7rPNoS4wqbXKX7m0
username admin privilege 15 password 7 0822455D0A16
snmp-server community s3cr3t RO
interface Gi0/1
 description uplink
"""


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.stem)
def test_the_static_checker_reports_nothing_on_the_products_jobs(path: Path) -> None:
    assert check_file(path) == []


@pytest.mark.parametrize("path", JOBS, ids=lambda p: p.stem)
def test_the_dry_run_reports_at_most_sandbox_warnings(path: Path) -> None:
    report = dry_run(path)
    assert [v for v in report.violations if v.severity is Severity.ERROR] == []
    assert {v.code for v in report.violations} <= {"NRJ033"}
    assert report.reached_returns  # at least one return of run() was exercised


# -- config_backup -------------------------------------------------------------------------------


@pytest.fixture
def device(engine: Engine, add_devices: Any) -> DeviceInfo:
    (info,) = add_devices("lab-router")
    return info


def backup(engine: Engine, device: DeviceInfo, config: dict[str, Any] | None = None,
           job_id: int = 1) -> dict[str, Any]:
    with Session(engine) as db:
        result = config_backup.run(device, job_id, config or default_config(), db)
    assert [v for v in validate_result(result, device_id=device.id)
            if v.severity is Severity.ERROR] == []
    return result


@pytest.fixture
def running_config(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """What the (replaced) SSH driver returns; change ``["text"]`` to change the device."""
    current = {"text": RUNNING_CONFIG}
    monkeypatch.setattr(ssh, "get_running_config", lambda device, config: current["text"])
    return current


def snapshots(engine: Engine) -> list[DeviceConfiguration]:
    with Session(engine) as session:
        return list(session.scalars(select(DeviceConfiguration).order_by(DeviceConfiguration.id)))


def test_backup_stores_a_redacted_snapshot_then_only_changes(
        engine: Engine, device: DeviceInfo, running_config: dict[str, str]) -> None:
    first = backup(engine, device)
    assert first["success"] is True and first["device_id"] == device.id
    assert first["details"]["changed"] is True
    assert first["details"]["previous_snapshot_id"] is None
    assert first["details"]["redacted_lines"] == 3
    (snapshot,) = snapshots(engine)
    assert snapshot.id == first["details"]["snapshot_id"]
    assert snapshot.device_id == device.id
    assert snapshot.config_data.splitlines() == [
        "hostname lab-router",
        "service password-encryption",
        "enable secret 5 <redacted>",
        "username admin privilege 15 password 7 <redacted>",
        "snmp-server community <redacted>",
        "interface Gi0/1",
        " description uplink",
    ]
    assert snapshot.data_hash == first["details"]["data_hash"]
    assert snapshot.retrieved_at.tzinfo is not None
    assert snapshot.config_metadata == {"job_id": 1, "command": "show running-config",
                                        "redacted_lines": 3}

    unchanged = backup(engine, device, job_id=2)
    assert unchanged["details"]["changed"] is False
    assert unchanged["details"]["snapshot_id"] == snapshot.id
    assert len(snapshots(engine)) == 1

    running_config["text"] = RUNNING_CONFIG.replace("uplink", "uplink to core")
    changed = backup(engine, device, job_id=3)
    assert changed["details"]["changed"] is True
    assert changed["details"]["previous_snapshot_id"] == snapshot.id
    assert [s.id for s in snapshots(engine)] == [snapshot.id, changed["details"]["snapshot_id"]]


def test_a_changed_secret_alone_stores_no_new_snapshot(
        engine: Engine, device: DeviceInfo, running_config: dict[str, str]) -> None:
    backup(engine, device)
    running_config["text"] = RUNNING_CONFIG.replace("s3cr3t", "other")
    assert backup(engine, device)["details"]["changed"] is False
    assert len(snapshots(engine)) == 1


def test_redaction_patterns_come_from_the_config(
        engine: Engine, device: DeviceInfo, running_config: dict[str, str]) -> None:
    config = default_config()
    config["redaction"]["patterns"] = [r"^hostname"]
    result = backup(engine, device, config)
    assert result["details"]["redacted_lines"] == 1
    assert snapshots(engine)[0].config_data.startswith("hostname <redacted>\n")
    assert "s3cr3t" in snapshots(engine)[0].config_data  # an explicit list replaces the defaults


@pytest.mark.parametrize("patterns, error", [
    (["("], "is not a valid regular expression"),
    ([1], "is not a string"),
    ({"password": 1}, "must be a list of regular expressions"),
])
def test_bad_redaction_patterns_fail_the_backup_before_connecting(
        engine: Engine, device: DeviceInfo, monkeypatch: pytest.MonkeyPatch,
        patterns: object, error: str) -> None:
    monkeypatch.setattr(ssh, "get_running_config", lambda d, c: pytest.fail("connected"))
    config = default_config()
    config["redaction"]["patterns"] = patterns
    result = backup(engine, device, config)
    assert result["success"] is False
    assert result["details"]["stage"] == "configuration"
    assert error in result["details"]["error"]


def test_without_netmiko_the_backup_fails_cleanly_and_says_so(
        engine: Engine, device: DeviceInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "netmiko", None)  # import netmiko -> ImportError
    result = backup(engine, device)
    assert result["success"] is False
    assert result["details"]["stage"] == "driver"
    assert "netmiko is not installed" in result["details"]["error"]
    assert snapshots(engine) == []


def test_a_driver_error_is_a_failure_result(engine: Engine, device: DeviceInfo,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(device: Any, config: Any) -> str:
        raise ssh.DriverError("NetmikoAuthenticationException: bad password")

    monkeypatch.setattr(ssh, "get_running_config", refuse)
    result = backup(engine, device)
    assert result["details"] == {"stage": "retrieve", "command": "show running-config",
                                 "error": "NetmikoAuthenticationException: bad password"}


def test_a_database_failure_is_a_failure_result_and_rolls_back(
        running_config: dict[str, str]) -> None:
    device = DeviceInfo(5, "r5", "127.0.0.1", "cisco_ios")
    db = FakeSession(fail=True)
    result = config_backup.run(device, 1, default_config(), db)
    assert result["success"] is False and result["device_id"] == 5
    assert result["details"]["stage"] == "store"
    assert len(db.called("rollback")) == 1
    assert validate_result(result, device_id=5) == []


def test_nul_characters_are_removed_before_storing(
        engine: Engine, device: DeviceInfo, running_config: dict[str, str]) -> None:
    running_config["text"] = "hostname a\x00b\n"
    result = backup(engine, device)
    assert result["details"]["nul_characters_removed"] == 1
    assert snapshots(engine)[0].config_data == "hostname ab\n"


# -- reachability --------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


LOCAL = DeviceInfo(7, "localhost-device", "127.0.0.1", "linux")


@pytest.fixture
def no_icmp(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ICMP socket permission and no ping binary."""
    real_socket = socket.socket

    def socket_factory(family: int = -1, kind: int = -1, proto: int = -1, *args: Any) -> Any:
        if proto in (socket.IPPROTO_ICMP, socket.IPPROTO_ICMPV6):
            raise PermissionError(1, "Operation not permitted")
        return real_socket(family, kind, proto, *args)

    monkeypatch.setattr(icmp.socket, "socket", socket_factory)
    monkeypatch.setattr(icmp.shutil, "which", lambda name: None)


def reach(ports: list[int]) -> dict[str, Any]:
    config = default_config()
    config["reachability"] = {"timeout": 1, "tcp_ports": ports}
    result = reachability.run(LOCAL, 1, config, None)
    assert validate_result(result, device_id=LOCAL.id) == []
    return result


def test_without_ping_or_icmp_privileges_the_tcp_checks_still_decide(
        no_icmp: None, listener: int) -> None:
    closed = closed_port()
    result = reach([listener, closed])
    assert result["success"] is True
    icmp_details = result["details"]["icmp"]
    assert icmp_details["reachable"] is None and icmp_details["method"] is None
    assert "Operation not permitted" in icmp_details["reason"]
    assert "no `ping` on PATH" in icmp_details["reason"]
    assert result["details"]["tcp"] == {
        str(listener): {"open": True, "state": "open",
                        "rtt_ms": result["details"]["tcp"][str(listener)]["rtt_ms"]},
        str(closed): {"open": False, "state": "refused"},
    }


def test_nothing_answering_is_an_unreachable_result_not_an_error(no_icmp: None) -> None:
    result = reach([closed_port()])
    assert result["success"] is False
    assert result["details"]["reachable"] is False


def _fake_ping(script: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A `ping` binary that runs ``script`` (sh), found instead of the real one."""
    fake = tmp_path / "ping"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setattr(icmp.shutil, "which", lambda name: str(fake))


def test_the_ping_binary_is_used_when_no_icmp_socket_is_allowed(
        no_icmp: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_ping("echo '64 bytes from 127.0.0.1: icmp_seq=1 ttl=64 time=0.042 ms'", monkeypatch, tmp_path)
    result = reach([closed_port()])
    assert result["success"] is True
    assert result["details"]["icmp"] == {"reachable": True, "method": "ping-binary",
                                         "rtt_ms": 0.042, "reason": None}


def test_a_ping_binary_without_reply_means_unreachable(
        no_icmp: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_ping("exit 1", monkeypatch, tmp_path)
    result = reach([closed_port()])
    assert result["success"] is False
    assert result["details"]["icmp"]["reachable"] is False
    assert result["details"]["icmp"]["method"] == "ping-binary"


def _raw_icmp_allowed() -> bool:
    try:
        socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _raw_icmp_allowed(), reason="needs a raw ICMP socket (root or CAP_NET_RAW)")
def test_a_real_icmp_echo_to_loopback_is_answered() -> None:
    result = icmp.ping("127.0.0.1", timeout=2)
    assert result.reachable is True
    assert result.method in ("icmp-datagram-socket", "icmp-raw-socket")
    assert result.rtt_ms is not None and result.rtt_ms >= 0


@pytest.mark.parametrize("section, error", [
    ({"timeout": 0}, "reachability.timeout must be a positive number"),
    ({"tcp_ports": [22, "443"]}, "reachability.tcp_ports must be a list of port numbers"),
    ({"tcp_ports": [70000]}, "reachability.tcp_ports must be a list of port numbers"),
])
def test_bad_reachability_settings_are_a_failure_result(section: dict[str, Any], error: str) -> None:
    config = default_config()
    config["reachability"] = section
    result = reachability.run(LOCAL, 1, config, None)
    assert result["success"] is False
    assert error in result["details"]["error"]
    assert validate_result(result, device_id=LOCAL.id) == []


def test_the_result_time_of_a_backup_is_recent(engine: Engine, device: DeviceInfo,
                                               running_config: dict[str, str]) -> None:
    before = dt.datetime.now(dt.timezone.utc)
    result = backup(engine, device)
    retrieved = dt.datetime.fromisoformat(result["details"]["retrieved_at"])
    assert before <= retrieved <= dt.datetime.now(dt.timezone.utc)
