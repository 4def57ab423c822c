"""Real Redis Sentinels fail an ssdbpy master-slave group over (docs/replication.md, "Failover with
Redis Sentinel").

Three ``redis-sentinel`` processes monitor three ssdbpy nodes (slaves attached with
``SLAVEOF host port``); a redis-py client finds the master through
``redis.sentinel.Sentinel`` and writes unique keys, every batch followed by ``WAIT``.
Killed with SIGKILL, the master is replaced: the writer resumes on the promoted slave,
the other slave follows it without a full copy, the old master restarted on its data is
made a slave by Sentinel and catches up; every node ends identical and no write
confirmed by WAIT is lost.  Skipped without ``redis-sentinel``.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis
import redis.sentinel

from tests.harness.compare import describe_difference, snapshot
from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(90)

NAME = "mymaster"  # the name the sentinels fixture (tests/conftest.py) monitors


def copies_received(node) -> int:
    """Full copies this node received (its log's "copy begin" lines)."""
    return node.log_path.read_text().count("copy begin")


class Writer(threading.Thread):
    """Writes ``w:<i>`` = i through the Sentinel-discovered master; every ``batch`` writes a
    ``WAIT <replicas> 1000``: the writes before a WAIT that answered >= replicas are confirmed."""

    def __init__(self, sentinel_ports: list[int], replicas: int, batch: int = 10) -> None:
        super().__init__(daemon=True)
        self.sentinel = redis.sentinel.Sentinel([("127.0.0.1", p) for p in sentinel_ports], socket_timeout=1)
        self.replicas = replicas
        self.batch = batch
        self.stop_ = threading.Event()
        self.acked: list[int] = []  # writes the master answered OK
        self.confirmed: set[int] = set()  # acked writes a later WAIT answered >= replicas for
        self.errors = 0

    def run(self) -> None:
        master = self.sentinel.master_for(NAME, socket_timeout=1, retry_on_timeout=False)
        i = 0
        pending: list[int] = []  # acked since the last WAIT, on this connection
        while not self.stop_.is_set():
            try:
                for _ in range(self.batch):
                    master.set(f"w:{i}", str(i))
                    self.acked.append(i)
                    pending.append(i)
                    i += 1
                if master.execute_command("WAIT", self.replicas, 1000) >= self.replicas:
                    self.confirmed.update(pending)
                pending = []
            except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError, redis.ResponseError,
                    redis.sentinel.MasterNotFoundError):
                self.errors += 1
                pending = []  # the WAIT did not answer: not confirmed
                i += 1  # the failed write's outcome is unknown: never reuse its key
                time.sleep(0.05)

    def finish(self) -> None:
        self.stop_.set()
        self.join(20)
        assert not self.is_alive()


def _group(server_factory, sentinels):
    nodes = [server_factory(n, server={"replica_read_only": "yes"}) for n in ("a", "b", "c")]
    a, b, c = nodes
    redis.Redis(port=a.port).set("seed", "1")
    for n in (b, c):
        assert redis.Redis(port=n.port).execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    ports = sentinels(a.port, down_after_milliseconds=1000, failover_timeout=8000, parallel_syncs=2)
    s0 = redis.Redis(port=ports[0], decode_responses=True)

    def known() -> bool:
        reps = s0.sentinel_slaves(NAME)
        return (sorted(r["port"] for r in reps) == sorted((b.port, c.port))
                and all(r["master-link-status"] == "ok" and not r["is_disconnected"] for r in reps)
                and s0.sentinel_master(NAME)["num-other-sentinels"] == 2)

    wait_for(known, timeout=30, interval=0.2, what="the sentinels know both slaves and each other")
    return nodes, ports, s0


def _master_port(s0) -> int:
    return int(s0.sentinel_get_master_addr_by_name(NAME)[1])


def _follows(master, slave) -> bool:
    info = redis.Redis(port=slave.port).info("replication")
    return info.get("master_port") == master.port and info.get("master_link_status") == "up"


def _caught_up(master, *slaves) -> bool:
    seq = redis.Redis(port=master.port).info("replication")["master_repl_offset"]
    for s in slaves:
        info = redis.Redis(port=s.port).info("replication")
        if info.get("master_port") != master.port or info.get("master_link_status") != "up" \
                or info["slave_repl_offset"] != seq:
            return False
    return True


