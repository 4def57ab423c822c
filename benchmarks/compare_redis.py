"""ssdbpy vs redis-server under redis-benchmark, interleaved A B A B.

Starts ssdbpy (binlog on, as shipped) and redis-server (persistence off) on
127.0.0.1 free ports, runs each test at -P 1 and -P 16 against both servers in
alternation, REPS times, and prints req/s and the median ratio ssdbpy/redis per
row. Usage: python benchmarks/compare_redis.py [--reps 3] [--quick]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# redis-benchmark test name -> row label
TESTS = [("set", "SET"), ("get", "GET"), ("incr", "INCR"), ("hset", "HSET"), ("lpush", "LPUSH"),
         ("zadd", "ZADD"), ("mset", "MSET (10 keys)")]
TARGETS = {  # issue #5: median ratio ssdbpy/redis, (-P 1, -P 16)
    "SET": (0.50, 0.30), "GET": (0.50, 0.30), "INCR": (0.50, 0.30), "HSET": (0.50, 0.30),
    "LPUSH": (0.50, 0.30), "ZADD": (0.45, 0.20), "MSET (10 keys)": (0.40, 0.25),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start_ssdbpy(workdir: Path, port: int, cache_mb: int = 500, repo: Path = REPO) -> subprocess.Popen:
    """An ssdbpy process (binlog on, as shipped) with ``workdir`` as its home, running the
    source tree ``repo`` (the process runs in ``workdir``, so no other tree is importable)."""
    (workdir / "var").mkdir(parents=True)
    conf = workdir / "ssdb.conf"
    conf.write_text(
        "work_dir = ./var\n\nserver:\n\tip: 127.0.0.1\n\tport: %d\n\nreplication:\n\tbinlog: yes\n"
        "\t\tcapacity: 20000000\n\nlogger:\n\tlevel: error\n\toutput: log.txt\n\n"
        "leveldb:\n\tcache_size: %d\n\twrite_buffer_size: 64\n\tcompression: yes\n" % (port, cache_mb)
    )
    env = dict(os.environ, PYTHONPATH=str(repo))
    p = subprocess.Popen([sys.executable, "-m", "ssdbpy.apps.server", str(conf)], env=env, cwd=workdir,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def start_redis(workdir: Path, port: int) -> subprocess.Popen:
    p = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                          "--appendonly", "no", "--dir", str(workdir)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def bench(port: int, test: str, pipeline: int, n: int, keyspace: int = 100000) -> float:
    """req/s of one ``redis-benchmark -c 50 -d 100 -r keyspace`` run."""
    out = subprocess.run(
        ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-d", "100", "-r", str(keyspace),
         "-P", str(pipeline), "-n", str(n), "-t", test, "--csv"],
        capture_output=True, text=True, timeout=600,
    ).stdout
    rows = [r for r in csv.reader(io.StringIO(out)) if r and r[0] != "test"]
    if not rows:
        raise RuntimeError(f"redis-benchmark -t {test} printed nothing on port {port}")
    return float(rows[0][1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    ap.add_argument("--tests", default="", help="comma-separated redis-benchmark tests (default: all rows)")
    ap.add_argument("--pipelines", default="1,16", help="comma-separated -P values (default: 1,16)")
    a = ap.parse_args(argv)
    if not shutil.which("redis-benchmark") or not shutil.which("redis-server"):
        print("needs redis-benchmark and redis-server (apt-get install redis-tools redis-server)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-bench-"))
    sp, rp = free_port(), free_port()
    procs = [start_ssdbpy(tmp / "ssdbpy", sp), start_redis(tmp, rp)]
    results: dict[tuple[str, int], dict[str, list[float]]] = {}
    try:
        only = set(filter(None, a.tests.split(",")))
        for pipeline in (int(x) for x in a.pipelines.split(",")):
            for test, label in TESTS:
                if only and test not in only:
                    continue
                n = (20000 if pipeline == 1 else 200000) // (4 if a.quick else 1)
                if test == "mset":
                    n //= 4
                row = results.setdefault((label, pipeline), {"ssdbpy": [], "redis": []})
                for _ in range(a.reps):
                    row["ssdbpy"].append(bench(sp, test, pipeline, n))
                    row["redis"].append(bench(rp, test, pipeline, n))
                ratios = [s / r for s, r in zip(row["ssdbpy"], row["redis"])]
                target = TARGETS[label][0 if pipeline == 1 else 1]
                med = statistics.median(ratios)
                print(f"{label:15s} -P {pipeline:<2d}  ssdbpy {statistics.median(row['ssdbpy']):>10.0f} req/s   "
                      f"redis {statistics.median(row['redis']):>10.0f} req/s   ratio {med:.2f} "
                      f"(target {target:.2f} {'met' if med >= target else 'NOT met'})", flush=True)
    finally:
        stop(procs, tmp)
    return 0


def stop(procs: list[subprocess.Popen], tmp: Path) -> None:
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
