"""server.replica_read_only: a sync slave refuses client writes, replication still writes; INFO for Sentinel."""

from __future__ import annotations

import pytest
import redis

from tests.harness.server import wait_for

pytestmark = pytest.mark.timeout(90)

READONLY = b"READONLY You can't write against a read only replica."


def test_read_only_replica(server_factory):
    master = server_factory("master")
    slave = server_factory("slave", server={"replica_read_only": "yes", "replica_priority": 7},
                           slaveof=[master.slaveof()])
    m = redis.Redis(port=master.port, decode_responses=True)
    s = redis.Redis(port=slave.port, decode_responses=True)
    try:
        assert m.set("k", "v") is True
        wait_for(lambda: s.get("k") == "v", what="replication of k")
        with pytest.raises(redis.ReadOnlyError):
            s.set("k", "other")
        with pytest.raises(redis.ReadOnlyError):
            s.hset("h", "f", "v")
        with slave.client() as c:  # SSDB protocol: an SSDB-style error, the same text
            assert c.request(b"set", b"k", b"x") == [b"client_error", READONLY]
            assert c.request(b"get", b"k") == [b"ok", b"v"]
        assert s.get("k") == "v"
        info = s.info("replication")
        assert info["role"] == "slave" and info["master_port"] == master.port
        assert info["slave_read_only"] == 1 and info["slave_priority"] == 7
        wait_for(lambda: s.info("replication")["master_link_status"] == "up", what="the link up")
        minfo = m.info("replication")
        assert minfo["role"] == "master" and minfo["connected_slaves"] == 1
        assert minfo["slave0"]["state"] == "online" and minfo["slave0"]["ip"] == "127.0.0.1"
        wait_for(lambda: s.info("replication")["slave_repl_offset"] == m.info("replication")["master_repl_offset"],
                 what="offsets equal")
        # CONFIG SET turns it off at run time
        assert s.config_set("replica-read-only", "no") is True
        assert s.set("local", "1") is True
        assert s.config_get("slave-read-only") == {"slave-read-only": "no"}
    finally:
        m.close()
        s.close()


def test_default_keeps_ssdb_s_writable_slave(server_factory):
    master = server_factory("master")
    slave = server_factory("slave", slaveof=[master.slaveof()])
    with redis.Redis(port=slave.port) as s:
        assert s.set("local", "1") is True
        assert s.info("replication")["slave_read_only"] == 0


def test_a_master_with_the_option_stays_writable(server_factory):
    node = server_factory("node", server={"replica_read_only": "yes"})
    with redis.Redis(port=node.port) as r:
        assert r.set("k", "v") is True
