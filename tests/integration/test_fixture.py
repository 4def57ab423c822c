"""ssdbpy opens a data directory written by the real SSDB 1.9.8 and reads exactly its contents."""

from __future__ import annotations

import json
import shutil
import time

from tests.harness.server import DATA
from tests.harness.vectors import unescape

FIXTURE = DATA / "fixtures" / "ssdb-1.9.8-data"
EXPIRE_ZSET = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"


def pairs(blocks):
    return list(zip(blocks[1::2], blocks[2::2]))


def test_reads_real_ssdb_data_dir(server_factory):
    manifest = json.loads((FIXTURE / "manifest.json").read_text())
    srv = server_factory("fx", start=False)
    shutil.rmtree(srv.work_dir)
    shutil.copytree(FIXTURE, srv.work_dir, ignore=shutil.ignore_patterns("manifest.json"))
    srv.start()
    c = srv.client()

    ttl_member, ttl_ms = manifest["zset"][r"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"][0]
    expired = ttl_ms <= time.time() * 1000 + 5000  # 'longlived' may have expired since the fixture was made

    want_kv = {unescape(k): unescape(v) for k, v in manifest["kv"].items()}
    if expired:
        want_kv.pop(unescape(ttl_member))
    got = c("scan", "", "", "-1")
    assert got[0] == b"ok"
    assert dict(pairs(got)) == want_kv
    assert [k for k, _ in pairs(got)] == sorted(want_kv)

    for name, fields in manifest["hash"].items():
        got = c("hscan", unescape(name), "", "", "-1")
        assert pairs(got) == [(unescape(f), unescape(v)) for f, v in fields.items()], name
        assert c("hsize", unescape(name)) == [b"ok", str(len(fields)).encode()]

    for name, members in manifest["zset"].items():
        zname = unescape(name)
        if zname == EXPIRE_ZSET and expired:
            continue
        got = c("zscan", zname, "", "", "", "-1")
        assert pairs(got) == [(unescape(m), str(s).encode()) for m, s in members], name
        assert c("zsize", zname) == [b"ok", str(len(members)).encode()]

    for name, items in manifest["queue"].items():
        got = c("qrange", unescape(name), "0", "-1")
        assert got == [b"ok"] + [unescape(i) for i in items], name

    if not expired:
        ttl = int(c("ttl", "longlived")[1])
        assert abs(ttl - (ttl_ms / 1000 - time.time())) < 10

    # the binlog continues after the recorded max_seq (356)
    info = c("info")
    binlogs = info[info.index(b"binlogs") + 1].decode()
    max_seq = int(binlogs.rsplit("max_seq  :", 1)[1])
    assert max_seq >= 356
    assert c("set", "after-restart", "1") == [b"ok", b"1"]
    info = c("info")
    binlogs = info[info.index(b"binlogs") + 1].decode()
    assert int(binlogs.rsplit("max_seq  :", 1)[1]) == max_seq + 1
    c.close()

    # it survives a restart on the same directory with everything intact
    srv.restart()
    c = srv.client()
    assert c("get", "after-restart") == [b"ok", b"1"]
    assert c("qsize", "jobs") == [b"ok", str(len(manifest["queue"]["jobs"])).encode()]
    c.close()
