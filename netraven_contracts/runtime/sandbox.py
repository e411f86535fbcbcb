"""What stops a job inside the dry-run process from reaching the network or starting a process.

Installed once, in the process that runs the job (never in the caller: an audit hook cannot be
removed). Two layers:

1. **An audit hook** (PEP 578) sees every socket connect/bind/sendto, every name lookup, every
   ``subprocess``, ``os.system``, ``os.exec*``, ``os.spawn*``, ``os.posix_spawn`` and ``os.fork``
   made through Python, whatever module makes it (``socket``, ``_socket``, ``ssl``, ``asyncio``,
   paramiko, netmiko...). It records the attempt (reported as NRJ033) and raises the ``OSError`` a
   real failure would raise, so the job's own error handling runs: ``ConnectionRefusedError`` for a
   connection, ``socket.gaierror`` for a name lookup, ``PermissionError`` for a process.
   ``socket.connect_ex`` is replaced, as it reports a refused connection by return value.
   Numeric addresses pass ``getaddrinfo`` (no lookup happens), so the attempt shows as the
   connection it is.
2. **An empty network namespace** (Linux, where unprivileged user namespaces are allowed): the
   job process gets one whose loopback is down, so even native code that bypasses Python (libpq,
   libssh2) finds no network at all.

This guards against accidents of honest jobs, not against a job written to escape (``ctypes`` can
call ``connect`` itself; the namespace still catches that one).
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import sys
from dataclasses import dataclass
from typing import Any, Callable, Final

from .describe import shorten

#: What the isolation of a dry run consisted of (reported in DryRunReport.isolation).
ISOLATION_NAMESPACE: Final = "audit hook + empty network namespace"
ISOLATION_HOOK: Final = "audit hook"

_SUFFIX: Final = "blocked by the NetRaven dry-run sandbox"


class BlockedConnectionError(ConnectionRefusedError):
    """A connection the sandbox refused."""


class BlockedLookupError(socket.gaierror):
    """A name lookup the sandbox refused."""


class BlockedProcessError(PermissionError):
    """A process the sandbox did not start."""


@dataclass(frozen=True, slots=True)
class Attempt:
    """One blocked action: what the job tried (NRJ033's ``what``) and the job line, if known."""

    what: str
    line: int | None


def _address(address: object) -> str:
    if isinstance(address, tuple) and len(address) >= 2:
        host, port = address[0], address[1]
        host = host.decode(errors="replace") if isinstance(host, bytes) else str(host)
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(address, (str, bytes)):
        path = address.decode(errors="replace") if isinstance(address, bytes) else address
        return f"the local socket {path or '(abstract)'}"
    return shorten(repr(address))


def _is_numeric_host(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the wildcard address, no lookup
    if isinstance(host, bytes):
        host = host.decode("ascii", errors="replace")
    if not isinstance(host, str):
        return False
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.split("%")[0])
    except (OSError, ValueError):
        return False
    return True


def _command(args: object) -> str:
    if isinstance(args, (list, tuple)):
        text = " ".join(os.fsdecode(arg) if isinstance(arg, (str, bytes, os.PathLike)) else str(arg)
                        for arg in args)
    elif isinstance(args, (str, bytes, os.PathLike)):
        text = os.fsdecode(args)
    else:
        text = "?"
    return repr(shorten(text, 200))


class Sandbox:
    """Installs the audit hook and records what it blocked in :attr:`attempts`."""

    def __init__(self, job_file: str) -> None:
        self.job_file = job_file
        self.attempts: list[Attempt] = []
        self._handlers: dict[str, Callable[[tuple[Any, ...]], None]] = {
            "socket.connect": self._connect,
            "socket.sendto": self._sendto,
            "socket.sendmsg": self._sendto,
            "socket.bind": self._bind,
            "socket.getaddrinfo": self._getaddrinfo,
            "socket.gethostbyname": self._lookup_name,
            "socket.gethostbyaddr": self._lookup_address,
            "socket.getnameinfo": self._lookup_address,
            "subprocess.Popen": self._popen,
            "os.system": self._system,
            "os.exec": self._exec,
            "os.spawn": self._spawn,
            "os.posix_spawn": self._posix_spawn,
            "os.fork": self._fork,
            "os.forkpty": self._fork,
        }

    def install(self) -> None:
        handlers = self._handlers

        def audit(event: str, args: tuple[Any, ...]) -> None:
            handler = handlers.get(event)
            if handler is not None:
                handler(args)

        def connect_ex(sock: socket.socket, address: object) -> int:
            self._record(f"connect to {_address(address)}")
            return errno.ECONNREFUSED  # what a refused connection returns

        sys.addaudithook(audit)
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]

    def take(self) -> list[Attempt]:
        """The attempts recorded since the last call."""
        attempts, self.attempts = self.attempts, []
        return attempts

    # -- recording -------------------------------------------------------------------------
    def _record(self, what: str) -> None:
        self.attempts.append(Attempt(what, self.job_line()))

    def job_line(self) -> int | None:
        """The innermost line of the job module on the current stack."""
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.job_file:
                return frame.f_lineno
            frame = frame.f_back  # type: ignore[assignment]
        return None

    # -- network ---------------------------------------------------------------------------
    def _connect(self, args: tuple[Any, ...]) -> None:
        what = f"connect to {_address(args[1])}"
        self._record(what)
        raise BlockedConnectionError(errno.ECONNREFUSED, f"{what} {_SUFFIX}")

    def _sendto(self, args: tuple[Any, ...]) -> None:
        if len(args) > 1 and args[1] is not None:
            what = f"send a datagram to {_address(args[1])}"
            self._record(what)
            raise BlockedConnectionError(errno.ECONNREFUSED, f"{what} {_SUFFIX}")

    def _bind(self, args: tuple[Any, ...]) -> None:
        sock = args[0]
        if getattr(sock, "family", None) == getattr(socket, "AF_UNIX", None):
            return  # a local socket file: nothing leaves the machine
        what = f"open the port {_address(args[1])}"
        self._record(what)
        raise BlockedProcessError(errno.EACCES, f"{what} {_SUFFIX}")

    def _getaddrinfo(self, args: tuple[Any, ...]) -> None:
        if not _is_numeric_host(args[0]):
            self._lookup_name(args)

    def _lookup_name(self, args: tuple[Any, ...]) -> None:
        host = args[0].decode(errors="replace") if isinstance(args[0], bytes) else args[0]
        what = f"resolve the host name {shorten(str(host))!r}"
        self._record(what)
        raise BlockedLookupError(socket.EAI_NONAME, f"{what} {_SUFFIX}")

    def _lookup_address(self, args: tuple[Any, ...]) -> None:
        what = f"look up the name of {_address(args[0]) if isinstance(args[0], tuple) else args[0]}"
        self._record(what)
        raise BlockedLookupError(socket.EAI_NONAME, f"{what} {_SUFFIX}")

    # -- processes -------------------------------------------------------------------------
    def _process(self, what: str) -> None:
        self._record(what)
        raise BlockedProcessError(errno.EPERM, f"{what}: {_SUFFIX}")

    def _popen(self, args: tuple[Any, ...]) -> None:
        self._process(f"start the process {_command(args[1] if args[1] is not None else args[0])}")

    def _system(self, args: tuple[Any, ...]) -> None:
        self._process(f"run the shell command {_command(args[0])}")

    def _exec(self, args: tuple[Any, ...]) -> None:
        self._process(f"replace the process with {_command(args[1] or args[0])}")

    def _spawn(self, args: tuple[Any, ...]) -> None:
        self._process(f"start the process {_command(args[2] or args[1])}")

    def _posix_spawn(self, args: tuple[Any, ...]) -> None:
        self._process(f"start the process {_command(args[1] or args[0])}")

    def _fork(self, args: tuple[Any, ...]) -> None:
        self._process("fork the process")


# -- the network namespace -------------------------------------------------------------------
_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000


def enter_empty_network_namespace() -> bool:
    """Move this (single-threaded) process into a new network namespace with no interface up.

    As root, a network namespace alone; otherwise a user namespace too, mapping the same uid and
    gid so files keep their owners. ``False`` when the system does not allow it (no user
    namespaces, seccomp, not Linux): the audit hook is then the only layer.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        uid, gid = os.geteuid(), os.getegid()
        if uid == 0 and libc.unshare(_CLONE_NEWNET) == 0:
            return True
        if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) != 0:
            return False
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                           ("gid_map", f"{gid} {gid} 1")):
            try:
                with open(f"/proc/self/{name}", "w") as proc_file:
                    proc_file.write(text)
            except OSError:
                pass  # unmapped ids read as "nobody"; the namespace holds all the same
        return True
    except (OSError, AttributeError):
        return False
