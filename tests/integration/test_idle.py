"""An idle server sleeps: no polling timers (ssdbpy.server.background), only the once-a-second ops/s sample."""

from __future__ import annotations

import os
import time

import pytest

from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(60)


def context_switches(pid: int) -> int:
    n = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
        except FileNotFoundError:  # a thread that just ended
            pass
    return n


def wakeups_per_second(pid: int, seconds: float = 3.0) -> float:
    c0, t0 = context_switches(pid), time.monotonic()
    time.sleep(seconds)
    return (context_switches(pid) - c0) / (time.monotonic() - t0)


def test_idle_server_wakes_at_most_once_a_second(server):
    with server.client() as c:
        c.request(b"setx", b"later", b"v", 3600)  # a TTL far away: no wakeup until then
        c.request(b"set", b"k", b"v")
    time.sleep(0.3)  # the re-read of the TTL index after the last commit
    # was ~28/s (a 50 ms binlog trim poll and a 100 ms expiry poll)
    assert wakeups_per_second(server.pid) < 3.0


def test_ttls_still_expire_on_time(server):
    with server.client() as c:
        c.request(b"setx", b"soon", b"v", 1)
        t0 = time.monotonic()
        wait_for(lambda: c.request(b"exists", b"soon") == [b"ok", b"0"], timeout=5, interval=0.05,
                 what="the key to expire")
        assert 0.5 < time.monotonic() - t0 < 2.0
