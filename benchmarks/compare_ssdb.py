"""ssdbpy vs the reference SSDB 1.9.8 server under redis-benchmark, interleaved.

Starts ssdbpy and ``ssdb-server`` (and, with ``--redis``, redis-server with
persistence off) on free 127.0.0.1 ports, each in its own temporary directory,
with the same configuration file: binlog on, LevelDB cache 500 MB, write
buffer 64 MB, compression on, log level error.  Each row runs
``redis-benchmark -c 50 -n N -d 100 -r 100000 -P P -t TEST`` against every
server in turn (ssdbpy, SSDB[, redis]), REPS times, and the table gives the
median req/s per server and the median of the per-repetition ratios
ssdbpy/SSDB (a ratio only means something when both figures come from the
same minutes, as the machines these run on are shared).

Usage: python benchmarks/compare_ssdb.py [--reps 3] [--quick] [--requests N]
       [--tests set,get] [--pipelines 1,16] [--redis]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_redis import bench, free_port, start_redis, start_ssdbpy, stop, wait_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SSDB_BINARY = Path(os.environ.get("SSDB_SERVER", REPO.parent / "shared" / "reference" / "ssdb-1.9.8" / "ssdb-server"))

# redis-benchmark test name -> row label
TESTS = [("set", "SET"), ("get", "GET"), ("incr", "INCR"), ("hset", "HSET"), ("lpush", "LPUSH"),
         ("zadd", "ZADD"), ("mset", "MSET(10)")]
TARGETS = {1: 1.0, 16: 2.0}  # issue 14: median ratio ssdbpy/SSDB per pipeline depth


def start_ssdb(workdir: Path, port: int, cache_mb: int = 500) -> subprocess.Popen:
    """``ssdb-server ssdb.conf`` run in ``workdir``, configured as :func:`start_ssdbpy` configures ssdbpy."""
    (workdir / "var").mkdir(parents=True)
    conf = workdir / "ssdb.conf"
    conf.write_text(
        "work_dir = ./var\npidfile = ./ssdb.pid\n\nserver:\n\tip: 127.0.0.1\n\tport: %d\n\n"
        "replication:\n\tbinlog: yes\n\t\tcapacity: 20000000\n\nlogger:\n\tlevel: error\n\toutput: log.txt\n\n"
        "leveldb:\n\tcache_size: %d\n\twrite_buffer_size: 64\n\tcompression: yes\n" % (port, cache_mb)
    )
    p = subprocess.Popen([str(SSDB_BINARY), str(conf)], cwd=workdir, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port)
    return p


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=50000, help="redis-benchmark -n per run (default 50000)")
    ap.add_argument("--quick", action="store_true", help="10000 requests per run and 1 repetition (development)")
    ap.add_argument("--tests", default="", help="comma-separated redis-benchmark tests (default: all rows)")
    ap.add_argument("--pipelines", default="1,16", help="comma-separated -P values (default: 1,16)")
    ap.add_argument("--redis", action="store_true", help="also run redis-server (persistence off) as a second reference")
    a = ap.parse_args(argv)
    if a.quick:
        a.requests, a.reps = 10000, 1
    if not shutil.which("redis-benchmark"):
        print("needs redis-benchmark (apt-get install redis-tools)", file=sys.stderr)
        return 2
    if not SSDB_BINARY.is_file():
        print(f"reference SSDB server not found at {SSDB_BINARY} (set SSDB_SERVER)", file=sys.stderr)
        return 2
    if a.redis and not shutil.which("redis-server"):
        print("--redis needs redis-server (apt-get install redis-server)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-vs-ssdb-"))
    names = ["ssdbpy", "ssdb"] + (["redis"] if a.redis else [])
    ports = {name: free_port() for name in names}
    procs: list[subprocess.Popen] = []
    try:
        procs.append(start_ssdbpy(tmp / "ssdbpy", ports["ssdbpy"]))
        procs.append(start_ssdb(tmp / "ssdb", ports["ssdb"]))
        if a.redis:
            procs.append(start_redis(tmp, ports["redis"]))
        only = set(filter(None, a.tests.split(",")))
        print(f"redis-benchmark -c 50 -n {a.requests} -d 100 -r 100000, {a.reps} interleaved repetitions, "
              f"{os.cpu_count()} cores")
        head = f"{'row':10s} {'-P':>3s} {'ssdbpy':>10s} {'SSDB':>10s}" + (f" {'redis':>10s}" if a.redis else "")
        print(head + f"  {'ssdbpy/SSDB':>11s}  target" + ("  ssdbpy/redis" if a.redis else ""), flush=True)
        for pipeline in (int(x) for x in a.pipelines.split(",")):
            for test, label in TESTS:
                if only and test not in only:
                    continue
                rate: dict[str, list[float]] = {name: [] for name in names}
                for _ in range(a.reps):
                    for name in names:
                        rate[name].append(bench(ports[name], test, pipeline, a.requests))
                ratio = statistics.median(s / r for s, r in zip(rate["ssdbpy"], rate["ssdb"]))
                target = TARGETS.get(pipeline)
                line = f"{label:10s} {pipeline:>3d} " + " ".join(f"{statistics.median(rate[n]):>10.0f}" for n in names)
                line += f"  {ratio:>11.2f}  " + (f"{target:.1f} {'met' if ratio >= target else 'MISSED'}"
                                                 if target else "-")
                if a.redis:
                    line += f"  {statistics.median(s / r for s, r in zip(rate['ssdbpy'], rate['redis'])):>12.2f}"
                print(line, flush=True)
    finally:
        stop(procs, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
