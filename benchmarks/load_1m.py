"""Load 1M keys into ssdbpy with a pipelined client; report load rate, disk size,
server RSS (against the LevelDB cache it was given) and GET/SET throughput at
that size (redis-benchmark -r 1000000, -P 1 and -P 16).

Usage: python benchmarks/load_1m.py [--keys 1000000] [--cache-mb 64]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.compare_redis import bench, free_port, start_ssdbpy, stop  # noqa: E402
from ssdbpy.client import Client  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1 << 20)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--cache-mb", type=int, default=64)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-load-"))
    port = free_port()
    proc = start_ssdbpy(tmp, port, cache_mb=a.cache_mb)
    try:
        c = Client("127.0.0.1", port, timeout=120)
        value = b"v" * 100
        batch = 1000
        t0 = time.perf_counter()
        for start in range(0, a.keys, batch):
            c.send_many([(b"set", b"key:%010d" % i, value) for i in range(start, min(start + batch, a.keys))])
            for _ in range(min(batch, a.keys - start)):
                c.read()
        load_s = time.perf_counter() - t0
        c.close()
        time.sleep(2)
        print(f"load {a.keys} keys (set, pipelined {batch}): {load_s:.1f} s = {a.keys / load_s:,.0f} keys/s")
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
