"""Soak: 100,000+ random, mutated and hostile requests over many connections, both protocols.

One real server takes, for at most :data:`SOAK_SECONDS`, the frames of
:mod:`tests.harness.fuzz` from :data:`WORKERS` concurrent client threads.  Each
worker runs sessions one after another on fresh connections (so clients keep
reconnecting after the server closes them on framing errors):

* ``normal``: a pipelined batch of frames, sent at once or in a few pieces.
  Half of the batches are all valid and in one protocol: exactly one reply per
  request must come back (counted with the protocol's reply parser).  The
  others mix mutated and garbage frames in, or both protocols.  Then a
  half-close, and everything the server still sends is read until it closes
  (or resets: ssdbpy resets, as SSDB does, once the peer has acknowledged
  every reply);
* ``trickle``: a few frames sent 1 to 16 bytes at a time;
* ``abort``: frames sent, then the connection closed (half the time with a
  reset) without reading anything;
* ``noread``: requests with large replies that are never read;
* ``idle``: a few connections hold half a request for the whole run.

Worker 0 also sends ``*2000000000`` a few times (:data:`HUGE_ARRAYS`).

It asserts that the server never exits, that a pinger on its own connection
is always answered within :data:`PING_LIMIT`, that every session ends (the
server closes after a half-close within :data:`DRAIN_TIMEOUT`), that the log
holds no traceback, and that the RSS ends within :data:`RSS_GROWTH_MB` of the
RSS measured after a warm-up.  The seed is printed (set ``SOAK_SEED`` to
replay one) with the counts of what was sent.
"""

from __future__ import annotations

import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import hiredis
import pytest

from ssdbpy.client import ReplyReader
from tests.harness.attack import Pinger, rss_mb, wait_rss_below
from tests.harness.fuzz import RESP, RESP_HUGE_ARRAY, SSDB, Fuzzer

WORKERS = 32
TARGET_REQUESTS = 150_000
WARMUP_REQUESTS = 20_000
SOAK_SECONDS = 100.0
HUGE_ARRAYS = 3
IDLE_CONNECTIONS = 6
PING_LIMIT = 1.0
DRAIN_TIMEOUT = 20.0
RSS_GROWTH_MB = 50.0

SESSIONS = [("normal", 0.78), ("trickle", 0.07), ("abort", 0.12), ("noread", 0.03)]


@dataclass
class Stats:
    requests: int = 0
    connections: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    resets: int = 0
    replies_checked: int = 0
    frames: Counter = field(default_factory=Counter)
    sessions: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def add(self, other: "Stats") -> None:
        self.requests += other.requests
        self.connections += other.connections
        self.bytes_sent += other.bytes_sent
        self.bytes_received += other.bytes_received
        self.resets += other.resets
        self.replies_checked += other.replies_checked
        self.frames.update(other.frames)
        self.sessions.update(other.sessions)
        self.problems += other.problems
        self.errors += other.errors

    def summary(self) -> str:
        return (f"requests={self.requests} connections={self.connections} bytes_sent={self.bytes_sent} "
                f"bytes_received={self.bytes_received} resets_seen={self.resets} "
                f"replies_counted={self.replies_checked} "
                f"frames={dict(self.frames)} sessions={dict(self.sessions)}")


