"""Two ssdbpy source trees against each other, interleaved A B A B (for one change's effect).

Starts one server per tree (each process runs in its own directory with only
its tree on PYTHONPATH), runs redis-benchmark rows against both in
alternation, and prints the median req/s, the server CPU time per request and
the median ratio B/A.  The machines these run on are noisy: only a ratio from
the same minutes means anything.

Usage: python benchmarks/ab.py TREE_A TREE_B [--tests get,set] [--pipelines 1,16] [--reps 3] [--requests N]
(a tree is a checkout, e.g. ``git worktree add /tmp/base HEAD~1``)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compare_redis import bench, free_port, start_ssdbpy, stop  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("--tests", default="get,set")
    ap.add_argument("--pipelines", default="1,16")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--requests", type=int, default=0,
                    help="redis-benchmark -n per run (default 20000 at -P 1, 200000 at -P 16; a quarter for mset)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ssdbpy-ab-"))
    trees = [a.tree_a.resolve(), a.tree_b.resolve()]
    ports = [free_port(), free_port()]
    procs = [start_ssdbpy(tmp / str(i), ports[i], repo=tree) for i, tree in enumerate(trees)]
    try:
        for pipeline in (int(x) for x in a.pipelines.split(",")):
            for test in a.tests.split(","):
                n = a.requests or (20000 if pipeline == 1 else 200000)
                if test == "mset":
                    n //= 4
                rate: list[list[float]] = [[], []]
                cpu: list[list[float]] = [[], []]
                for _ in range(a.reps):
                    for i in (0, 1):
                        c0 = cpu_seconds(procs[i].pid)
                        rate[i].append(bench(ports[i], test, pipeline, n))
                        cpu[i].append((cpu_seconds(procs[i].pid) - c0) / n * 1e6)
                ratio = statistics.median(b / x for x, b in zip(rate[0], rate[1]))
                print(f"{test:6s} -P {pipeline:<3d} A {statistics.median(rate[0]):>9.0f} req/s "
                      f"({statistics.median(cpu[0]):5.1f} us cpu/req)   B {statistics.median(rate[1]):>9.0f} req/s "
                      f"({statistics.median(cpu[1]):5.1f} us cpu/req)   B/A {ratio:.2f}", flush=True)
    finally:
        stop(procs, tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
