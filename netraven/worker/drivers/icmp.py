"""ICMP echo ("ping") without depending on a ``ping`` binary or on root.

Tried in order, first that can be used wins:

1. a datagram ICMP socket (Linux "ping sockets": unprivileged when ``net.ipv4.ping_group_range``
   admits the process's group),
2. a raw ICMP socket (root or ``CAP_NET_RAW``),
3. the ``ping`` binary, when one is on ``PATH``.

When none can be used the answer says so (``reachable`` is ``None``) instead of raising: the
reachability job records it and still does its TCP checks.
"""

from __future__ import annotations

import ipaddress
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import time
from dataclasses import dataclass
from typing import Final

_ECHO_REQUEST_V4: Final = 8
_ECHO_REPLY_V4: Final = 0
_ECHO_REQUEST_V6: Final = 128
_ECHO_REPLY_V6: Final = 129
_PAYLOAD: Final = b"netraven-reachability"
_RTT: Final = re.compile(r"time[=<]\s*([0-9.]+)\s*ms")


@dataclass(frozen=True, slots=True)
class PingResult:
    """``reachable`` is True/False when a probe ran, None when no ICMP method was usable."""

    reachable: bool | None
    method: str | None  # "icmp-datagram-socket", "icmp-raw-socket", "ping-binary" or None
    rtt_ms: float | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, object]:
        return {"reachable": self.reachable, "method": self.method, "rtt_ms": self.rtt_ms,
                "reason": self.reason}


def ping(address: str, *, timeout: float = 2.0) -> PingResult:
    """Send one ICMP echo request to ``address`` and wait ``timeout`` seconds for the reply.

    ``address`` is an IPv4/IPv6 literal or a name (resolved first; a name that does not resolve
    raises ``OSError``).
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        info = socket.getaddrinfo(address, None, type=socket.SOCK_RAW)
        ip = ipaddress.ip_address(info[0][4][0])
    unusable: list[str] = []
    for kind, method in ((socket.SOCK_DGRAM, "icmp-datagram-socket"),
                         (socket.SOCK_RAW, "icmp-raw-socket")):
        try:
            sock = _open_icmp_socket(ip, kind)
        except OSError as exc:
            unusable.append(f"{method}: {exc.strerror or exc}")
            continue
        with sock:
            return _echo(sock, ip, kind, method, timeout)
    binary = shutil.which("ping")
    if binary is None:
        unusable.append("ping-binary: no `ping` on PATH")
        return PingResult(None, None, reason="ICMP unavailable (" + "; ".join(unusable) + ")")
    return _ping_binary(binary, ip, timeout, unusable)


def _open_icmp_socket(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, kind: int) -> socket.socket:
    if ip.version == 4:
        return socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP)
    return socket.socket(socket.AF_INET6, kind, socket.IPPROTO_ICMPV6)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def _echo(sock: socket.socket, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, kind: int,
          method: str, timeout: float) -> PingResult:
    request_type, reply_type = ((_ECHO_REQUEST_V4, _ECHO_REPLY_V4) if ip.version == 4
                                else (_ECHO_REQUEST_V6, _ECHO_REPLY_V6))
    # The kernel replaces the identifier of a datagram ICMP socket with the socket's own, so
    # replies are matched on sequence number and payload; for raw sockets the identifier counts too.
    identifier = os.getpid() & 0xFFFF
    sequence = int.from_bytes(os.urandom(2), "big")
    header = struct.pack("!BBHHH", request_type, 0, 0, identifier, sequence)
    checksum = _checksum(header + _PAYLOAD) if ip.version == 4 else 0  # the kernel sums ICMPv6
    packet = struct.pack("!BBHHH", request_type, 0, checksum, identifier, sequence) + _PAYLOAD
    started = time.perf_counter()
    deadline = started + timeout
    try:
        sock.sendto(packet, (str(ip), 0))
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return PingResult(False, method, reason=f"no echo reply within {timeout:g} s")
            readable, _, _ = select.select([sock], [], [], remaining)
            if not readable:
                continue
            data, (source, *_rest) = sock.recvfrom(2048)
            if ip.version == 4 and kind == socket.SOCK_RAW:
                data = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets deliver the IP header too
            if len(data) < 8 or ipaddress.ip_address(source.split("%")[0]) != ip:
                continue
            got_type, _code, _sum, got_id, got_seq = struct.unpack("!BBHHH", data[:8])
            if got_type != reply_type or got_seq != sequence or data[8:] != _PAYLOAD:
                continue
            if kind == socket.SOCK_RAW and got_id != identifier:
                continue
            rtt = (time.perf_counter() - started) * 1000.0
            return PingResult(True, method, rtt_ms=round(rtt, 3))
    except OSError as exc:
        return PingResult(False, method, reason=f"ICMP echo failed: {exc.strerror or exc}")


def _ping_binary(binary: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address, timeout: float,
                 unusable: list[str]) -> PingResult:
    wait = max(1, int(timeout + 0.999))
    command = [binary, "-n", "-c", "1", "-W", str(wait), str(ip)]
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=wait + 2,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        unusable.append(f"ping-binary: {exc}")
        return PingResult(None, None, reason="ICMP unavailable (" + "; ".join(unusable) + ")")
    if proc.returncode == 0:
        match = _RTT.search(proc.stdout)
        return PingResult(True, "ping-binary", rtt_ms=float(match.group(1)) if match else None)
    if proc.returncode == 1:
        return PingResult(False, "ping-binary", reason=f"no echo reply within {wait} s")
    message = (proc.stderr or proc.stdout).strip().splitlines()
    return PingResult(None, "ping-binary",
                      reason=f"ping exited {proc.returncode}: {message[0] if message else 'no output'}")
