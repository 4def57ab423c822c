"""INFO for RESP clients: section selection, Redis's text layout, the figures (no sockets)."""

from __future__ import annotations

import re

import pytest

from ssdbpy.commands import redis_info
from ssdbpy.commands.dispatch import execute
from ssdbpy.info import REDIS_DEFAULT, REDIS_SECTIONS, human_bytes, redis_render, redis_wanted
from tests.harness.inprocess import Dispatcher


@pytest.mark.parametrize(
    "args, want",
    [
        ([], list(REDIS_DEFAULT)),
        ([b"default"], list(REDIS_DEFAULT)),
        ([b"all"], list(REDIS_SECTIONS)),
        ([b"EVERYTHING"], list(REDIS_SECTIONS)),
        ([b"Replication"], ["replication"]),
        ([b"keyspace", b"server"], ["server", "keyspace"]),  # Redis's order, not the request's
        ([b"ssdb"], ["ssdb"]),
        ([b"cmd"], None),  # SSDB's own arguments go to SSDB's info
        ([b"server", b"range"], None),
        ([b"x"], None),
    ],
)
def test_wanted_sections(args, want):
    assert redis_wanted(args) == want


def test_render_layout_is_redis_s():
    text = redis_render([("Server", [("redis_version", "7.0.0"), ("tcp_port", 1)]), ("Keyspace", [])])
    assert text == b"# Server\r\nredis_version:7.0.0\r\ntcp_port:1\r\n\r\n# Keyspace\r\n"


@pytest.mark.parametrize("n, text", [(0, "0B"), (1023, "1023B"), (1024, "1.00K"), (916832, "895.34K"),
                                     (12165120, "11.60M"), (3 << 30, "3.00G")])
def test_human_bytes_as_redis(n, text):
    assert human_bytes(n) == text


class FakeRepl:
    def __init__(self, blocks):
        self.blocks = blocks

    def info_blocks(self):
        return self.blocks


MASTER_SESSION = b"client 127.0.0.1:40001\n    type     : sync\n    status   : SYNC\n    last_seq : 17"
SLAVE_LINK = (b"slaveof 10.0.0.1:8888\n    id         : a\n    type       : sync\n    status     : COPY\n"
              b"    last_seq   : 9\n    copy_count : 1\n    sync_count : 0")
MIRROR_LINK = SLAVE_LINK.replace(b"type       : sync", b"type       : mirror")


@pytest.fixture
def d(tmp_path):
    disp = Dispatcher(tmp_path)
    yield disp
    disp.db.close()


def fields(d, section):
    text = redis_info.render(d.ctx, [section], 2)
    n, body = re.fullmatch(rb"\$(\d+)\r\n(.*)\r\n", text, re.S).groups()
    assert int(n) == len(body)
    lines = body.split(b"\r\n")
    assert lines[0] == b"# " + section.capitalize().encode() and lines[-1] == b""
    return dict(line.split(b":", 1) for line in lines[1:-1])


def test_master_replication_section(d):
    d.ctx.server.repl = FakeRepl([MASTER_SESSION])
    f = fields(d, "replication")
    assert f[b"role"] == b"master" and f[b"connected_slaves"] == b"1"
    assert f[b"slave0"] == b"ip=127.0.0.1,port=40001,state=online,offset=17,lag=0"  # no acks: lag 0
    assert re.fullmatch(rb"[0-9a-f]{40}", f[b"master_replid"])
    assert b"master_host" not in f


def test_slave_replication_section_and_offsets(d):
    execute(d.ctx, [b"set", b"k", b"v"])
    d.db.commit()
    d.ctx.server.repl = FakeRepl([SLAVE_LINK])
    d.ctx.server.replica_read_only = True
    f = fields(d, "replication")
    assert f[b"role"] == b"slave"
    assert (f[b"master_host"], f[b"master_port"], f[b"master_link_status"]) == (b"10.0.0.1", b"8888", b"down")
    assert f[b"master_sync_in_progress"] == b"1" and f[b"slave_repl_offset"] == b"9"
    assert f[b"slave_read_only"] == b"1" and f[b"slave_priority"] == b"100"
    assert f[b"master_repl_offset"] == str(d.db.binlog.last_seq).encode()


def test_a_mirror_link_is_no_master(d):
    d.ctx.server.repl = FakeRepl([MIRROR_LINK])
    assert fields(d, "replication")[b"role"] == b"master"


def test_server_section(d):
    d.ctx.server.tcp_port = 4321
    f = fields(d, "server")
    assert f[b"redis_version"] == redis_info.REDIS_VERSION.encode() and f[b"tcp_port"] == b"4321"
    assert re.fullmatch(rb"[0-9a-f]{40}", f[b"run_id"]) and int(f[b"uptime_in_days"]) == 0


def test_keyspace_counts_every_type_and_ttls(d):
    assert fields(d, "keyspace") == {}
    for req in ([b"set", b"a", b"1"], [b"setx", b"b", b"1", b"100"], [b"hset", b"h", b"f", b"v"],
                [b"zset", b"z", b"m", b"1"], [b"qpush", b"q", b"x"]):
        assert execute(d.ctx, req)[0] == b"ok"
    d.db.commit()
    assert fields(d, "keyspace") == {b"db0": b"keys=5,expires=1"}


def test_keyspace_beyond_the_exact_count_is_estimated(d, monkeypatch):
    monkeypatch.setattr(redis_info, "COUNT_EXACT", 50)
    for i in range(200):
        execute(d.ctx, [b"set", b"k%04d" % i, b"v" * 100])
    d.db.commit()
    d.db.engine.compact()
    n, _ = redis_info.keyspace(d.db)
    assert 50 <= n <= 400  # an estimate from LevelDB's sizes, at least the exact part


def test_resp3_is_a_verbatim_string(d):
    text = redis_info.render(d.ctx, ["clients"], 3)
    assert re.fullmatch(rb"=(\d+)\r\ntxt:# Clients\r\n.*\r\n", text, re.S)
    assert int(text[1:text.index(b"\r\n")]) == len(text) - text.index(b"\r\n") - 4
