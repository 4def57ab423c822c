"""TTLs on convergent mirror links (docs/replication.md, "TTLs"): a key expires with the version
its deadline gives, so every node expires the same keys, whatever its clock; a TTL and a del
made concurrently are ordered by stamp."""

from __future__ import annotations

import pytest

from tests.harness.proxy import FaultProxy
from tests.harness.replication import converge
from tests.harness.server import wait_for
from tests.replication.test_convergent import SKEW_MS, clock, mirror, wait_convergent

EXPIRE = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"


def ttl_of(c, key: str) -> int:
    r = c("ttl", key)
    assert r[0] == b"ok", r
    return int(r[1])


@pytest.mark.timeout(60)
def test_every_node_expires_the_same_keys_with_one_clock_five_minutes_ahead(server_factory, monkeypatch):
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    c = server_factory("c", start=False)
    a.write_config([mirror(b, "b"), mirror(c, "c")])
    b.write_config([mirror(a, "a"), mirror(c, "c")])
    c.write_config([mirror(a, "a"), mirror(b, "b")])
    a.start()
    b.start()
    monkeypatch.setenv("SSDBPY_CLOCK_OFFSET_MS", str(SKEW_MS))
    c.start()
    monkeypatch.delenv("SSDBPY_CLOCK_OFFSET_MS")
    nodes = [a, b, c]
    wait_convergent(nodes, links=2)
    with a.client() as ca, b.client() as cb, c.client() as cc:
        assert clock(cc) - clock(ca) > (SKEW_MS // 2) << 16
        assert ca("setx", "short", "v", "2")[0] == b"ok"  # C's clock is already past its deadline
        assert ca("setx", "long", "v", "600")[0] == b"ok"  # beyond C's lead: nobody expires it
        assert cc("setx", "from-c", "v", "60")[0] == b"ok"  # deadline 6 min ahead of A and B
        assert cb("setx", "r", "v1", "1")[0] == b"ok"
        snap = converge(nodes, timeout=20)
        assert b"short" not in snap["kv"]
        assert snap["kv"][b"long"] == b"v" and snap["kv"][b"from-c"] == b"v"
        assert 590 <= ttl_of(ca, "long") <= 600 and 590 <= ttl_of(cb, "long") <= 600
        assert 350 <= ttl_of(ca, "from-c") <= 360  # the deadline is absolute, set by C's clock
        # r expires everywhere; a set after its deadline is a new key, kept everywhere without TTL
        wait_for(lambda: all(cl("exists", "r") == [b"ok", b"0"] for cl in (ca, cb, cc)), timeout=10,
                 what="r to expire on every node")
        assert cb("set", "r", "v2")[0] == b"ok"
        snap = converge(nodes, timeout=20)
        assert snap["kv"][b"r"] == b"v2" and b"short" not in snap["kv"]
        assert all(ttl_of(cl, "r") == -1 for cl in (ca, cb, cc))
        assert b"r" not in dict(snap["zset"].get(EXPIRE, []))


@pytest.mark.timeout(60)
def test_ttl_and_del_made_concurrently_are_ordered_by_stamp(server_factory):
    a = server_factory("a", start=False)
    b = server_factory("b", start=False)
    p_ab, p_ba = FaultProxy(b.port).start(), FaultProxy(a.port).start()
    try:
        a.write_config([mirror(b, "b", p_ab.port)])
        b.write_config([mirror(a, "a", p_ba.port)])
        a.start()
        b.start()
        wait_convergent([a, b], links=1)
        with a.client() as ca, b.client() as cb:
            for k in ("k1", "k2"):
                assert ca("set", k, "x")[0] == b"ok"
            converge([a, b], timeout=20)
            for p in (p_ab, p_ba):
                p.blackhole()
                p.cut()
                p.refuse()
            # k1: the TTL first, the del after it -> no key, no TTL
            assert ca("expire", "k1", "100") == [b"ok", b"1"]
            t = clock(ca)
            wait_for(lambda: clock(cb) > t, timeout=5, what="b's clock past a's TTL")
            assert cb("del", "k1")[0] == b"ok"
            # k2: the del first, the TTL after it -> the TTL stays (on the key's absence) everywhere
            assert cb("del", "k2")[0] == b"ok"
            t = clock(cb)
            wait_for(lambda: clock(ca) > t, timeout=5, what="a's clock past b's del")
            assert ca("expire", "k2", "100") == [b"ok", b"1"]
            p_ab.resume()
            p_ba.resume()
            snap = converge([a, b], timeout=20)
            assert b"k1" not in snap["kv"] and b"k2" not in snap["kv"]
            ttls = dict(snap["zset"].get(EXPIRE, []))
            assert b"k1" not in ttls and b"k2" in ttls
    finally:
        p_ab.close()
        p_ba.close()
