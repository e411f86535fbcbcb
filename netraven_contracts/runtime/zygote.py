"""The dry run's process server: a fresh, single-threaded Python process that forks job processes.

Why not ``multiprocessing``: ``fork`` from the caller copies a process that may run threads (a
pytest-xdist worker, the NetRaven worker's thread pool), which can deadlock the child on a lock
held by a thread that does not exist there; ``spawn`` and ``forkserver`` re-import the caller's
``__main__`` in every child or in a process-wide server shared with the caller's own code, and
``spawn`` pays Python's start-up and typeguard's import (~0.15 s here) for every module. This
server is started once per caller process (first dry run), imports everything the job process
needs, and forks one *monitor* per dry run, which forks the *job process* and reports how it
ended. See ``docs/benchmarks.md`` for the measured costs of each start method.

Protocol: the caller sends a request (JSON) and two file descriptors over a ``SOCK_SEQPACKET``
socket: the write end of the result pipe, and the read end of a *lifeline* pipe. The job process
writes frames (:func:`netraven_contracts.runtime.child.send`) to the result pipe; the monitor
kills it with ``SIGKILL`` when the lifeline closes (the caller timed out, finished or died), or
when the request's overall budget runs out, then writes the ``exit`` frame and leaves.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Final

#: Bytes of the job's output (the end) the monitor sends with the exit frame (faulthandler dump).
TAIL: Final = 16384
_MAX_REQUEST: Final = 1 << 22


class ZygoteError(RuntimeError):
    """The process server could not be started or has gone away."""


# -- caller side -------------------------------------------------------------------------------
class Zygote:
    """A handle on one running process server (see :func:`get`)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c",
                 "import sys; from netraven_contracts.runtime.zygote import serve; "
                 "serve(int(sys.argv[1]))", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in the terminal reaches the caller, not the jobs
                env=env, close_fds=True,
            )
        except OSError as exc:
            ours.close()
            raise ZygoteError(f"cannot start the dry-run process server ({sys.executable}): {exc}") from exc
        finally:
            theirs.close()
        self.socket = ours
        self.owner = os.getpid()
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return self.owner == os.getpid() and self.process.poll() is None

    def submit(self, request: dict[str, Any], result_w: int, lifeline_r: int) -> None:
        data = json.dumps(request).encode()
        if len(data) > _MAX_REQUEST:
            raise ZygoteError("dry-run request too large")
        with self.lock:
            try:
                socket.send_fds(self.socket, [data], [result_w, lifeline_r])
            except OSError as exc:
                raise ZygoteError(f"the dry-run process server has gone away: {exc}") from exc

    def close(self) -> None:
        if self.owner != os.getpid():
            return  # a forked copy of the caller: the server belongs to the parent
        self.socket.close()
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_current: Zygote | None = None
_current_lock = threading.Lock()


def get() -> Zygote:
    """The caller process's server, started on first use (again after a fork of the caller, or
    when it died)."""
    global _current
    with _current_lock:
        if _current is None or not _current.alive():
            if _current is not None and _current.owner == os.getpid():
                _current.close()
            _current = Zygote()
            atexit.register(_current.close)
        return _current


# -- server side -------------------------------------------------------------------------------
def serve(control_fd: int) -> None:
    """Main loop of the server process: one monitor per request, until the caller closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # monitors are reaped by the kernel
    # The preload: every job process starts with these imported. SQLAlchemy too, as NetRaven's
    # jobs use it and the database-fails scenario raises its OperationalError (~0.4 s to import).
    from . import child  # noqa: F401
    try:
        import sqlalchemy.exc  # noqa: F401
    except ImportError:
        pass

    control = socket.socket(fileno=control_fd)
    while True:
        try:
            data, fds, _flags, _address = socket.recv_fds(control, _MAX_REQUEST, 2)
        except InterruptedError:
            continue
        except OSError:
            break
        if not data:
            break  # the caller has gone
        if len(fds) != 2:
            for fd in fds:
                os.close(fd)
            continue
        if os.fork() == 0:
            control.close()
            try:
                _monitor(json.loads(data), fds[0], fds[1])
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)


def _monitor(request: dict[str, Any], result_w: int, lifeline_r: int) -> None:
    from . import child

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    handle, name = tempfile.mkstemp(prefix="netraven-dry-run-", suffix=".out")
    output_fd = os.open(name, os.O_RDWR | os.O_APPEND)
    os.close(handle)
    os.unlink(name)
    pid = os.fork()
    if pid == 0:
        os.close(lifeline_r)
        try:
            child.main(request, result_w, output_fd)
        except BaseException as exc:  # noqa: B902 - our own failure: tell the caller
            try:
                child.send(result_w, "internal-error", f"{type(exc).__name__}: {exc}")
            finally:
                os._exit(70)
        os._exit(0)

    deadline = time.monotonic() + request["budget"]
    try:
        waitable = os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: poll
        waitable = None
    returncode: int | None = None
    while returncode is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            os.kill(pid, signal.SIGKILL)
        watched = [lifeline_r] + ([waitable] if waitable is not None else [])
        ready, _, _ = select.select(watched, [], [], max(0.0, min(remaining, 0.05 if waitable is None else remaining)))
        if lifeline_r in ready:
            try:
                os.kill(pid, signal.SIGKILL)  # the caller is done with it, or gone
            except ProcessLookupError:
                pass
        done, status = os.waitpid(pid, 0 if lifeline_r in ready or remaining <= 0 else os.WNOHANG)
        if done:
            returncode = os.waitstatus_to_exitcode(status)
    size = os.fstat(output_fd).st_size
    tail = os.pread(output_fd, min(size, TAIL), max(0, size - TAIL)).decode("utf-8", errors="replace")
    try:
        child.send(result_w, "exit", {"returncode": returncode, "output": tail})
    except OSError:
        pass  # the caller stopped reading
