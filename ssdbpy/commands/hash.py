"""Hash commands (SSDB 1.9.8 proc_hash).

Names and fields longer than 255 bytes (or empty, for writes) make ``hset``,
``hincr``, ``hdel`` and the multi_* writes reply ``["error"]``; reads just find
nothing.  Scan limits are uint parses (``-1`` = unlimited), ``by`` an int parse.
"""

from __future__ import annotations

from ssdbpy import errors
from ssdbpy.cnum import int64, uint64, wrap_int64
from ssdbpy.commands.registry import READ, WRITE, client_error_bare, command, ok_pairs

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


@command("hclear", 2, WRITE)
def hclear(ctx, args):
    return [OK, str(ctx.db.hash.clear(args[1])).encode()]


@command("hfix", 2, WRITE)
def hfix(ctx, args):
    return [OK, str(ctx.db.hash.fix(args[1])).encode()]


@command("hgetall", 2, READ)
def hgetall(ctx, args):
    return ok_pairs(ctx.db.hash.scan(args[1], b"", b"", HGETALL_LIMIT))


@command("hscan", 5, READ)
def hscan(ctx, args):
    return ok_pairs(ctx.db.hash.scan(args[1], args[2], args[3], uint64(args[4])))


@command("hrscan", 5, READ)
def hrscan(ctx, args):
    return ok_pairs(ctx.db.hash.rscan(args[1], args[2], args[3], uint64(args[4])))


@command("hkeys", 5, READ)
def hkeys(ctx, args):
    return [OK] + [f for f, _ in ctx.db.hash.scan(args[1], args[2], args[3], uint64(args[4]))]


@command("hvals", 5, READ)
def hvals(ctx, args):
    return [OK] + [v for _, v in ctx.db.hash.scan(args[1], args[2], args[3], uint64(args[4]))]


@command("hlist", 4, READ)
def hlist(ctx, args):
    return [OK] + ctx.db.hash.list_names(args[1], args[2], uint64(args[3]))


@command("hrlist", 4, READ)
def hrlist(ctx, args):
    return [OK] + ctx.db.hash.list_names(args[1], args[2], uint64(args[3]), True)


# --- multi -------------------------------------------------------------------
@command("multi_hset", 4, WRITE, arity_error=client_error_bare)
def multi_hset(ctx, args):
    """Fields are set in turn; the first invalid one answers ``["error"]`` and
    the fields before it stay written (as SSDB)."""
    if len(args) % 2:
        raise errors.ClientError()
    h = ctx.db.hash
    name = args[1]
    n = 0
    for i in range(2, len(args), 2):
        n += h.set(name, args[i], args[i + 1])
    return [OK, str(n).encode()]


@command("multi_hget", 3, READ)
def multi_hget(ctx, args):
    h = ctx.db.hash
    name = args[1]
    out = [OK]
    for f in args[2:]:
        v = h.get(name, f)
        if v is not None:
            out.append(f)
            out.append(v)
    return out


@command("multi_hdel", 3, WRITE)
def multi_hdel(ctx, args):
    h = ctx.db.hash
    name = args[1]
    n = 0
    for f in args[2:]:
        n += h.delete(name, f)
    return [OK, str(n).encode()]


@command("multi_hexists", 3, READ)
def multi_hexists(ctx, args):
    h = ctx.db.hash
    name = args[1]
    out = [OK]
    for f in args[2:]:
        out.append(f)
        out.append(b"1" if h.get(name, f) is not None else b"0")
    return out


@command("multi_hsize", 2, READ)
def multi_hsize(ctx, args):
    h = ctx.db.hash
    out = [OK]
    for name in args[1:]:
        out.append(name)
        out.append(str(h.size(name)).encode())
    return out