class Worker:
    def __init__(self, port: int, seed: int, index: int, quota: int, deadline: float, huge_arrays: int = 0) -> None:
        self.port = port
        self.rng = random.Random(seed * 1000 + index)
        self.fuzz = Fuzzer(self.rng)
        self.index = index
        self.quota = quota
        self.deadline = deadline
        self.huge_arrays = huge_arrays
        self.stats = Stats()

    def run(self) -> None:
        try:
            huge_every = self.quota // (self.huge_arrays + 1) if self.huge_arrays else 0
            next_huge = huge_every
            while self.stats.requests < self.quota and time.monotonic() < self.deadline:
                if huge_every and self.stats.requests >= next_huge and self.huge_arrays:
                    self.huge_arrays -= 1
                    next_huge += huge_every
                    self.session_huge_array()
                    continue
                kind = self.rng.choices([s for s, _ in SESSIONS], [w for _, w in SESSIONS])[0]
                getattr(self, "session_" + kind)()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.stats.errors.append(f"worker {self.index}: {exc!r}")

    # --- helpers ---------------------------------------------------------------------
    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=DRAIN_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.stats.connections += 1
        return s

    def _frames(self, n: int, dirty: bool, proto_mode: str | None = None) -> bytes:
        rng = self.rng
        proto_mode = proto_mode or rng.choice([SSDB, RESP, SSDB, RESP, "mixed"])
        out = []
        for _ in range(n):
            proto = rng.choice([SSDB, RESP]) if proto_mode == "mixed" else proto_mode
            kind, frame = self.fuzz.frame(proto, 0.12 if dirty else 0.0, 0.05 if dirty else 0.0)
            self.stats.frames[kind] += 1
            out.append(frame)
        self.stats.requests += n
        return b"".join(out)

    def _send(self, s: socket.socket, data: bytes, pieces: int = 1) -> bool:
        """Send ``data`` in ``pieces``; False when the server closed the connection meanwhile."""
        try:
            if pieces <= 1:
                s.sendall(data)
            else:
                cuts = sorted(self.rng.randrange(len(data) + 1) for _ in range(pieces - 1))
                for a, b in zip([0, *cuts], [*cuts, len(data)]):
                    s.sendall(data[a:b])
            self.stats.bytes_sent += len(data)
            return True
        except OSError:
            self.stats.resets += 1
            return False

    def _drain(self, s: socket.socket, what: str, sample: bytes) -> None:
        """Half-close, then read until the server closes; a server that never closes is a hang."""
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        t0 = time.monotonic()
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    return
                self.stats.bytes_received += len(chunk)
        except TimeoutError:
            self.stats.problems.append(f"{what}: no close {time.monotonic() - t0:.1f}s after a half-close; "
                                    f"sent {len(sample)} bytes starting {sample[:300]!r}")
        except OSError:
            self.stats.resets += 1
        finally:
            s.close()

    # --- sessions --------------------------------------------------------------------
    def session_normal(self) -> None:
        n = self.rng.randint(10, 120)
        pieces = self.rng.choice([1, 1, 2, 4])
        if self.rng.random() < 0.5:
            self.stats.sessions["normal-dirty"] += 1
            data = self._frames(n, True)
            s = self._connect()
            self._send(s, data, pieces)
            self._drain(s, "normal", data)
            return
        self.stats.sessions["normal-clean"] += 1
        proto = self.rng.choice([SSDB, RESP])
        data = self._frames(n, False, proto)
        s = self._connect()
        if self._send(s, data, pieces):
            self._count_replies(s, proto, n, data)
        self._drain(s, "normal", data)

    def _count_replies(self, s: socket.socket, proto: str, n: int, sample: bytes) -> None:
        """Read replies until ``n`` have come; fewer (a close, a timeout) is a failure."""
        if proto == SSDB:
            reader = ReplyReader()
            done = lambda: reader.next() is not None  # noqa: E731
        else:
            reader = hiredis.Reader()
            done = lambda: reader.gets() is not False  # noqa: E731
        got = 0
        t0 = time.monotonic()
        try:
            while got < n:
                while got < n and done():
                    got += 1
                if got == n:
                    break
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                self.stats.bytes_received += len(chunk)
                reader.feed(chunk)
        except OSError as exc:
            self.stats.problems.append(f"{proto} batch: {exc!r} after {time.monotonic() - t0:.1f}s")
        self.stats.replies_checked += got
        if got != n:
            self.stats.problems.append(f"{proto} batch of {n} valid requests: {got} replies; "
                                    f"sent {len(sample)} bytes starting {sample[:300]!r}")

    def session_trickle(self) -> None:
        self.stats.sessions["trickle"] += 1
        data = self._frames(self.rng.randint(2, 10), self.rng.random() < 0.5)
        s = self._connect()
        i = 0
        try:
            while i < len(data):
                step = self.rng.randint(1, 16)
                s.sendall(data[i : i + step])
                self.stats.bytes_sent += len(data[i : i + step])
                i += step
                if self.rng.random() < 0.1:
                    time.sleep(0.002)
        except OSError:
            self.stats.resets += 1
        self._drain(s, "trickle", data)

    def session_abort(self) -> None:
        self.stats.sessions["abort"] += 1
        data = self._frames(self.rng.randint(5, 80), self.rng.random() < 0.5)
        s = self._connect()
        self._send(s, data)
        if self.rng.random() < 0.5:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def session_noread(self) -> None:
        """Ask for 0.5 to 2 MB of replies, never read them, close."""
        self.stats.sessions["noread"] += 1
        n = self.rng.randint(8, 32)
        enc = self.fuzz.encode
        proto = self.rng.choice([SSDB, RESP])
        data = b"".join(enc(proto, [b"get", b"soak-big"]) for _ in range(n))
        self.stats.requests += n
        self.stats.frames["valid"] += n
        s = self._connect()
        self._send(s, data)
        time.sleep(0.05)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def session_huge_array(self) -> None:
        """``*2000000000``, then a valid request, half-close, read to the end."""
        self.stats.sessions["huge-array"] += 1
        data = RESP_HUGE_ARRAY + self.fuzz.valid(RESP)
        self.stats.requests += 1
        self.stats.frames["garbage"] += 1
        s = self._connect()
        self._send(s, data)
        self._drain(s, "huge array", data)


