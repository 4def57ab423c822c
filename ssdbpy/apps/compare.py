"""``ssdb-compare``: compare N nodes by content and name the keys that differ.

    ssdb-compare [-a <password>] [-t all|kv|hash|zset|queue] [--leaf N] host:port host:port ...

Per type, asks every node for the ``digest`` of a name range (the whole type
first); where the digests differ it splits the range at the byte-wise midpoint
of the lowest and highest names the nodes hold in it, and recurses, and once a range holds at most ``--leaf`` keys on every node it
lists their per-key digests (``digest_keys``) and names the keys that are
missing somewhere or differ.  Prints one line per differing key
(``<type> <name>: <node>=<digest prefix>|missing ...``) and a summary.
Exit status: 0 identical, 1 differences found, 2 a node could not be asked.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable

from ssdbpy.client import Client
from ssdbpy.db.digest import TYPES

#: splits after which a range is listed whatever its size (a guard against endless bisection)
MAX_DEPTH = 200

Ask = Callable[..., list[bytes]]


def midpoint(start: bytes, end: bytes) -> bytes | None:
    """A name ``m`` with ``start < m < end`` (``end == b""``: unbounded), or None if there is none
    short enough; names are compared as byte strings."""
    hi = end if end else b"\xff" * (len(start) + 2)
    for width in range(max(len(start), len(hi)) + 1, max(len(start), len(hi)) + 4):
        a = int.from_bytes(start.ljust(width, b"\0"), "big")
        b = int.from_bytes(hi.ljust(width, b"\0"), "big")
        m = ((a + b) // 2).to_bytes(width, "big").rstrip(b"\0")
        if start < m and (not end or m < end):
            return m
    return None


class Comparer:
    def __init__(self, nodes: list[str], asks: list[Ask], leaf: int = 64) -> None:
        self.nodes = nodes
        self.asks = asks
        self.leaf = leaf
        self.requests = 0
        #: (type, name, {node: hex or None})
        self.differences: list[tuple[str, bytes, dict[str, str | None]]] = []

    def _all(self, *req) -> list[list[bytes]]:
        out = []
        for node, ask in zip(self.nodes, self.asks):
            self.requests += 1
            r = ask(*req)
            if not r or r[0] != b"ok":
                raise RuntimeError(f"{node}: {' '.join(x.decode('latin-1') for x in req)}: {r!r}")
            out.append(r)
        return out

    def compare(self, kind: str, start: bytes = b"", end: bytes = b"", depth: int = 0) -> None:
        replies = self._all("digest", kind, start, end)
        if all(r[1] == replies[0][1] for r in replies):
            return
        counts = [int(r[2]) for r in replies]
        m = None
        if max(counts) > self.leaf and depth < MAX_DEPTH:
            # split between the lowest and the highest name any node has in the range
            first = min(r[3] for r in replies if int(r[2]))
            last = max(r[4] for r in replies)
            m = midpoint(first, last) if first < last else None
            if m is None and start < first < last:
                m = first
        if m is None:
            self._list(kind, start, end, max(counts))
            return
        self.compare(kind, start, m, depth + 1)
        self.compare(kind, m, end, depth + 1)

    def _list(self, kind: str, start: bytes, end: bytes, count: int) -> None:
        per_node = []
        for r in self._all("digest_keys", kind, start, end, count + 1):
            it = iter(r[1:])
            per_node.append(dict(zip(it, it)))
        for name in sorted(set().union(*per_node)):
            seen = [d.get(name) for d in per_node]
            if any(s != seen[0] for s in seen):
                self.differences.append((kind, name, {
                    n: (s.decode() if s is not None else None) for n, s in zip(self.nodes, seen)}))


def _parse_node(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not host:port: {text}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="ssdb-compare", description="Compare ssdbpy nodes by content.")
    p.add_argument("-a", dest="auth", help="password")
    p.add_argument("-t", dest="type", default="all", choices=("all",) + TYPES)
    p.add_argument("--leaf", type=int, default=64, help="list a range once it has at most N keys")
    p.add_argument("nodes", nargs="+", type=_parse_node, metavar="host:port")
    args = p.parse_args(argv)
    if len(args.nodes) < 2:
        p.error("give at least two nodes")
    names = [f"{h}:{port}" for h, port in args.nodes]
    clients = []
    try:
        for h, port in args.nodes:
            c = Client(h, port, timeout=60)
            clients.append(c)
            if args.auth:
                c.request("auth", args.auth)
        cmp = Comparer(names, [c.request for c in clients], max(args.leaf, 1))
        for kind in TYPES if args.type == "all" else (args.type,):
            cmp.compare(kind)
    except (OSError, RuntimeError) as exc:
        sys.stderr.write(f"ERROR: {exc}\n")
        return 2
    finally:
        for c in clients:
            c.close()
    for kind, name, seen in cmp.differences:
        cells = " ".join(f"{n}={(v or 'missing')[:12]}" for n, v in seen.items())
        sys.stdout.write(f"{kind} {name.decode('utf-8', 'backslashreplace')}: {cells}\n")
    sys.stdout.write(f"{len(cmp.differences)} key(s) differ; {cmp.requests} requests\n")
    return 1 if cmp.differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
