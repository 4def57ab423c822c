"""Load 1M keys into ssdbpy with a pipelined client; report load rate, disk size,
server RSS (against the LevelDB cache it was given) and GET/SET throughput at
that size (redis-benchmark -r 1000000, -P 1 and -P 16).

Usage: python benchmarks/load_1m.py [--keys 1000000] [--cache-mb 64]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.compare_redis import free_port, wait_port  # noqa: E402
from ssdbpy.client import Client  # noqa: E402


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / (1 << 20)


def rb(port: int, test: str, pipeline: int, n: int) -> float:
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-d", "100",
                          "-r", "1000000", "-P", str(pipeline), "-n", str(n), "-t", test, "--csv"],
                         capture_output=True, text=True, timeout=600).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    return float(rows[0][1]) if rows else float("nan")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--keys", type=int, default=1_000_000)
    ap.add_argument("--cache-mb", type=int, default=64)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-load-"))
    (tmp / "var").mkdir()
    port = free_port()
    (tmp / "ssdb.conf").write_text(
        "work_dir = ./var\n\nserver:\n\tip: 127.0.0.1\n\tport: %d\n\nreplication:\n\tbinlog: yes\n"
        "\t\tcapacity: 20000000\n\nlogger:\n\tlevel: error\n\toutput: log.txt\n\n"
        "leveldb:\n\tcache_size: %d\n\twrite_buffer_size: 64\n\tcompression: yes\n" % (port, a.cache_mb)
    )
    proc = subprocess.Popen([sys.executable, "-m", "ssdbpy.apps.server", str(tmp / "ssdb.conf")],
                            env=dict(os.environ, PYTHONPATH=str(REPO)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
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
                    print(f"{test.upper()} -P {p} at {a.keys} keys: {rb(port, test, p, n):,.0f} req/s")
            print(f"server RSS after benchmarks: {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