def _idle_connections(port: int, rng: random.Random, stats: Stats) -> list[socket.socket]:
    partial = [b"5\nhel", b"3\nget\n", b"*3\r\n$3\r\nset\r\n", b"*2\r\n$3\r\nget\r\n$100\r\nabc", b"2147483647\nx", b"*"]
    out = []
    for _ in range(IDLE_CONNECTIONS):
        s = socket.create_connection(("127.0.0.1", port), timeout=DRAIN_TIMEOUT)
        s.sendall(rng.choice(partial))
        out.append(s)
        stats.connections += 1
        stats.requests += 1
        stats.frames["partial"] += 1
    return out


def _run_workers(port: int, seed: int, total: int, seconds: float, huge_arrays: int) -> tuple[Stats, float]:
    deadline = time.monotonic() + seconds
    workers = [Worker(port, seed, i, total // WORKERS + 1, deadline, huge_arrays if i == 0 else 0)
               for i in range(WORKERS)]
    threads = [threading.Thread(target=w.run, name=f"soak-{w.index}", daemon=True) for w in workers]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + DRAIN_TIMEOUT + 30)
    stats = Stats()
    for w in workers:
        stats.add(w.stats)
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        stats.errors.append(f"threads still running: {stuck}")
    return stats, time.monotonic() - t0


def _total_calls(server) -> int:
    with server.client() as c:
        info = c("info")
    return int(info[info.index(b"total_calls") + 1])


@pytest.mark.timeout(300)
def test_soak(server, record_property):
    seed = int(os.environ.get("SOAK_SEED") or random.SystemRandom().randrange(1 << 32))
    print(f"\nsoak seed: {seed} (replay with SOAK_SEED={seed})")
    with server.client() as c:
        assert c("set", "soak-big", b"x" * 65536) == [b"ok", b"1"]

    # warm-up: every kind of session, then the baseline RSS
    warm, _ = _run_workers(server.port, seed + 1, WARMUP_REQUESTS, 30.0, 0)
    assert not warm.errors and not warm.problems, (warm.errors + warm.problems)[:5]
    time.sleep(1.0)
    start_rss = rss_mb(server.pid)
    calls_before = _total_calls(server)

    idle_stats = Stats()
    idle = _idle_connections(server.port, random.Random(seed), idle_stats)
    with Pinger(server.port, interval=0.02) as pinger:
        stats, elapsed = _run_workers(server.port, seed, TARGET_REQUESTS, SOAK_SECONDS, HUGE_ARRAYS)
    for s in idle:
        s.close()
    stats.add(idle_stats)

    end_rss = wait_rss_below(server.pid, start_rss + RSS_GROWTH_MB, timeout=20.0)
    log = server.log_path.read_text(errors="replace")
    stderr = (server.root / "stderr.txt").read_text(errors="replace")
    pings = sorted(pinger.times)
    print(f"soak: {stats.summary()}")
    print(f"soak: {elapsed:.1f}s, {stats.requests / elapsed:.0f} requests/s; "
          f"pings answered={len(pings)} worst={pinger.worst * 1000:.0f}ms "
          f"p99={pings[int(len(pings) * 0.99)] * 1000 if pings else 0:.0f}ms failures={len(pinger.failures)}; "
          f"rss start={start_rss:.1f}MB end={end_rss:.1f}MB")

    for name in ("requests", "connections", "bytes_sent", "bytes_received", "replies_checked"):
        record_property(f"soak_{name}", getattr(stats, name))
    record_property("soak_seed", seed)
    assert server.running, f"server exited with {server.proc.returncode}"
    print(f"soak: the server executed {_total_calls(server) - calls_before} commands")
    with server.client() as c:
        assert c("set", "soak-after", "v") == [b"ok", b"1"] and c("get", "soak-after") == [b"ok", b"v"]
    assert not stats.errors, stats.errors[:5]
    assert not stats.problems, stats.problems[:5]
    assert "Traceback" not in log and "Traceback" not in stderr, "traceback in the server log"
    pinger.check(PING_LIMIT)
    assert end_rss <= start_rss + RSS_GROWTH_MB, f"RSS grew from {start_rss:.1f} MB to {end_rss:.1f} MB"
    assert stats.requests >= 100_000, f"only {stats.requests} requests sent in {SOAK_SECONDS:.0f}s"
