"""Logical snapshot of a whole node (every key of every type) for convergence checks."""

from __future__ import annotations

EXPIRE_ZSET = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"
ALL = "-1"


def _pairs(blocks: list[bytes]) -> list[tuple[bytes, bytes]]:
    assert blocks[0] == b"ok", blocks
    return list(zip(blocks[1::2], blocks[2::2]))


def snapshot(c) -> dict:
    """kv, hashes, zsets (incl. the TTL index), queues of the node behind client ``c``."""
    out: dict = {"kv": dict(_pairs(c("scan", "", "", ALL)))}
    out["hash"] = {n: _pairs(c("hgetall", n)) for n in c("hlist", "", "", ALL)[1:]}
    out["zset"] = {n: _pairs(c("zscan", n, "", "", "", ALL)) for n in c("zlist", "", "", ALL)[1:]}
    out["queue"] = {n: c("qrange", n, "0", "-1")[1:] for n in c("qlist", "", "", ALL)[1:]}
    return out


def describe_difference(a: dict, b: dict) -> str:
    lines = []
    for kind in ("kv", "hash", "zset", "queue"):
        ka, kb = a[kind], b[kind]
        for k in sorted(set(ka) | set(kb)):
            if ka.get(k) != kb.get(k):
                va, vb = ka.get(k), kb.get(k)
                if isinstance(va, list) and isinstance(vb, list):
                    i = next((j for j, (x, y) in enumerate(zip(va, vb)) if x != y), min(len(va), len(vb)))
                    lines.append(f"{kind} {k!r}: lengths {len(va)} != {len(vb)}, first difference at {i}: {va[i:i+3]} != {vb[i:i+3]}")
                else:
                    lines.append(f"{kind} {k!r}: {str(va)[:120]} != {str(vb)[:120]}")
    return "\n".join(lines[:30]) or "identical"
