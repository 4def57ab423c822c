"""Tools for the hardening tests: a pinger that measures how long other clients wait, and RSS.

``Pinger`` runs in its own process: it sends SSDB ``ping`` on its own connection every
``interval`` seconds and records each round trip, so a test can assert that
whatever another client does, the server keeps answering everybody else
(``worst`` is the longest wait seen, including a ping still unanswered when the
pinger stops).  ``rss_mb(pid)`` reads the resident set size from ``/proc``;
``closed_by_server`` tells whether the server dropped a connection.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

def closed_by_server(sock: socket.socket, timeout: float = 5.0) -> bool:
    """Read until the server closes ``sock`` (or resets it); False if it is still open after ``timeout`` s."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def rss_mb(pid: int) -> float:
    """Resident set size of process ``pid`` in MiB (``VmRSS`` of /proc/PID/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for pid {pid}")


def wait_rss_below(pid: int, limit_mb: float, timeout: float = 10.0) -> float:
    """Wait until the RSS of ``pid`` is at most ``limit_mb``; return the last reading (checked by the caller)."""
    deadline = time.monotonic() + timeout
    v = rss_mb(pid)
    while v > limit_mb and time.monotonic() < deadline:
        time.sleep(0.1)
        v = rss_mb(pid)
    return v


_PINGER = r"""
import json, os, select, socket, sys, time
port, interval, timeout = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
try:  # the instrument should not wait for a core behind the load it measures (root only)
    os.nice(-5)
except OSError:
    pass
PING, PONG = b"4\nping\n\n", b"2\nok\n\n"
times, failures = [], []

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s

sock = connect()
print("ready", flush=True)
pending = None
while True:
    t0 = time.monotonic()
    pending = t0
    try:
        sock.sendall(PING)
        got = b""
        while not got.endswith(b"\n\n"):
            chunk = sock.recv(64)
            if not chunk:
                raise ConnectionError("server closed the pinger's connection")
            got += chunk
        if got != PONG:
            raise AssertionError("unexpected ping reply %r" % got)
        times.append(time.monotonic() - t0)
    except (OSError, ConnectionError, AssertionError) as exc:
        failures.append("%r after %.3fs" % (exc, time.monotonic() - t0))
        try:
            sock.close()
            sock = connect()
        except OSError as exc2:
            failures.append("reconnect: %r" % (exc2,))
            time.sleep(0.1)
    pending = None
    if select.select([sys.stdin], [], [], interval)[0]:
        break
print(json.dumps({"times": times, "failures": failures}), flush=True)
"""


class Pinger:
    """Pings the server every ``interval`` s from its own process; ``worst`` is the longest round trip (s).

    A separate process, so that nothing the test itself does (building a
    100 MB request, holding the GIL) counts as the server's delay.  Use as a
    context manager around the attack.  A ping that gets no answer within
    ``timeout`` is a failure (``failures``), and the connection is made afresh.
    """

    def __init__(self, port: int, interval: float = 0.01, timeout: float = 10.0) -> None:
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.times: list[float] = []
        self.failures: list[str] = []
        self._proc: subprocess.Popen | None = None
        self._t0 = 0.0

    def __enter__(self) -> "Pinger":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _PINGER, str(self.port), str(self.interval), str(self.timeout)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if line.strip() != "ready":
            self._proc.kill()
            raise RuntimeError(f"pinger did not start: {line!r}")
        self._t0 = time.monotonic()
        time.sleep(3 * self.interval)  # a few answered pings before the attack starts

    def stop(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        try:
            out, _ = proc.communicate("stop\n", timeout=self.timeout + 10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            self.failures.append(f"a ping was still unanswered after {self.timeout + 10:.0f} s")
            return
        result = json.loads(out.strip().splitlines()[-1])
        self.times += result["times"]
        self.failures += result["failures"]

    @property
    def worst(self) -> float:
        return max(self.times) if self.times else float("inf")

    def check(self, limit: float, what: str = "") -> None:
        """Assert no failure and every ping answered within ``limit`` seconds (``what``: the attack)."""
        at = f" during {what}" if what else ""
        assert not self.failures, self.failures[:5]
        assert len(self.times) >= 2, f"only {len(self.times)} pings answered{at}"
        slow = sorted(t for t in self.times if t > limit)
        assert self.worst <= limit, (f"a ping waited {self.worst * 1000:.0f} ms{at} (limit {limit * 1000:.0f} ms; "
                                     f"{len(slow)} of {len(self.times)} pings over it)")
