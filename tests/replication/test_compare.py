"""``digest`` on a running server (SSDB protocol and RESP, sliced) and ``ssdb-compare`` against
three nodes, one of them with a divergent key."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import redis

from ssdbpy.apps import compare

TOOL = Path(__file__).resolve().parents[2] / "tools" / "ssdb-compare"


def fill(c, n: int = 400) -> None:
    for lo in range(0, n, 200):
        args = []
        for i in range(lo, min(lo + 200, n)):
            args += [b"key%05d" % i, b"v%d" % i]
        assert c("multi_set", *args)[0] == b"ok"
    assert c("hset", "h", "f", "1")[0] == b"ok"
    assert c("zset", "z", "m", "3")[0] == b"ok"
    assert c("qpush", "q", "a", "b")[0] == b"ok"
    assert c("set", "t", "v")[0] == b"ok"
    assert c("zset", EXPIRE, "t", "1900000000123")[0] == b"ok"  # one absolute deadline on every node


EXPIRE = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"


@pytest.mark.timeout(60)
def test_compare_three_nodes_names_the_divergent_key(server_factory, capsys):
    nodes = [server_factory(name) for name in ("a", "b", "c")]
    for n in nodes:
        with n.client() as c:
            fill(c)
    addrs = [f"127.0.0.1:{n.port}" for n in nodes]
    assert compare.main(addrs) == 0
    assert capsys.readouterr().out.endswith("0 key(s) differ; 12 requests\n")  # 4 types x 3 nodes

    with nodes[1].client() as c:
        assert c("set", "key00123", "diverged")[0] == b"ok"
    with nodes[2].client() as c:
        assert c("zset", EXPIRE, "t", "1900000000124")[0] == b"ok"  # the same value, a TTL 1 ms later
    assert compare.main(addrs) == 1
    out = capsys.readouterr().out.splitlines()
    # t's deadline differs: in t's digest and in the TTL index (SSDB lists it as a zset)
    assert [line.split(":")[0] for line in out[:-1]] == [
        "kv key00123", "kv t", "zset \\xff\\xff\\xff\\xff\\xff|EXPIRE_LIST|KV"]
    assert out[-1].startswith("3 key(s) differ")
    assert int(out[-1].split()[-2]) < 3 * 100  # bisected: far fewer requests than keys

    # the console tool, as an operator runs it
    r = subprocess.run([sys.executable, str(TOOL), "-t", "kv", *addrs], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert r.stdout.splitlines()[0].startswith("kv key00123: ")


@pytest.mark.timeout(60)
def test_digest_over_resp_and_sliced(server_factory):
    node = server_factory("a")
    with node.client() as c:
        fill(c, 60_000)
        ssdb = c("digest")
        assert ssdb[0] == b"ok" and int(ssdb[2]) == 60_000 + 1 + 2 + 1 + 1  # kv, hash, zsets + TTL index, queue
        assert c("digest", "kv", "key00009", "key00019")[2] == b"10"
        assert c("digest", "nope")[0] == b"client_error"
    r = redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=30)
    try:
        assert [x.encode() if isinstance(x, str) else x for x in r.execute_command("digest")] == ssdb[1:]
    finally:
        r.close()
    # a digest over 60,000 keys runs in slices: another client is served meanwhile
    done = {}

    def run_digest():
        with node.client() as c:
            t0 = time.perf_counter()
            done["reply"] = c("digest")
            done["took"] = time.perf_counter() - t0

    t = threading.Thread(target=run_digest)
    with node.client() as c2:
        t.start()
        time.sleep(0.02)
        worst = 0.0
        while t.is_alive():
            t0 = time.perf_counter()
            assert c2("ping")[0] == b"ok"
            worst = max(worst, time.perf_counter() - t0)
        t.join(30)
    assert done["reply"] == ssdb
    assert done["took"] > 0.1, done  # long enough for the pings to tell
    assert worst < done["took"] / 3, (worst, done["took"])
