"""A master's ``info`` names every ssdbpy slave and says how far behind each slave is
(docs/compat.md, "info replication blocks of a master").

One ssdbpy master with four slaves: an ssdbpy slave configured in ssdb.conf, one attached
with SSDB's ``slaveof`` command, one with Redis's ``SLAVEOF``, and a real SSDB 1.9.8 slave.
The three ssdbpy slaves identify themselves and acknowledge what they applied; a stopped
one falls behind (in records and in ms) and catches up when it runs again.  For the SSDB
slave the master shows what it sent.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from tests.harness.replication import master_sessions
from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(120)


def sessions(master) -> dict[str, dict[str, str]]:
    """The master's slave blocks by slave id (``""`` for the one slave that has none)."""
    with master.client() as c:
        blocks = master_sessions(c)
    out = {b.get("slave_id", ""): b for b in blocks}
    assert len(out) == len(blocks), blocks
    return out


def all_caught_up(master, n: int) -> bool:
    got = sessions(master)
    return len(got) == n and all(b["status"] == "SYNC" and b["lag_seq"] == "0" and b["lag_ms"] == "0"
                                 for b in got.values())


class Stopped:
    """SIGSTOP a server for the block (SIGCONT on the way out, also when the test fails)."""

    def __init__(self, node) -> None:
        self.node = node

    def __enter__(self):
        os.kill(self.node.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc: object) -> None:
        os.kill(self.node.pid, signal.SIGCONT)


def test_master_info_names_each_slave_and_its_lag(server_factory, reference_factory):
    m = server_factory("m")
    conf = server_factory("conf", slaveof=[m.slaveof("sync", "conf-link")])
    cmd = server_factory("cmd")
    with cmd.client() as c:
        assert c("slaveof", "cmd-link", "127.0.0.1", str(m.port)) == [b"ok"]
    red = server_factory("red")
    assert redis.Redis(port=red.port).execute_command("SLAVEOF", "127.0.0.1", str(m.port))
    ssdb = reference_factory("ssdb", slaveof=[m.slaveof("sync", "ssdb-link")])
    with m.client() as c:
        for i in range(50):
            assert c("set", f"k{i}", "v")[0] == b"ok"
    wait_for(lambda: all_caught_up(m, 4), timeout=30, interval=0.2, what="four slaves, all caught up")

    got = sessions(m)
    red_id = f"127.0.0.1|{m.port}"
    assert sorted(got) == sorted(["", "conf-link", "cmd-link", red_id]), got
    for sid, node in (("conf-link", conf), ("cmd-link", cmd), (red_id, red)):
        b = got[sid]
        assert b["listen"] == f"127.0.0.1:{node.port}", b
        assert list(b) == ["type", "status", "last_seq", "slave_id", "listen", "acked_seq", "lag_seq", "lag_ms",
                           "ack_ms"], b
        assert b["acked_seq"] == b["last_seq"] and 0 <= int(b["ack_ms"]) < 3000, b
    # the SSDB slave: SSDB's four fields, then what was sent (it does not acknowledge)
    assert list(got[""]) == ["type", "status", "last_seq", "lag_seq", "lag_ms"], got[""]

    # Redis's INFO: every ssdbpy slave by its listening port with its acked offset
    info = redis.Redis(port=m.port).info("replication")
    assert info["connected_slaves"] == 4
    reps = {info[f"slave{i}"]["port"]: info[f"slave{i}"] for i in range(4)}
    for node in (conf, cmd, red):
        r = reps[node.port]
        assert r["state"] == "online" and r["offset"] == info["master_repl_offset"] and r["lag"] <= 1, r

    # a stopped slave falls behind; the others do not
    with Stopped(conf):
        t0 = time.monotonic()
        with m.client() as c:
            for i in range(200):
                assert c("set", f"s{i}", "v")[0] == b"ok"
        wait_for(lambda: int(sessions(m)["conf-link"]["lag_ms"]) >= 1500, timeout=10, interval=0.1,
                 what="the stopped slave's lag in ms to grow")
        behind = sessions(m)
        assert behind["conf-link"]["lag_seq"] == "200", behind["conf-link"]
        assert 1500 <= int(behind["conf-link"]["lag_ms"]) <= (time.monotonic() - t0) * 1000 + 100, behind
        assert int(behind["conf-link"]["ack_ms"]) >= 1500, behind
        wait_for(lambda: all(sessions(m)[s]["lag_seq"] == "0" for s in ("", "cmd-link", red_id)), timeout=20,
                 interval=0.1, what="the running slaves to catch up")
        r = next(v for k, v in redis.Redis(port=m.port).info("replication").items()
                 if k.startswith("slave") and isinstance(v, dict) and v["port"] == conf.port)
        assert r["offset"] == info["master_repl_offset"] and r["lag"] >= 1, r
    wait_for(lambda: all_caught_up(m, 4), timeout=20, interval=0.1, what="the stopped slave to catch up")
    assert sessions(m)["conf-link"]["acked_seq"] == str(info["master_repl_offset"] + 200)

    # the SSDB slave stopped: the master shows the records it could not hand to the socket yet
    big = "x" * 8192
    with Stopped(ssdb):
        with m.client() as c:
            for i in range(0, 2500, 50):
                args = [x for j in range(i, i + 50) for x in (f"b{j}", big)]
                assert c("multi_set", *args)[0] == b"ok"
        wait_for(lambda: int(sessions(m)[""]["lag_seq"]) > 0 and int(sessions(m)[""]["lag_ms"]) >= 500,
                 timeout=20, interval=0.1, what="unsent records for the stopped SSDB slave")
        print(f"\nSSDB slave stopped: {sessions(m)['']}")
    wait_for(lambda: all_caught_up(m, 4), timeout=60, interval=0.2, what="the SSDB slave to catch up")
    with ssdb.client() as c:
        # an SSDB slave does not acknowledge: "caught up" means every record was handed to its
        # socket, which it may still be applying
        wait_for(lambda: c("get", "b2499") == [b"ok", big.encode()], timeout=20, interval=0.1,
                 what="the SSDB slave to apply the last record")
