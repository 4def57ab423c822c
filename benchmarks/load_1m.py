"""Load 1M keys into ssdbpy with a pipelined client; report load rate, disk size,
server RSS (against the LevelDB cache it was given) and GET/SET throughput at
that size (redis-benchmark -r 1000000, -P 1 and -P 16).

The loading client pipelines 1000 ``SET`` requests at a time over RESP, with
the requests encoded before the clock starts and replies read by hiredis, so
the figure is the server's; ``--protocol ssdb`` loads with ssdbpy's own
SSDB-protocol client instead (its Python encoding and parsing are then part
of the figure).

Usage: python benchmarks/load_1m.py [--keys 1000000] [--cache-mb 64] [--protocol resp|ssdb]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.compare_redis import bench, free_port, start_ssdbpy, stop  # noqa: E402
from ssdbpy.client import Client  # noqa: E402
from ssdbpy.protocol.resp import encode_request  # noqa: E402

BATCH = 1000


def read_ok(sock: socket.socket, reader, n: int) -> None:
    """Read ``n`` RESP replies from ``sock`` through the hiredis ``reader``; each must be OK."""
    while n:
        r = reader.gets()
        if r is False:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("server closed the connection")
            reader.feed(chunk)
            continue
        if r != b"OK":
            raise RuntimeError(f"SET failed: {r!r}")
        n -= 1


def load_resp(port: int, keys: int, value: bytes) -> float:
    """Seconds to SET ``keys`` keys over RESP, BATCH requests in flight."""
    import hiredis

    batches = [b"".join(encode_request([b"SET", b"key:%010d" % i, value]) for i in range(s, min(s + BATCH, keys)))
               for s in range(0, keys, BATCH)]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = hiredis.Reader()
    t0 = time.perf_counter()
    for i, data in enumerate(batches):
        sock.sendall(data)
        read_ok(sock, reader, min(BATCH, keys - i * BATCH))
    took = time.perf_counter() - t0
    sock.close()
    return took


def load_ssdb(port: int, keys: int, value: bytes) -> float:
    c = Client("127.0.0.1", port, timeout=120)
    t0 = time.perf_counter()
    for start in range(0, keys, BATCH):
        c.send_many([(b"set", b"key:%010d" % i, value) for i in range(start, min(start + BATCH, keys))])
        for _ in range(min(BATCH, keys - start)):
            if c.read() != [b"ok", b"1"]:
                raise RuntimeError("set failed")
    took = time.perf_counter() - t0
    c.close()
    return took


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``field`` of /proc/PID/status in MB: VmRSS (all resident pages), RssAnon (the process's
    own memory) or RssFile (pages of mapped files: LevelDB maps its tables, so the page cache
    pages of the tables read count in VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1 << 20)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--cache-mb", type=int, default=64)
    ap.add_argument("--protocol", choices=("resp", "ssdb"), default="resp")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-load-"))
    port = free_port()
    proc = start_ssdbpy(tmp, port, cache_mb=a.cache_mb)
    try:
        value = b"v" * 100
        load = load_resp if a.protocol == "resp" else load_ssdb
        load_s = load(port, a.keys, value)
        time.sleep(2)
        print(f"load {a.keys} keys ({a.protocol} set, pipelined {BATCH}): {load_s:.1f} s = {a.keys / load_s:,.0f} keys/s")
        print(f"disk: data/ {du_mb(tmp / 'var' / 'data'):.0f} MB (values + binlog of {a.keys} records)")
        rss = rss_mb(proc.pid)
        print(f"server RSS after load: {rss:.0f} MB (leveldb cache_size {a.cache_mb} MB; "
              f"cache + 100 MB = {a.cache_mb + 100} MB)")
        if shutil.which("redis-benchmark"):
            for test in ("get", "set"):
                for p in (1, 16):
                    n = 20000 if p == 1 else 200000
                    print(f"{test.upper()} -P {p} at {a.keys} keys: {bench(port, test, p, n, keyspace=1_000_000):,.0f} req/s")
            print(f"server RSS after benchmarks: {rss_mb(proc.pid):.0f} MB")
    finally:
        stop([proc], tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
