"""Replication groups over RESP: SLAVEOF/REPLICAOF/ROLE, aligned links with acks, WAIT,
and master changes that resume instead of copying (docs/replication.md, "Replication groups")."""

from __future__ import annotations

import time

import pytest
import redis

from tests.harness.compare import snapshot
from tests.harness.replication import master_sessions
from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(60)


def r(node) -> redis.Redis:
    return redis.Redis(port=node.port, decode_responses=True, socket_timeout=10)


def repl_info(node) -> dict:
    return r(node).info("replication")


def copies(node) -> int:
    """Full copies this node has sent (its log's "copy begin" count is the slave's side)."""
    return node.log_path.read_text().count("copy begin")


def caught_up(master, *slaves) -> bool:
    seq = repl_info(master)["master_repl_offset"]
    return all(repl_info(s).get("master_link_status") == "up" and repl_info(s)["slave_repl_offset"] == seq
               for s in slaves)


def dump(node) -> dict:
    with node.client() as c:
        return snapshot(c)


def test_slaveof_role_info_and_wait(server_factory):
    m = server_factory("m")
    s = server_factory("s")
    cm, cs = r(m), r(s)
    cm.set("before", "1")
    assert cs.execute_command("SLAVEOF", "127.0.0.1", str(m.port)) is True  # redis-py's reading of +OK
    assert cs.execute_command("REPLICAOF", "127.0.0.1", str(m.port)) in (
        "OK Already connected to specified master", False)
    wait_for(lambda: caught_up(m, s), timeout=20, what="the slave to catch up")
    assert cs.get("before") == "1"
    role = cs.execute_command("ROLE")
    assert role[:4] == ["slave", "127.0.0.1", m.port, "connected"], role
    info = repl_info(s)
    assert info["role"] == "slave" and info["master_port"] == m.port and info["master_sync_in_progress"] == 0
    assert 0 <= info["master_last_io_seconds_ago"] <= 5
    # the master lists the slave by its listening port, with its acked offset
    wait_for(lambda: repl_info(m).get("slave0", {}).get("port") == s.port, timeout=10, what="slave0 by listening port")
    assert cm.execute_command("ROLE")[2] == [["127.0.0.1", str(s.port), str(repl_info(m)["slave0"]["offset"])]]
    # WAIT: the write is acknowledged by the one slave
    for i in range(50):
        cm.set(f"k{i}", str(i))
    t0 = time.monotonic()
    assert cm.execute_command("WAIT", "1", "5000") == 1
    assert time.monotonic() - t0 < 2
    assert cs.get("k49") == "49"
    # two slaves asked for, one exists: the timeout passes and WAIT answers 1
    t0 = time.monotonic()
    assert cm.execute_command("WAIT", "2", "300") == 1
    assert time.monotonic() - t0 >= 0.29
    with pytest.raises(redis.ResponseError, match="replica instances"):
        cs.execute_command("WAIT", "1", "10")
    # the SSDB-protocol info block gains the slave's id, address, acked seq and lag
    with m.client() as c:
        (block,) = master_sessions(c)
    assert block["type"] == "sync" and block["listen"] == f"127.0.0.1:{s.port}", block
    assert block["slave_id"] == f"127.0.0.1|{m.port}" and int(block["acked_seq"]) == int(block["last_seq"]), block
    assert block["lag_seq"] == "0" and 0 <= int(block["lag_ms"]) < 3000, block
    # SLAVEOF NO ONE: writable, data kept, a new history that remembers the old one
    old_id = repl_info(s)["master_replid"]
    assert old_id == repl_info(m)["master_replid"]
    assert cs.execute_command("SLAVEOF", "NO", "ONE") is True
    info = repl_info(s)
    assert info["role"] == "master" and info["master_replid2"] == old_id and info["master_replid"] != old_id
    cs.set("x", "1")
    assert cs.get("k10") == "10" and cs.execute_command("ROLE")[0] == "master"


def test_wait_inside_multi_and_slaveof_in_exec(server_factory):
    m = server_factory("m")
    s = server_factory("s")
    cs = r(s)
    p = cs.pipeline(transaction=True)
    p.execute_command("SLAVEOF", "127.0.0.1", str(m.port))
    p.execute_command("CONFIG", "REWRITE")
    assert p.execute() == [True, "OK"]  # redis-py reads SLAVEOF's +OK as True, CONFIG's as the text
    wait_for(lambda: caught_up(m, s), timeout=20, what="the slave to attach in EXEC")
    conf = s.conf.read_text()
    assert f"\t\tport: {m.port}" in conf and "\t\ttype: sync" in conf, conf
    cm = r(m)
    cm.set("a", "1")
    p = cm.pipeline(transaction=True)
    p.set("b", "2")
    p.execute_command("WAIT", "1", "0")
    res = p.execute()
    assert res[0] is True and res[1] in (0, 1)
    # config rewrite after SLAVEOF NO ONE drops the sync block; a restart keeps the role
    cs.execute_command("SLAVEOF", "NO", "ONE")
    cs.execute_command("CONFIG", "REWRITE")
    assert "slaveof:" not in s.conf.read_text().replace("#slaveof", "")
    s.stop()
    s.start()
    assert repl_info(s)["role"] == "master"


