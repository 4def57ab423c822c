"""ssdb-cli's ``export [-i] file`` and ``import file`` (tools.md §1.5).

The file has one line per item, fields TAB-separated and each encoded with
Python 2's ``string-escape``: ``set key value``, ``hset name field value``,
``zset name member score``, ``qpush name item``.  Export walks the server with
scan/hlist/hscan/zlist/zscan/qlist/qrange (bounds inclusive, as SSDB's);
import sends each line as a request.  Unlike SSDB, import pipelines its
requests, reports every line it could not read or the server refused, goes on
after them, and ends with their count.
"""

from __future__ import annotations

import os
from typing import Callable, Iterator, TextIO

from ssdbpy.cli import escape
from ssdbpy.cli.link import Link
from ssdbpy.cli.render import Response, py2_str

BATCH = 1000
IMPORT_PIPELINE = 500


class TransferError(Exception):
    pass


def _ok(r: Response) -> Response:
    if r.code == b"disconnected":
        raise TransferError("Connection closed")
    return r


def leveldb_size_mb(link: Link) -> int:
    """Sum of the Size(MB) column of info's leveldb.stats (SSDB's progress base)."""
    r = link.call(b"info")
    data = r.data if r.ok and isinstance(r.data, list) else []
    for i, name in enumerate(data[:-1]):
        if name != b"leveldb.stats":
            continue
        total = 0
        for line in data[i + 1].strip().split(b"\n")[3:]:
            ps = line.split()
            if len(ps) > 2:
                try:
                    total += int(float(ps[2]))
                except ValueError:
                    pass
        return total
    return 0


class _Progress:
    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = max(total, 1)
        self.done = 0
        self.shown = 0

    def add(self, n: int) -> None:
        self.done += n
        self.show()

    def show(self, final: bool = False) -> None:
        pct = 100 if final else min(int(self.done / self.total * 100), 100)
        if pct - self.shown >= 5 or final:
            self.shown = pct
            self.out.write("%2d%%\n" % pct)
            self.out.flush()


# --- export -------------------------------------------------------------------------------
def _kv(link: Link, start: bytes, end: bytes) -> Iterator[list[bytes]]:
    if start:  # scan is start-exclusive; SSDB's export includes the start key
        r = _ok(link.call(b"get", start))
        if r.ok:
            yield [b"set", start, r.data]
    key = start
    while True:
        r = _ok(link.call(b"scan", key, end, b"%d" % BATCH))
        if not r.ok or not r.data[0]:
            return
        index, items = r.data
        for k in index:
            yield [b"set", k, items[k]]
        key = index[-1]


def _names(link: Link, cmd: bytes, start: bytes, end: bytes) -> Iterator[bytes]:
    """hlist/zlist/qlist names in [start, end] (start inclusive, as SSDB's export)."""
    key = start
    first = True
    while True:
        r = _ok(link.call(cmd, key, end, b"%d" % BATCH))
        if first and start:
            yield start  # probed like SSDB: an empty scan of a missing name yields nothing
        first = False
        if not r.ok or not r.data:
            return
        yield from r.data
        key = r.data[-1]


def _hash(link: Link, name: bytes) -> Iterator[list[bytes]]:
    key = b""
    while True:
        r = _ok(link.call(b"hscan", name, key, b"", b"%d" % BATCH))
        if not r.ok or not r.data[0]:
            return
        index, items = r.data
        for k in index:
            yield [b"hset", name, k, items[k]]
        key = index[-1]


def _zset(link: Link, name: bytes) -> Iterator[list[bytes]]:
    key, score = b"", b""
    while True:
        r = _ok(link.call(b"zscan", name, key, score, b"", b"%d" % BATCH))
        if not r.ok or not r.data[0]:
            return
        index, items = r.data
        for k in index:
            yield [b"zset", name, k, py2_str(items[k])]
        key, score = index[-1], py2_str(items[index[-1]])


def _queue(link: Link, name: bytes) -> Iterator[list[bytes]]:
    offset = 0
    while True:
        r = _ok(link.call(b"qrange", name, b"%d" % offset, b"%d" % BATCH))
        if not r.ok or not r.data:
            return
        for item in r.data:
            yield [b"qpush", name, item]
        offset += len(r.data)


