"""``WAIT numreplicas timeout`` waits for the writes of the calling connection only
(docs/compat.md, "Redis commands for Sentinel").

The slave is attached in ssdb.conf (an identified link: it acknowledges) and the master's
stream is throttled (``sync_speed: 1`` MB/s), so a connection writing big values keeps the
slave seconds behind while another connection writes once and WAITs.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import redis

from tests.harness.replication import master_sessions
from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(120)

BIG = "x" * 10_000


def conn(node) -> redis.Redis:
    """One connection (WAIT is about the writes of its connection)."""
    return redis.Redis(port=node.port, socket_timeout=30, single_connection_client=True)


def acked(master) -> tuple[int, int]:
    """(the slave's acked_seq, the master's max_seq)."""
    with master.client() as c:
        (s,) = master_sessions(c)
        info = c("info")
    binlogs = info[info.index(b"binlogs") + 1].decode()
    max_seq = int(binlogs.split("max_seq  :")[1].split()[0])
    return int(s["acked_seq"]), max_seq


class BigWriter(threading.Thread):
    """Writes 10 KB values on its own connection, about 3 MB/s, until stopped."""

    def __init__(self, node) -> None:
        super().__init__(daemon=True)
        self.r = conn(node)
        self.stop_ = threading.Event()
        self.n = 0

    def run(self) -> None:
        while not self.stop_.is_set():
            self.r.set(f"big{self.n}", BIG)
            self.n += 1
            time.sleep(0.003)

    def finish(self) -> None:
        self.stop_.set()
        self.join(10)
        assert not self.is_alive()


def burst(r: redis.Redis, tag: str, n: int = 100) -> None:
    """``n`` 10 KB writes on ``r``'s one connection (a pipeline would take another from the pool):
    at 1 MB/s at least n / 100 s of stream, whatever the CPU load."""
    for i in range(n):
        assert r.set(f"{tag}{i}", BIG)


def timed_wait(r: redis.Redis, n: int, timeout_ms: int) -> tuple[int, float]:
    t0 = time.monotonic()
    got = r.execute_command("WAIT", n, timeout_ms)
    return got, time.monotonic() - t0


def test_wait_covers_the_writes_of_its_connection(server_factory):
    m = server_factory("m", replication={"sync_speed": 1})
    s = server_factory("s", slaveof=[m.slaveof("sync", "m")])
    wait_for(lambda: acked(m)[0] == acked(m)[1], timeout=20, interval=0.1, what="the slave to acknowledge")
    one, idle = conn(m), conn(m)
    assert one.set("one", "1")
    assert timed_wait(one, 1, 5000)[0] == 1

    writer = BigWriter(m)
    writer.start()
    try:
        wait_for(lambda: acked(m)[1] - acked(m)[0] > 150, timeout=20, interval=0.1,
                 what="the writer to put the slave 1.5 MB behind")
        # no write since the last WAIT on this connection: answered at once, although the slave is behind
        got, took = timed_wait(one, 1, 10000)
        assert got == 1 and took < 0.5, (got, took)
        # a connection that wrote nothing: the slaves that acknowledged anything, at once (Redis too)
        got, took = timed_wait(idle, 1, 10000)
        assert got == 1 and took < 0.5, (got, took)
        # one write now, behind the writer's backlog: WAIT returns once the slave has it, while the
        # writer's later writes are still on their way
        assert one.set("one", "2")
        burst(conn(m), "after")  # 1 MB more behind it: still on its way when the slave has "one"
        got, took = timed_wait(one, 1, 30000)
        seq, max_seq = acked(m)
        assert got == 1, (got, took)
        assert max_seq - seq > 20, (seq, max_seq, took)  # the slave is still behind the writer
        print(f"\nWAIT after one write behind a 1 MB/s link: {took:.2f} s; the slave then "
              f"{max_seq - seq} records behind the writer")
    finally:
        writer.finish()
    # the writer's own connection waits for its own last write: not there yet
    burst(writer.r, "last")
    got, took = timed_wait(writer.r, 1, 300)
    assert got == 0 and took >= 0.29, (got, took)
    got, took = timed_wait(writer.r, 1, 60000)
    assert got == 1
    seq, max_seq = acked(m)
    assert seq == max_seq

    # a paused slave acknowledges nothing new: a new write is not confirmed; older ones still are
    os.kill(s.pid, signal.SIGSTOP)
    try:
        assert timed_wait(idle, 1, 5000)[0] == 1
        assert one.set("one", "3")
        got, took = timed_wait(one, 1, 700)
        assert got == 0 and took >= 0.69, (got, took)
    finally:
        os.kill(s.pid, signal.SIGCONT)
    got, took = timed_wait(one, 1, 10000)
    assert got == 1 and took < 5, (got, took)
    assert redis.Redis(port=s.port).get("one") == b"3"
