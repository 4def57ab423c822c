"""A reply is sent only after its write is in LevelDB: kill -9 loses nothing acknowledged."""

from __future__ import annotations

import threading
import time

import pytest

from ssdbpy.client import Client


@pytest.mark.timeout(90)
def test_kill9_under_concurrent_pipelined_writes_loses_no_acknowledged_write(server):
    acked: list[list[bytes]] = [[] for _ in range(8)]
    stop = threading.Event()

    def writer(i: int) -> None:
        try:
            c = Client("127.0.0.1", server.port, timeout=10)
            n = 0
            while not stop.is_set():
                batch = [(b"set", b"w%d:%d" % (i, n + j), b"v%d" % (n + j)) for j in range(20)]
                c.send_many(batch)
                for j in range(20):
                    if c.read() != [b"ok", b"1"]:
                        return
                    acked[i].append(b"w%d:%d" % (i, n + j))
                n += 20
        except (OSError, ConnectionError):
            return  # the server was killed

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while sum(map(len, acked)) < 5000 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.kill()  # SIGKILL while writes are in flight
    stop.set()
    for t in threads:
        t.join(10)
    total = sum(map(len, acked))
    assert total >= 5000, f"only {total} writes acknowledged before the kill"

    server.start()
    c = server.client()
    missing = []
    for keys in acked:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            got = c("multi_exists", *chunk)
            missing += [k for k, e in zip(got[1::2], got[2::2]) if e != b"1"]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
    # the binlog kept one record per acknowledged write, numbered without gaps
    info = c("info")
    max_seq = int(info[info.index(b"binlogs") + 1].split(b"max_seq  :")[1])
    assert max_seq >= total
    c.close()
