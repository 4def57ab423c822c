"""Hash commands (SSDB 1.9.8 proc_hash).

Names and fields longer than 255 bytes (or empty, for writes) make ``hset``,
``hincr``, ``hdel`` and the multi_* writes reply ``["error"]``; reads just find
nothing.  Scan limits are uint parses (``-1`` = unlimited), ``by`` an int parse.
"""

from __future__ import annotations

from ssdbpy import errors
from ssdbpy.cnum import int64, uint64, wrap_int64
from ssdbpy.commands.pacing import LONG, hash_over, limit_at, many_args
from ssdbpy.commands.registry import READ, WRITE, client_error_bare, command, found_pairs, reverse_start
from ssdbpy.db.slices import STEP, collect, collect_flat

OK = errors.OK
OK1 = [OK, b"1"]
OK0 = [OK, b"0"]
NOT_FOUND = [errors.NOT_FOUND]
#: hgetall's internal limit in SSDB
HGETALL_LIMIT = 2000000000


@command("hset", 4, WRITE)
def hset(ctx, args):
    return OK1 if ctx.db.hash.set(args[1], args[2], args[3]) else OK0


@command("hget", 3, READ)
def hget(ctx, args):
    v = ctx.db.hash.get(args[1], args[2])
    return NOT_FOUND if v is None else [OK, v]


@command("hdel", 3, WRITE)
def hdel(ctx, args):
    return OK1 if ctx.db.hash.delete(args[1], args[2]) else OK0


@command("hincr", 3, WRITE)
def hincr(ctx, args):
    by = int64(args[3]) if len(args) > 3 else 1
    return [OK, str(ctx.db.hash.incr(args[1], args[2], by)).encode()]


@command("hdecr", 3, WRITE)
def hdecr(ctx, args):
    by = wrap_int64(-int64(args[3])) if len(args) > 3 else -1
    return [OK, str(ctx.db.hash.incr(args[1], args[2], by)).encode()]


@command("hsize", 2, READ)
def hsize(ctx, args):
    return [OK, str(ctx.db.hash.size(args[1])).encode()]


@command("hexists", 3, READ)
def hexists(ctx, args):
    return OK1 if ctx.db.hash.get(args[1], args[2]) is not None else OK0


@command("hclear", 2, WRITE, long=hash_over())
def hclear(ctx, args):
    ctx.cooperate()
    return [OK, str(ctx.db.hash.clear(args[1], ctx.cooperate)).encode()]


@command("hfix", 2, WRITE)
def hfix(ctx, args):
    return [OK, str(ctx.db.hash.fix(args[1])).encode()]


# Long scans run in slices (db.slices) over one iterator: the same reply as at once.
def _pairs(ctx, pairs) -> list[bytes]:
    ctx.cooperate()  # a long request starts with the overlay committed (off the loop)
    return collect_flat(pairs, ctx.cooperate, [OK])


def _column(ctx, pairs, i: int) -> list[bytes]:
    ctx.cooperate()
    return collect((p[i] for p in pairs), ctx.cooperate, [OK])


@command("hgetall", 2, READ, long=hash_over())
def hgetall(ctx, args):
    return _pairs(ctx, ctx.db.hash.scan(args[1], b"", b"", HGETALL_LIMIT))


@command("hscan", 5, READ, long=hash_over(4))
def hscan(ctx, args):
    return _pairs(ctx, ctx.db.hash.scan(args[1], args[2], args[3], uint64(args[4])))


@command("hrscan", 5, READ, long=hash_over(4))
def hrscan(ctx, args):
    return _pairs(ctx, ctx.db.hash.rscan(args[1], args[2], args[3], uint64(args[4])))


@command("hkeys", 5, READ, long=hash_over(4))
def hkeys(ctx, args):
    return _column(ctx, ctx.db.hash.scan(args[1], args[2], args[3], uint64(args[4])), 0)


@command("hvals", 5, READ, long=hash_over(4))
def hvals(ctx, args):
    return _column(ctx, ctx.db.hash.scan(args[1], args[2], args[3], uint64(args[4])), 1)


@command("hlist", 4, READ, long=limit_at(3))
def hlist(ctx, args):
    ctx.cooperate()
    return [OK] + ctx.db.hash.list_names(args[1], args[2], uint64(args[3]), cooperate=ctx.cooperate)


@command("hrlist", 4, READ, long=limit_at(3))
def hrlist(ctx, args):
    ctx.cooperate()
    return [OK] + ctx.db.hash.list_names(reverse_start(args[1]), args[2], uint64(args[3]), True, cooperate=ctx.cooperate)


# --- multi -------------------------------------------------------------------
@command("multi_hset", 4, WRITE, arity_error=client_error_bare, long=many_args)
def multi_hset(ctx, args):
    """Fields are set in turn; the first invalid one answers ``["error"]`` and
    the fields before it stay written (as SSDB).  A long request is staged in
    slices (Context.atomic)."""
    if len(args) % 2:
        raise errors.ClientError()
    h = ctx.db.hash
    name = args[1]
    n = 0
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(2, len(args), 2 * STEP):
            for i in range(lo, min(lo + 2 * STEP, len(args)), 2):
                n += h.set(name, args[i], args[i + 1])
            if long:
                ctx.cooperate()
    return [OK, str(n).encode()]


@command("multi_hget", 3, READ, long=many_args)
def multi_hget(ctx, args):
    get = ctx.db.hash.get
    name = args[1]
    return found_pairs(args[2:], lambda f: get(name, f), ctx.cooperate)


@command("multi_hdel", 3, WRITE, long=many_args)
def multi_hdel(ctx, args):
    h = ctx.db.hash
    name = args[1]
    n = 0
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(2, len(args), STEP):
            for f in args[lo : lo + STEP]:
                n += h.delete(name, f)
            if long:
                ctx.cooperate()
    return [OK, str(n).encode()]


@command("multi_hexists", 3, READ, long=many_args)
def multi_hexists(ctx, args):
    get = ctx.db.hash.get
    name = args[1]
    out = [OK]
    for lo in range(2, len(args), STEP):
        for f in args[lo : lo + STEP]:
            out.append(f)
            out.append(b"1" if get(name, f) is not None else b"0")
        ctx.cooperate()
    return out


@command("multi_hsize", 2, READ, long=many_args)
def multi_hsize(ctx, args):
    size = ctx.db.hash.size
    out = [OK]
    for lo in range(1, len(args), STEP):
        for name in args[lo : lo + STEP]:
            out.append(name)
            out.append(str(size(name)).encode())
        ctx.cooperate()
    return out