def _check(nodes, master, writer: Writer) -> int:
    """All nodes identical; no confirmed write lost; returns the acknowledged writes lost."""
    others = [n for n in nodes if n is not master]
    wait_for(lambda: _caught_up(master, *others), timeout=30, interval=0.2, what="every slave caught up")
    snaps = []
    for n in nodes:
        with n.client() as c:
            snaps.append(snapshot(c))
    for s in snaps[1:]:
        assert s == snaps[0], describe_difference(snaps[0], s)
    kv = snaps[0]["kv"]
    missing_confirmed = sorted(i for i in writer.confirmed if f"w:{i}".encode() not in kv)
    assert not missing_confirmed, f"writes confirmed by WAIT lost: {missing_confirmed[:20]}"
    return sum(1 for i in writer.acked if f"w:{i}".encode() not in kv)


def test_sentinel_fails_over_a_killed_master(server_factory, sentinels):
    (a, b, c), ports, s0 = _group(server_factory, sentinels)
    copies0 = {n.name: copies_received(n) for n in (b, c)}
    writer = Writer(ports, replicas=1)
    writer.start()
    wait_for(lambda: len(writer.confirmed) > 200, timeout=20, interval=0.1, what="confirmed writes")
    t_kill = time.monotonic()
    a.kill()
    wait_for(lambda: _master_port(s0) != a.port, timeout=30, interval=0.1, what="sentinel promotes a slave")
    new_port = _master_port(s0)
    n_before = len(writer.acked)
    wait_for(lambda: len(writer.acked) > n_before + 50, timeout=20, interval=0.05, what="the writer resumes")
    failover_s = time.monotonic() - t_kill
    new = b if new_port == b.port else c
    other = c if new is b else b
    wait_for(lambda: _follows(new, other), timeout=20, interval=0.2, what="the other slave follows")
    assert copies_received(other) == copies0[other.name], other.log_path.read_text()[-3000:]
    # the old master comes back on its data: Sentinel makes it a slave of the new master
    a.start()
    wait_for(lambda: redis.Redis(port=a.port).info("replication").get("master_port") == new.port,
             timeout=40, interval=0.2, what="sentinel reconfigures the old master")
    writer.finish()
    lost = _check([a, b, c], new, writer)
    a_copies = copies_received(a)
    print(f"\nfailover: {failover_s:.1f} s from SIGKILL to writes on the new master; acked writes "
          f"{len(writer.acked)}, confirmed by WAIT {len(writer.confirmed)}, lost (not confirmed) {lost}; "
          f"full copies: other slave {copies_received(other) - copies0[other.name]}, old master {a_copies}")
    # the old master re-copies only if it held writes the new master never saw
    assert a_copies == (1 if "not this node's history" in new.log_path.read_text() else 0)
    assert failover_s < 30


def test_manual_sentinel_failover_loses_nothing(server_factory, sentinels):
    (a, b, c), ports, s0 = _group(server_factory, sentinels)
    copies0 = {n.name: copies_received(n) for n in (a, b, c)}
    writer = Writer(ports, replicas=2)
    writer.start()
    wait_for(lambda: len(writer.confirmed) > 100, timeout=20, interval=0.1, what="confirmed writes")
    t0 = time.monotonic()
    assert s0.execute_command("SENTINEL", "FAILOVER", NAME)
    wait_for(lambda: _master_port(s0) != a.port, timeout=30, interval=0.1, what="the manual failover")
    new = b if _master_port(s0) == b.port else c
    wait_for(lambda: redis.Redis(port=a.port).info("replication").get("master_port") == new.port,
             timeout=40, interval=0.2, what="sentinel makes the old master a slave")
    n_before = len(writer.acked)
    wait_for(lambda: len(writer.acked) > n_before + 50, timeout=20, interval=0.05, what="the writer goes on")
    took = time.monotonic() - t0
    writer.finish()
    lost = _check([a, b, c], new, writer)
    print(f"\nmanual failover: {took:.1f} s; acked writes {len(writer.acked)}, confirmed {len(writer.confirmed)}, "
          f"lost {lost}; full copies {[copies_received(n) - copies0[n.name] for n in (a, b, c)]}")
    assert lost == 0
    assert all(copies_received(n) == copies0[n.name] for n in (b, c))
