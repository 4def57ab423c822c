"""Tools for the hardening tests: a pinger that measures how long other clients wait, and RSS.

``Pinger`` runs on a thread: it sends SSDB ``ping`` on its own connection every
``interval`` seconds and records each round trip, so a test can assert that
whatever another client does, the server keeps answering everybody else
(``worst`` is the longest wait seen, including a ping still unanswered when the
pinger stops).  ``rss_mb(pid)`` reads the resident set size from ``/proc``.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

PING = b"4\nping\n\n"
PONG = b"2\nok\n\n"


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


class Pinger:
    """Pings the server every ``interval`` s from a thread; ``worst`` is the longest round trip (s).

    Use as a context manager around the attack.  A ping that gets no answer
    within ``timeout`` is a failure (``failures``), and the connection is made
    afresh.
    """

    def __init__(self, port: int, interval: float = 0.01, timeout: float = 10.0) -> None:
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.times: list[float] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pinger", daemon=True)
        self._pending_since: float | None = None

    def __enter__(self) -> "Pinger":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self._sock = self._connect()
        self._thread.start()
        # one answered ping before the attack starts
        deadline = time.monotonic() + 10
        while not self.times and not self.failures and time.monotonic() < deadline:
            time.sleep(0.005)

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            self._pending_since = t0
            try:
                self._sock.sendall(PING)
                got = b""
                while not got.endswith(b"\n\n"):
                    chunk = self._sock.recv(64)
                    if not chunk:
                        raise ConnectionError("server closed the pinger's connection")
                    got += chunk
                if got != PONG:
                    raise AssertionError(f"unexpected ping reply {got!r}")
                self.times.append(time.monotonic() - t0)
            except (OSError, ConnectionError, AssertionError) as exc:
                self.failures.append(f"{exc!r} after {time.monotonic() - t0:.3f}s")
                try:
                    self._sock.close()
                    self._sock = self._connect()
                except OSError as exc2:
                    self.failures.append(f"reconnect: {exc2!r}")
                    time.sleep(0.1)
            finally:
                self._pending_since = None
            self._stop.wait(self.interval)

    def stop(self) -> None:
        pending = self._pending_since
        if pending is not None:
            self.times.append(time.monotonic() - pending)
        self._stop.set()
        self._thread.join(self.timeout + 5)
        try:
            self._sock.close()
        except OSError:
            pass

    @property
    def worst(self) -> float:
        return max(self.times) if self.times else float("inf")

    def check(self, limit: float) -> None:
        """Assert no failure and every ping answered within ``limit`` seconds."""
        assert not self.failures, self.failures[:5]
        assert len(self.times) >= 2, f"only {len(self.times)} pings answered"
        assert self.worst <= limit, f"a ping waited {self.worst * 1000:.0f} ms (limit {limit * 1000:.0f} ms)"