def export(link: Link, args: list[bytes], out: TextIO, err: TextIO,
           ask: Callable[[str], bytes]) -> None:
    interactive = False
    output: bytes | None = None
    for a in args:
        if a == b"-i":
            interactive = True
        else:
            output = a
    if output is None:
        err.write("Usage: export [-i] out_file\n")
        return
    path = os.fsdecode(output)
    if os.path.exists(path):
        out.write(f"Error: {path} already exists!\n")
        return
    ranges = {t: (b"", b"") for t in ("kv", "hash", "zset", "queue")}
    if interactive:
        for t, title in (("kv", "KV range[start, end]"), ("hash", "HASH range"), ("zset", "ZSET range"),
                         ("queue", "QUEUE range")):
            out.write(f"input {title}: \n")
            s = ask("  start(inclusive, default none): ")
            e = ask("    end(inclusive, default none): ")
            ranges[t] = (s, e)
    progress = _Progress(out, leveldb_size_mb(link) * 1024 * 1024)

    def items() -> Iterator[list[bytes]]:
        yield from _kv(link, *ranges["kv"])
        for name in _names(link, b"hlist", *ranges["hash"]):
            yield from _hash(link, name)
        for name in _names(link, b"zlist", *ranges["zset"]):
            yield from _zset(link, name)
        for name in _names(link, b"qlist", *ranges["queue"]):
            yield from _queue(link, name)

    with open(path, "wb") as f:
        for fields in items():
            line = b"\t".join(escape.encode(x) for x in fields) + b"\n"
            f.write(line)
            progress.add(len(line))
    progress.show(final=True)
    out.write("done.\n")
    out.flush()


# --- import -------------------------------------------------------------------------------
#: failed lines reported one by one; the count at the end covers them all
MAX_REPORTED = 100


def import_file(link: Link, args: list[bytes], out: TextIO, err: TextIO) -> int:
    """Send every line of the file as a request; returns the number of lines that failed.

    A line that is not ``command<TAB>arg…`` with valid escapes, or that the
    server refuses, is reported on ``err`` with its number (the first
    :data:`MAX_REPORTED` of them) and skipped; the import goes on (SSDB's
    stopped at the first bad line, and ignored the server's replies).  The
    count of failed lines ends the run.
    """
    if not args:
        err.write("Usage: import in_file\n")
        return 1
    path = os.fsdecode(args[0])
    if not os.path.exists(path):
        out.write(f"Error: {path} not exists!\n")
        return 1
    progress = _Progress(out, os.path.getsize(path))
    bad_format = refused = 0
    pending: list[tuple[int, list[bytes]]] = []

    def report(text: str) -> None:
        if bad_format + refused <= MAX_REPORTED:
            err.write(text)
        elif bad_format + refused == MAX_REPORTED + 1:
            err.write("(more failed lines are not shown; only their count, at the end)\n")

    def flush() -> None:
        nonlocal refused
        if not pending:
            return
        c = link.client
        if c is None:
            raise TransferError("Connection closed")
        try:
            c.send_many(req for _, req in pending)
            replies = [c.read() for _ in pending]
        except OSError as exc:
            link.close()
            raise TransferError(f"Connection closed: {exc}") from None
        for (lineno, _), rep in zip(pending, replies):
            if rep[0] != b"ok":
                refused += 1
                report(f"Error: line {lineno} refused by the server: "
                       + b": ".join(rep[:2]).decode("utf-8", "replace") + "\n")
        pending.clear()

    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            progress.add(len(raw))
            ps = raw.rstrip(b"\r\n").split(b"\t")
            why = ""
            if len(ps) < 2:
                why = "expected command<TAB>arguments"
            else:
                try:
                    fields = [escape.decode(p) for p in ps[1:]]
                except ValueError as exc:
                    why = str(exc)
            if why:
                bad_format += 1
                report(f"Error: bad format at line {lineno} ({why}), skipped\n")
                continue
            pending.append((lineno, [ps[0].lower(), *fields]))
            if len(pending) >= IMPORT_PIPELINE:
                flush()
    flush()
    progress.show(final=True)
    out.write("done.\n")
    failed = bad_format + refused
    if failed:
        err.write(f"{failed} line(s) failed: {bad_format} bad format, {refused} refused by the server\n")
    out.flush()
    err.flush()
    return failed
