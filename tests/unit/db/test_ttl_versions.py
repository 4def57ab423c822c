"""TTLs on a node that versions its writes: a key expires with the version its deadline gives
(docs/replication.md, "TTLs"), the same on every node; writes stamped after the deadline stay."""

from __future__ import annotations

import pytest

from ssdbpy.db.database import Database
from ssdbpy.protocol.ssdb import PacketReader
from ssdbpy.replication import converge, wire
from ssdbpy.storage import binlog as bl
from ssdbpy.db.ttl import expiry_version
from ssdbpy.storage.hlc import physical_ms
from ssdbpy.storage.keys import EXPIRE_ZSET, encode_kv, encode_zset

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def dbs(tmp_path):
    out = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        d = Database.open(str(tmp_path / name))
        d.enable_versions()
        out.append(d)
    yield out
    for d in out:
        d.close()


def test_expiry_carries_the_deadline_stamp_on_every_node(dbs):
    deadline = physical_ms(dbs[0].binlog.versions.clock.tick()) + 60_000
    for d in dbs:  # both hold the same key and TTL entry (as after replication)
        with d.stamped(5 << 16, 7):
            d.kv.set(b"k", b"v")
        with d.stamped(6 << 16, 7):
            d.zset.set(EXPIRE_ZSET, b"k", deadline)
        d.commit()
    assert dbs[0].ttl.expire_due(deadline - 1) == 0
    for d in dbs:
        assert d.ttl.expire_due(deadline) == 1
        assert d.kv.get(b"k") is None and d.zset.get(EXPIRE_ZSET, b"k") is None
        v = d.binlog.versions.get(encode_kv(b"k"))
        assert v.tomb and v.order() == (deadline << 16, 0)
        assert d.binlog.versions.get(encode_zset(EXPIRE_ZSET, b"k")).order() == (deadline << 16, 0)
        assert d.binlog.versions.clock.tick() > deadline << 16  # later local writes come after it


def test_a_write_stamped_after_the_deadline_stays(dbs):
    d = dbs[0]
    deadline = physical_ms(d.binlog.versions.clock.tick()) + 60_000
    with d.stamped(6 << 16, 7):
        d.zset.set(EXPIRE_ZSET, b"k", deadline)
    with d.stamped((deadline + 5) << 16, 9):  # written after the deadline, before the expiry pass
        d.kv.set(b"k", b"new")
    d.commit()
    assert d.ttl.expire_due(deadline + 10) == 1
    assert d.kv.get(b"k") == b"new"  # the expiry is older than this write
    assert d.zset.get(EXPIRE_ZSET, b"k") is None


def test_a_ttl_written_at_its_deadline_expires_the_key(dbs):
    """``setx k v 0``: the TTL entry is stamped after its deadline; the expiry takes its version."""
    d = dbs[0]
    d.kv.set(b"k", b"v")
    d.ttl.set(b"k", 0)
    d.commit()
    tv = d.binlog.versions.get(encode_zset(EXPIRE_ZSET, b"k")).order()
    deadline = d.zset.score(EXPIRE_ZSET, b"k")
    assert tv > (deadline << 16, 0)
    assert expiry_version(deadline, tv) == tv
    assert d.ttl.expire_due(deadline) == 1
    assert d.kv.get(b"k") is None
    assert d.binlog.versions.get(encode_kv(b"k")).order() == tv


def test_increments_after_the_deadline_still_count(dbs):
    a, b = dbs
    a.kv.incr(b"n", 5)  # before the deadline, on another master
    a.commit()
    ver = a.binlog.versions.get(encode_kv(b"n"))
    pkt = converge.state_packet(1, bl.MIRROR, encode_kv(b"n"), a.kv.get(b"n"), ver)
    reader = PacketReader()
    reader.feed(pkt)
    blocks = reader.next()
    with b.origin(bl.MIRROR):
        assert converge.merge(b, wire.decode(blocks), blocks[1], blocks[2])
    deadline = physical_ms(ver.counter.totals[a.binlog.versions.node_id][1]) + 1
    b.binlog.versions.clock.observe((deadline + 1) << 16)
    b.kv.incr(b"n", 10)  # stamped after the deadline
    with b.stamped(1 << 16, 3):
        b.zset.set(EXPIRE_ZSET, b"n", deadline)
    b.commit()
    assert b.kv.get(b"n") == b"15"
    assert b.ttl.expire_due(deadline + 5) == 1
    assert b.kv.get(b"n") == b"10"  # the 5 was before the deadline: expired
    assert b.zset.get(EXPIRE_ZSET, b"n") is None


def test_del_leaves_a_ttl_tombstone_even_without_a_ttl(dbs):
    """So that a TTL set concurrently elsewhere is ordered against the del by stamp."""
    d = dbs[0]
    d.kv.set(b"k", b"v")
    d.kv.delete(b"k")
    d.ttl.delete(b"k")
    d.commit()
    v = d.binlog.versions.get(encode_zset(EXPIRE_ZSET, b"k"))
    assert v.tomb and v.origin == d.binlog.versions.node_id
