"""The 10M-key table of issue 14: ssdbpy and the reference SSDB 1.9.8 at the same size.

Both servers start from the same configuration (compare_ssdb: binlog on, LevelDB cache
``--cache-mb``, write buffer 64 MB, compression on) in their own temporary directories.
Each is loaded with ``--keys`` keys ``key:%012d`` (the names redis-benchmark's ``-r``
draws, so its GETs hit) holding 100-byte values drawn from 1,000 random ones (so
compression does not flatter either server), by one client pipelining BATCH ``SET``
requests over RESP (replies read by hiredis).  Loads run one server after the other;
then, with both holding the data, ``redis-benchmark -c 50 -d 100 -r <keys>`` GET and SET
at -P 1 and -P 16 alternate between the servers, ``--reps`` times.

Printed: load rate, disk size of the data directory after the load (LevelDB's files,
binlog included), server memory after the load and after the benchmarks (VmRSS, and
its parts RssAnon, the process's own memory, and RssFile, the table files LevelDB
maps) against the cache + 100 MB bound, and the req/s table with the median of the
per-repetition ratios.

Usage: python benchmarks/big_keys.py [--keys 10000000] [--cache-mb 500] [--reps 3]
       [--requests 50000]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_redis import bench, free_port, start_ssdbpy, stop  # noqa: E402
from compare_ssdb import SSDB_BINARY, start_ssdb  # noqa: E402
from load_1m import BATCH, du_mb, read_ok, rss_mb  # noqa: E402


def load(port: int, keys: int) -> float:
    """Seconds to SET ``keys`` keys over RESP with BATCH requests in flight."""
    import hiredis

    rnd = os.urandom(1000 * 50)
    values = [rnd[i * 50:(i + 1) * 50].hex().encode() for i in range(1000)]  # 100 bytes each
    head = b"*3\r\n$3\r\nSET\r\n$16\r\n"
    tail = [b"\r\n$100\r\n" + v + b"\r\n" for v in values]
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = hiredis.Reader()
    t0 = time.perf_counter()
    for start in range(0, keys, BATCH):
        end = min(start + BATCH, keys)
        sock.sendall(b"".join(head + b"key:%012d" % i + tail[i % 1000] for i in range(start, end)))
        read_ok(sock, reader, end - start)
    took = time.perf_counter() - t0
    sock.close()
    return took


def rss_all(pid: int) -> dict[str, float]:
    return {f: rss_mb(pid, f) for f in ("VmRSS", "RssAnon", "RssFile")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=10_000_000)
    ap.add_argument("--cache-mb", type=int, default=500)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=50000, help="requests per redis-benchmark run at -P 1 (x4 at -P 16)")
    a = ap.parse_args(argv)
    if not SSDB_BINARY.exists():
        print(f"reference SSDB not found at {SSDB_BINARY} (set SSDB_SERVER)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-bigkeys-"))
    dirs = {name: tmp / name for name in ("ssdbpy", "SSDB")}
    ports = {name: free_port() for name in dirs}
    procs = {}
    try:
        procs["ssdbpy"] = start_ssdbpy(dirs["ssdbpy"], ports["ssdbpy"], cache_mb=a.cache_mb)
        procs["SSDB"] = start_ssdb(dirs["SSDB"], ports["SSDB"], cache_mb=a.cache_mb)
        print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, {a.keys:,} keys, "
              f"cache {a.cache_mb} MB", flush=True)
        facts: dict[str, dict[str, float]] = {}
        for name in ("ssdbpy", "SSDB"):
            took = load(ports[name], a.keys)
            time.sleep(5)  # LevelDB's flush of the last memtable settles
            facts[name] = {"rate": a.keys / took, "secs": took, "disk": du_mb(dirs[name] / "var")}
            facts[name].update({k + " load": v for k, v in rss_all(procs[name].pid).items()})
            print(f"{name}: loaded in {took:.1f} s = {a.keys / took:,.0f} keys/s, disk {facts[name]['disk']:,.0f} MB, "
                  f"RSS {facts[name]['VmRSS load']:,.0f} MB", flush=True)
        rows = [(t, p) for p in (1, 16) for t in ("get", "set")]
        got: dict[tuple[str, int], dict[str, list[float]]] = {r: {"ssdbpy": [], "SSDB": []} for r in rows}
        for _rep in range(a.reps):
            for t, p in rows:
                n = a.requests if p == 1 else a.requests * 4
                for name in ("ssdbpy", "SSDB"):
                    got[(t, p)][name].append(bench(ports[name], t, p, n, keyspace=a.keys))
        for name in facts:
            facts[name].update({k + " end": v for k, v in rss_all(procs[name].pid).items()})
        bound = a.cache_mb + 100
        print()
        print("| | ssdbpy | SSDB | ssdbpy/SSDB |")
        print("|---|---|---|---|")
        py, sd = facts["ssdbpy"], facts["SSDB"]
        print(f"| load (keys/s, pipelined {BATCH}) | {py['rate']:,.0f} | {sd['rate']:,.0f} | {py['rate'] / sd['rate']:.2f} |")
        print(f"| disk after load (MB) | {py['disk']:,.0f} | {sd['disk']:,.0f} | {py['disk'] / sd['disk']:.2f} |")
        for when, label in (("load", "after load"), ("end", "after benchmarks")):
            for field, what in (("VmRSS", "RSS"), ("RssAnon", "RssAnon (own memory)"), ("RssFile", "RssFile (mapped tables)")):
                k = f"{field} {when}"
                print(f"| {what} {label} (MB) | {py[k]:,.0f} | {sd[k]:,.0f} | {py[k] / sd[k]:.2f} |")
        for t, p in rows:
            g = got[(t, p)]
            ratio = statistics.median(x / y for x, y in zip(g["ssdbpy"], g["SSDB"]))
            print(f"| {t.upper()} -P {p} (req/s, median) | {statistics.median(g['ssdbpy']):,.0f} | "
                  f"{statistics.median(g['SSDB']):,.0f} | {ratio:.2f} |")
        print()
        for field in ("VmRSS", "RssAnon"):
            worst = max(py[f"{field} load"], py[f"{field} end"])
            print(f"ssdbpy {field} against the bound (cache {a.cache_mb} MB + 100 MB = {bound} MB): "
                  f"{'met' if worst <= bound else 'missed'} (highest seen {worst:,.0f} MB)")
    finally:
        stop(list(procs.values()), tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
