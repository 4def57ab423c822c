"""In-process cost of one redis-benchmark request, without sockets or the event loop.

µs per request to parse it (RESP: RequestParser, then the Redis-name mapping the
connection does), run its handler (dispatch.run), render the reply, and commit (one
LevelDB batch every 40 requests, about what one turn of the loop holds at -P 1 with 50
clients); the median of 3 runs of 30,000 requests, each on a fresh Database (so the
GETs find nothing and the memtable stays small).

Usage: python benchmarks/inprocess.py [set,get,incr,hset,lpush,zadd,mset]
(from a checkout; PYTHONPATH=<tree> measures another tree)
"""

from __future__ import annotations

import random
import shutil
import statistics
import sys
import tempfile
import time

import ssdbpy.commands.all  # noqa: F401  (every command registered)
from ssdbpy.commands import redis_compat
from ssdbpy.commands.context import Context, ServerState
from ssdbpy.commands.dispatch import run
from ssdbpy.commands.registry import COMMANDS
from ssdbpy.db.database import Database
from ssdbpy.protocol.resp import encode_request
from ssdbpy.protocol.sniff import RequestParser
from ssdbpy.server.connection import _DIRECT

VALUE = b"x" * 100
DIRECT = _DIRECT[2]


def requests(op: str, n: int, rnd: random.Random) -> list[list[bytes]]:
    """``n`` requests as redis-benchmark sends them for test ``op`` (-r 100000 -d 100)."""
    def key() -> bytes:
        return b"key:%012d" % rnd.randrange(100000)

    make = {
        "set": lambda: [b"SET", key(), VALUE],
        "get": lambda: [b"GET", key()],
        "incr": lambda: [b"INCR", key()],
        "hset": lambda: [b"HSET", b"myhash", key(), VALUE],
        "lpush": lambda: [b"LPUSH", b"mylist", VALUE],
        "zadd": lambda: [b"ZADD", b"myzset", b"%d" % rnd.randrange(100000), key()],
        "mset": lambda: [b"MSET"] + [x for _ in range(10) for x in (key(), VALUE)],
    }[op]
    return [make() for _ in range(n)]


def measure(op: str, n: int = 30000) -> tuple[float, float, float, float]:
    """µs per request: parse, run, render, commit."""
    d = tempfile.mkdtemp(prefix="ssdbpy-inprocess-")
    db = Database.open(d)
    try:
        ctx = Context(ServerState(db))
        wire = [encode_request(r) for r in requests(op, n, random.Random(1))]
        parser = RequestParser()
        pc = time.perf_counter
        parse = handle = render = commit = 0.0
        for i, data in enumerate(wire):
            t0 = pc()
            parser.feed(data)
            _is_resp, args = parser.next()
            row = DIRECT.get(args[0])
            if row is not None:
                cmd, desc = row
                args[0] = cmd.name
            else:
                args, desc = redis_compat.translate(args)
                cmd = COMMANDS[args[0]]
            t1 = pc()
            reply = run(ctx, cmd, args)
            t2 = pc()
            desc.render(reply)
            t3 = pc()
            if i % 40 == 39:
                db.commit()
            t4 = pc()
            parse += t1 - t0
            handle += t2 - t1
            render += t3 - t2
            commit += t4 - t3
        f = 1e6 / n
        return parse * f, handle * f, render * f, commit * f
    finally:
        db.close()
        shutil.rmtree(d, ignore_errors=True)


def main() -> int:
    ops = sys.argv[1] if len(sys.argv) > 1 else "set,get,incr,hset,lpush,zadd,mset"
    for op in ops.split(","):
        runs = [measure(op) for _ in range(3)]
        p, h, r, c = (statistics.median(x) for x in zip(*runs))
        print(f"{op:6} parse {p:.2f}  run {h:.2f}  render {r:.2f}  commit (1 per 40) {c:.2f}  "
              f"total {p + h + r + c:.2f} us/request", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
