"""Process helpers for ssdb-server: pidfile handling, daemonizing, ``-s stop``.

No gevent here: :func:`daemonize` must run before any hub or thread exists.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time
from typing import TextIO

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


def stop_running(
    pidfile: str | None,
    *,
    poll: float = 0.1,
    timeout: float | None = None,
    err: TextIO | None = None,
) -> int:
    """``ssdb-server -s stop``: SIGTERM the process named in ``pidfile`` and wait.

    Returns an exit status: 1 if the pidfile cannot be read; 0 once the
    pidfile has disappeared (the server removes it on exit). If the
    process is not (or no longer) running, prints ``process: <pid> not
    running`` (the first case) and deletes the stale pidfile. With a
    ``timeout`` (seconds) that expires, prints a message and returns 1.
    """
    err = err or sys.stderr
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
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError as e:
        print(f"could not stop process {pid}: {e.strerror}", file=err)
        return 1
    deadline = None if timeout is None else time.monotonic() + timeout
    while os.path.exists(pidfile):
        if not is_running(pid):
            # died without cleaning up (crash during shutdown): drop the stale file
            remove_pidfile(pidfile)
            break
        if deadline is not None and time.monotonic() >= deadline:
            print(f"process: {pid} did not stop within {timeout:g} s", file=err)
            return 1
        time.sleep(poll)
    return 0


def daemonize() -> None:
    """Detach: fork (parent exits 0), setsid, fork again, stdio to /dev/null.

    The second fork makes the daemon a non-session-leader, so it can never
    reacquire a controlling terminal. Call before starting any thread or
    gevent hub.
    """
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if devnull > 2:
        os.close(devnull)
