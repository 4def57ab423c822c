"""Process helpers for ssdb-server: pidfile handling, daemonizing, ``-s stop``.

No gevent here: :func:`daemonize` must run before any hub or thread exists.

Beyond SSDB: ``-s stop`` signals only an ssdb-server started with the same
config (checked in ``/proc/<pid>/cmdline``; a pidfile naming a reused pid
would otherwise kill an unrelated process) and gives up after
:data:`STOP_TIMEOUT` seconds; ``-d`` returns only once the server listens,
with the start-up error on stderr and exit status 1 when it failed.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from typing import TextIO

#: seconds ``-s stop`` waits for the server to exit (``$SSDBPY_STOP_TIMEOUT`` overrides)
STOP_TIMEOUT = 30.0
STOP_TIMEOUT_ENV = "SSDBPY_STOP_TIMEOUT"
#: written by a daemon on its stderr pipe once it listens (see :func:`daemonize`)
READY_MARK = b"\0ssdbpy-ready\n"
PROGRAM_MARKS = ("ssdb-server", "ssdbpy")

PIDFILE_EXISTS = (
    "Fatal error!\n"
    "Pidfile {pidfile} already exists!\n"
    "Kill the running process before you run this command,\n"
    "or use '-s restart' option to restart the server.\n"
)


def read_pidfile(path: str) -> int:
    """The pid stored in ``path``; OSError if unreadable, ValueError if not a positive number."""
    with open(path, encoding="ascii", errors="replace") as f:
        text = f.read().strip()
    pid = int(text)
    if pid <= 0:
        raise ValueError(f"invalid pid {text!r}")
    return pid


def write_pidfile(path: str, pid: int | None = None) -> None:
    """Write the decimal pid (no newline). OSError propagates."""
    with open(path, "w", encoding="ascii") as f:
        f.write(str(os.getpid() if pid is None else pid))


def remove_pidfile(path: str | None) -> None:
    """Delete the pidfile if it exists."""
    if not path:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def is_running(pid: int) -> bool:
    """True when a process with this pid exists (even one we may not signal)."""
    try:
        os.kill(pid, 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def stale_pid(path: str) -> int | None:
    """The pid in ``path`` if no such process exists (a pidfile left by a crash), else None.

    An unreadable or malformed pidfile is not called stale: it is left to the operator.
    """
    try:
        pid = read_pidfile(path)
    except (OSError, ValueError):
        return None
    return None if is_running(pid) else pid


def not_our_server(pid: int, conf_path: str, proc: str = "/proc") -> str | None:
    """Why ``pid`` is not an ssdb-server started with ``conf_path``, or None if it is (or if
    ``/proc`` cannot tell: other systems, another user's process)."""
    try:
        with open(f"{proc}/{pid}/cmdline", "rb") as f:
            argv = [os.fsdecode(a) for a in f.read().split(b"\0") if a]
    except OSError:
        return None
    shown = " ".join(argv)
    if not any(mark in arg for arg in argv for mark in PROGRAM_MARKS):
        return f"process {pid} is not ssdb-server ({shown})"
    try:
        cwd = os.readlink(f"{proc}/{pid}/cwd")
    except OSError:
        cwd = None
    name = os.path.basename(conf_path)
    for arg in argv[1:]:
        if cwd is not None:
            candidate = os.path.join(cwd, arg)
            try:
                if os.path.samefile(candidate, conf_path):
                    return None
            except OSError:
                pass
        elif not os.path.isabs(arg) and os.path.basename(arg) == name:
            return None
    return f"process {pid} is an ssdb-server, but not for {conf_path} ({shown})"


def stop_timeout() -> float:
    """:data:`STOP_TIMEOUT`, or ``$SSDBPY_STOP_TIMEOUT`` seconds when set to a positive number."""
    try:
        value = float(os.environ.get(STOP_TIMEOUT_ENV, ""))
    except ValueError:
        return STOP_TIMEOUT
    return value if value > 0 else STOP_TIMEOUT


def stop_running(
    pidfile: str | None,
    *,
    conf_path: str | None = None,
    poll: float = 0.1,
    timeout: float | None = None,
    err: TextIO | None = None,
) -> int:
    """``ssdb-server -s stop``: SIGTERM the process named in ``pidfile`` and wait.

    Returns an exit status: 1 if the pidfile cannot be read; 0 once the
    pidfile has disappeared (the server removes it on exit). If the
    process is not (or no longer) running, prints ``process: <pid> not
    running`` (the first case) and deletes the stale pidfile. With
    ``conf_path``, a process that is not an ssdb-server for that config is
    not signalled (message, 1). When ``timeout`` seconds (default
    :func:`stop_timeout`) pass first, prints a message and returns 1.
    """
    err = err or sys.stderr
    timeout = stop_timeout() if timeout is None else timeout
    if not pidfile:
        print("could not read pidfile: no pidfile configured", file=err)
        return 1
    try:
        pid = read_pidfile(pidfile)
    except (OSError, ValueError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        print(f"could not read pidfile: {pidfile}({reason})", file=err)
        return 1
    if not is_running(pid):
        print(f"process: {pid} not running", file=err)
        remove_pidfile(pidfile)
        return 0
    reason = not_our_server(pid, conf_path) if conf_path else None
    if reason is not None:
        print(f"refusing to stop it: {reason}; if the pidfile {pidfile} is left over "
              "from an earlier run, delete it", file=err)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError as e:
        print(f"could not stop process {pid}: {e.strerror}", file=err)
        return 1
    deadline = time.monotonic() + timeout
    while os.path.exists(pidfile):
        if not is_running(pid):
            # died without cleaning up (crash during shutdown): drop the stale file
            remove_pidfile(pidfile)
            break
        if time.monotonic() >= deadline:
            print(f"process: {pid} did not stop within {timeout:g} s (still running; "
                  f"its log says why, or stop it with kill -9 {pid})", file=err)
            return 1
        time.sleep(poll)
    return 0


def daemonize() -> None:
    """Detach: fork, setsid, fork again, stdin/stdout to /dev/null; the first parent
    waits until the daemon is ready or gone (:func:`_wait_for_daemon`) and exits.

    The daemon's stderr is a pipe to that parent until :func:`notify_ready`,
    so start-up errors (port in use, database locked) reach the operator's
    terminal and the exit status. The second fork makes the daemon a
    non-session-leader, so it can never reacquire a controlling terminal.
    Call before starting any thread or gevent hub.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    r, w = os.pipe()
    if os.fork() > 0:
        os.close(w)
        os._exit(_wait_for_daemon(r))
    os.close(r)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)
    os.dup2(w, 2)
    for fd in (devnull, w):
        if fd > 2:
            os.close(fd)
    global _parent_waiting
    _parent_waiting = True


#: set in a daemon whose first parent still waits on its stderr pipe
_parent_waiting = False


def _wait_for_daemon(r: int) -> int:
    """Copy what the daemon writes on stderr to ours until it is ready (0) or exits (1)."""
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
        if READY_MARK in data:
            os.write(2, data[: data.index(READY_MARK)])
            return 0
    os.write(2, data)
    if not data:
        os.write(2, b"ssdb-server exited during start-up; see its log\n")
    return 1


def notify_ready() -> None:
    """In a daemon: tell the waiting parent that the server listens, then detach stderr.

    Does nothing outside :func:`daemonize`.
    """
    global _parent_waiting
    if not _parent_waiting:
        return
    _parent_waiting = False
    if sys.stderr is not None:
        sys.stderr.flush()
    try:
        os.write(2, READY_MARK)
    except OSError:
        pass
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
