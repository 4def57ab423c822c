"""In-process cost of a tombstone collection pass (storage/tombstones.py, no sockets): N
deleted keys on a versioned node, then one pass that only counts (no peer has acknowledged)
and one that collects everything; the time of each pass, its slices (GC_SLICE entries:
the server lets its clients in between two), the median and the longest slice.

Usage: PYTHONPATH=<tree> python benchmarks/tombstone_gc.py [-n 100000]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time

from ssdbpy.db.database import Database
from ssdbpy.replication.manager import GC_SLICE


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("-n", type=int, default=100_000)
    n = ap.parse_args(argv).n
    d = tempfile.mkdtemp(prefix="ssdbpy-gc-")
    db = Database.open(d)
    try:
        db.enable_versions()
        for i in range(n):
            db.kv.delete(b"key%08d" % i)
            if i % 1000 == 999:
                db.commit()
        db.commit()
        ts = db.binlog.versions.tombstones
        for upto, label in ((-1, "count only"), (db.binlog.max_seq, "collect all")):
            t0 = time.perf_counter()
            times = []
            more = True
            while more:
                s0 = time.perf_counter()
                more = ts.step(upto, GC_SLICE)
                times.append(time.perf_counter() - s0)
            print(f"{label:11s}: {n} entries, {time.perf_counter() - t0:.2f} s, {len(times)} slices, "
                  f"median slice {statistics.median(times) * 1000:.1f} ms, longest {max(times) * 1000:.1f} ms, "
                  f"held after: {ts.held}")
    finally:
        db.close()
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
