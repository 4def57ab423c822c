"""``digest`` and ``digest_keys``: compare nodes by content (docs/replication.md, "Comparing nodes").

``digest [all|kv|hash|zset|queue [start end]]`` -> ``ok <hex> <keys> <first>
<last>``: the digest (db/digest.py) of every key of the type(s) with a name in
``(start, end]`` (``""``: unbounded), how many keys it covers, and the lowest
and highest of their names (``""`` when none; ssdb-compare splits between them).

``digest_keys <kv|hash|zset|queue> <start> <end> <limit>`` -> ``ok name hex
name hex ...``: the digest of each of the first ``limit`` keys in ``(start,
end]``, for naming the keys that differ once a range is small.

Both read one snapshot and run in slices (``ctx.cooperate``), whatever the size.
"""

from __future__ import annotations

from itertools import islice

from ssdbpy import errors
from ssdbpy.cnum import uint64
from ssdbpy.commands.pacing import always
from ssdbpy.commands.registry import READ, command
from ssdbpy.db import digest as dg

OK = b"ok"


def _kinds(raw: bytes, allow_all: bool = True) -> tuple[str, ...]:
    t = raw.lower().decode("latin-1")
    if t == "all" and allow_all:
        return dg.TYPES
    if t not in dg.TYPES:
        raise errors.ClientError(errors.MSG_DIGEST_TYPE)
    return (t,)


def _range(args: list[bytes], i: int) -> tuple[bytes, bytes]:
    if len(args) <= i:
        return b"", b""
    if len(args) != i + 2:
        raise errors.wrong_args()
    return args[i], args[i + 1]


@command("digest", 1, READ, long=always)
def digest(ctx, args):
    kinds = _kinds(args[1]) if len(args) > 1 else dg.TYPES
    start, end = _range(args, 2)
    if len(args) > 2 and len(kinds) > 1:
        raise errors.ClientError(errors.MSG_DIGEST_TYPE)
    ctx.cooperate()
    hexd, n, first, last = dg.digest(ctx.db.engine, kinds, start, end, ctx.cooperate)
    return [OK, hexd, str(n).encode(), first, last]


@command("digest_keys", 5, READ, long=always)
def digest_keys(ctx, args):
    kinds = _kinds(args[1], allow_all=False)
    limit = uint64(args[4])
    ctx.cooperate()
    out = [OK]
    for _k, name, d in islice(dg.key_digests(ctx.db.engine, kinds, args[2], args[3], cooperate=ctx.cooperate),
                              limit):
        out += [name, d.hex().encode()]
    return out