def test_failover_resumes_without_copy(server_factory):
    a = server_factory("a")
    b = server_factory("b")
    c = server_factory("c")
    ca = r(a)
    for i in range(200):
        ca.set(f"k{i}", str(i))
    for n in (b, c):
        r(n).execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    wait_for(lambda: caught_up(a, b, c), timeout=20, what="both slaves")
    ca.hset("h", "f", "v")
    ca.delete("k0")
    assert ca.execute_command("WAIT", "2", "5000") == 2
    assert copies(b) == 1 and copies(c) == 1
    a.kill()
    # promote b, point c at it: c resumes (no second copy)
    r(b).execute_command("SLAVEOF", "NO", "ONE")
    r(c).execute_command("SLAVEOF", "127.0.0.1", str(b.port))
    r(b).set("after", "1")
    wait_for(lambda: caught_up(b, c), timeout=20, what="c follows b")
    assert copies(c) == 1, c.log_path.read_text()[-2000:]
    assert r(c).get("after") == "1"
    # the old master, restarted on its data, resumes as b's slave
    a.start()
    r(a).execute_command("SLAVEOF", "127.0.0.1", str(b.port))
    wait_for(lambda: caught_up(b, a, c), timeout=20, what="a follows b")
    assert copies(a) == 0, a.log_path.read_text()[-2000:]
    assert dump(a) == dump(b) == dump(c)
    assert r(a).hget("h", "f") == "v"


def test_diverged_old_master_gets_a_full_copy(server_factory):
    a = server_factory("a")
    b = server_factory("b")
    ca = r(a)
    ca.set("base", "1")
    r(b).execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    wait_for(lambda: caught_up(a, b), timeout=20, what="b catches up")
    a.stop()  # no handoff: the master is gone
    r(b).execute_command("SLAVEOF", "NO", "ONE")
    r(b).set("only-on-b", "1")
    a.start()
    ca = r(a)
    ca.set("only-on-a", "1")  # a write the new master never saw
    ca.execute_command("SLAVEOF", "127.0.0.1", str(b.port))
    wait_for(lambda: caught_up(b, a), timeout=20, what="a follows b")
    assert copies(a) == 1
    assert "not this node's history" in b.log_path.read_text()
    assert dump(a) == dump(b)
    assert dump(a)["kv"] == {b"base": b"1", b"only-on-b": b"1"}


def test_promotion_hands_off_from_a_live_master(server_factory):
    a = server_factory("a")
    b = server_factory("b")
    ca, cb = r(a), r(b)
    cb.execute_command("SLAVEOF", "127.0.0.1", str(a.port))
    wait_for(lambda: caught_up(a, b), timeout=20, what="b catches up")
    for i in range(300):
        ca.set(f"k{i}", str(i))
    assert cb.execute_command("SLAVEOF", "NO", "ONE") is True
    # every write a acknowledged is on b, and a takes no more writes until its role changes
    assert cb.get("k299") == "299" and repl_info(b)["master_repl_offset"] == repl_info(a)["master_repl_offset"]
    with pytest.raises(redis.ReadOnlyError):
        ca.set("late", "1")
    assert "handoff: the master's records up to" in b.log_path.read_text()
    ca.execute_command("SLAVEOF", "127.0.0.1", str(b.port))
    cb.set("after", "1")
    wait_for(lambda: caught_up(b, a), timeout=20, what="a resumes as b's slave")
    assert copies(a) == 0 and dump(a) == dump(b)


def test_slaveof_an_ssdb_master_stays_plain_sync140(server_factory, reference_factory):
    """A real SSDB 1.9.8 master answers the side-connection offer with an error: plain sync140."""
    master = reference_factory("ssdb-master")
    with master.client() as c:
        c("set", "k", "v")
    s = server_factory("s")
    assert r(s).execute_command("SLAVEOF", "127.0.0.1", str(master.port)) is True
    wait_for(lambda: repl_info(s).get("master_link_status") == "up" and r(s).get("k") == "v", timeout=20,
             what="the ssdbpy slave copies from SSDB")
    with master.client() as c:
        c("set", "k2", "v2")
    wait_for(lambda: r(s).get("k2") == "v2", timeout=20, what="streaming from SSDB")
    assert "(aligned)" not in s.log_path.read_text()
    assert r(s).execute_command("SLAVEOF", "NO", "ONE") is True
    assert r(s).set("mine", "1") is True  # a master again: writable
