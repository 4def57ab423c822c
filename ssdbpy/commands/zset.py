"""Sorted-set commands (SSDB 1.9.8 proc_zset, commands.md §4).

Scores and rank indexes are int parsed (``strtoll``), offsets and limits uint
parsed (``strtoull``: ``-1`` = no limit).  Writes refuse names and members
longer than 255 bytes with ``["error"]``; ``zset``/``multi_zset``/``zincr``
silently store nothing for an empty name or member.
"""

from __future__ import annotations

from ssdbpy import errors
from ssdbpy.cnum import UINT64_MAX, int64, uint64, wrap_int64
from ssdbpy.commands.pacing import LONG, limit_at, many_args, zset_over
from ssdbpy.commands.registry import READ, WRITE, client_error_bare, command, found_pairs, reverse_start
from ssdbpy.db.slices import STEP
from ssdbpy.storage.keys import MAX_NAME

OK = errors.OK
OK1 = [OK, b"1"]
OK0 = [OK, b"0"]
NOT_FOUND = [errors.NOT_FOUND]


def _check_len(name: bytes, member: bytes) -> None:
    if len(name) > MAX_NAME or len(member) > MAX_NAME:
        raise errors.ServerError()


def _bound(raw: bytes) -> int | None:
    """A score bound: empty = unbounded (None), else int parse."""
    return int64(raw) if raw else None


def _pairs(pairs, ctx=None) -> list[bytes]:
    """``ok, member, score, ...``; with ``ctx``, ``ctx.cooperate()`` between slices."""
    out = [OK]
    push = out.append
    for i, (member, score) in enumerate(pairs, 1):
        push(member)
        push(b"%d" % score)
        if ctx is not None and not i % STEP:
            ctx.cooperate()
    return out


# --- single members ------------------------------------------------------------
@command("zset", 4, WRITE)
def zset(ctx, args):
    name = args[1]
    member = args[2]
    if not name or not member:
        return OK0
    _check_len(name, member)
    return OK1 if ctx.db.zset.set(name, member, int64(args[3])) else OK0


@command("zget", 3, READ)
def zget(ctx, args):
    v = ctx.db.zset.get(args[1], args[2])
    return NOT_FOUND if v is None else [OK, v]


@command("zdel", 3, WRITE)
def zdel(ctx, args):
    name = args[1]
    member = args[2]
    _check_len(name, member)
    return OK1 if ctx.db.zset.delete(name, member) else OK0


@command("zexists", 3, READ)
def zexists(ctx, args):
    return OK0 if ctx.db.zset.get(args[1], args[2]) is None else OK1


def _incr(ctx, args, negate: bool):
    name = args[1]
    member = args[2]
    by = int64(args[3]) if len(args) > 3 else 1
    if negate:
        by = wrap_int64(-by)
    z = ctx.db.zset
    if not name or not member:
        # SSDB computes the value but stores nothing
        cur = z.score(name, member)
        return [OK, b"%d" % (by if cur is None else wrap_int64(cur + by))]
    _check_len(name, member)
    return [OK, b"%d" % z.incr(name, member, by)]


@command("zincr", 3, WRITE)
def zincr(ctx, args):
    return _incr(ctx, args, False)


@command("zdecr", 3, WRITE)
def zdecr(ctx, args):
    return _incr(ctx, args, True)


@command("zsize", 2, READ)
def zsize(ctx, args):
    return [OK, b"%d" % ctx.db.zset.size(args[1])]


# --- rank and ranges -------------------------------------------------------------
# Long walks run in slices (db.slices) over one iterator: the same reply as at once.
# Every long handler starts with ctx.cooperate(): the overlay committed off the loop.
@command("zrank", 3, READ, long=zset_over())
def zrank(ctx, args):
    ctx.cooperate()
    r = ctx.db.zset.rank(args[1], args[2], cooperate=ctx.cooperate)
    return NOT_FOUND if r is None else [OK, b"%d" % r]


@command("zrrank", 3, READ, long=zset_over())
def zrrank(ctx, args):
    ctx.cooperate()
    r = ctx.db.zset.rank(args[1], args[2], reverse=True, cooperate=ctx.cooperate)
    return NOT_FOUND if r is None else [OK, b"%d" % r]


@command("zrange", 4, READ, long=zset_over(3))
def zrange(ctx, args):
    ctx.cooperate()
    return _pairs(ctx.db.zset.range(args[1], uint64(args[2]), uint64(args[3]), cooperate=ctx.cooperate), ctx)


@command("zrrange", 4, READ, long=zset_over(3))
def zrrange(ctx, args):
    ctx.cooperate()
    return _pairs(ctx.db.zset.range(args[1], uint64(args[2]), uint64(args[3]), reverse=True,
                                    cooperate=ctx.cooperate), ctx)


@command("redis_zrange", 4, READ, long=zset_over())
def redis_zrange(ctx, args):
    ctx.cooperate()
    return _pairs(ctx.db.zset.redis_range(args[1], int64(args[2]), int64(args[3]), cooperate=ctx.cooperate), ctx)


@command("redis_zrrange", 4, READ, long=zset_over())
def redis_zrrange(ctx, args):
    ctx.cooperate()
    return _pairs(ctx.db.zset.redis_range(args[1], int64(args[2]), int64(args[3]), reverse=True,
                                          cooperate=ctx.cooperate), ctx)


def _scan(ctx, args, reverse: bool, offset_mode: bool = True):
    """zscan/zrscan/zkeys: ``name key_start score_start score_end limit [count]``.

    With the 6th parameter (offset mode) ``limit`` is the offset and the walk
    stops after ``offset + count`` items (uint64 wrap-around, as SSDB).
    """
    limit = uint64(args[5])
    offset = 0
    if offset_mode and len(args) > 6:
        offset = limit
        limit = (offset + uint64(args[6])) & UINT64_MAX
    ctx.cooperate()
    return ctx.db.zset.scan(args[1], args[2], _bound(args[3]), _bound(args[4]), limit, offset, reverse,
                            ctx.cooperate)


@command("zscan", 6, READ, long=zset_over(5, 6))
def zscan(ctx, args):
    return _pairs(_scan(ctx, args, False), ctx)


@command("zrscan", 6, READ, long=zset_over(5, 6))
def zrscan(ctx, args):
    return _pairs(_scan(ctx, args, True), ctx)


@command("zkeys", 6, READ, long=zset_over(5))
def zkeys(ctx, args):
    return [OK] + [m for m, _s in _scan(ctx, args, False, offset_mode=False)]


@command("zlist", 4, READ, long=limit_at(3))
def zlist(ctx, args):
    ctx.cooperate()
    return [OK] + ctx.db.zset.list_names(args[1], args[2], uint64(args[3]), cooperate=ctx.cooperate)


@command("zrlist", 4, READ, long=limit_at(3))
def zrlist(ctx, args):
    ctx.cooperate()
    return [OK] + ctx.db.zset.list_names(reverse_start(args[1]), args[2], uint64(args[3]), reverse=True, cooperate=ctx.cooperate)


# --- aggregates -------------------------------------------------------------------
@command("zcount", 4, READ, long=zset_over())
def zcount(ctx, args):
    ctx.cooperate()
    return [OK, b"%d" % ctx.db.zset.count(args[1], _bound(args[2]), _bound(args[3]), ctx.cooperate)]


@command("zsum", 4, READ, long=zset_over())
def zsum(ctx, args):
    ctx.cooperate()
    total, _n = ctx.db.zset.sum_count(args[1], _bound(args[2]), _bound(args[3]), ctx.cooperate)
    return [OK, b"%d" % total]


@command("zavg", 4, READ, long=zset_over())
def zavg(ctx, args):
    ctx.cooperate()
    total, n = ctx.db.zset.sum_count(args[1], _bound(args[2]), _bound(args[3]), ctx.cooperate)
    # C: printf("%f", (double)sum / count); 0/0 is printed "-nan" by glibc
    return [OK, b"%f" % (float(total) / n) if n else b"-nan"]


# --- bulk removal -------------------------------------------------------------------
# A long request deletes in slices, each committed before the others run (as SSDB's loop of
# single deletes), with the members to delete read from one walk first.
@command("zremrangebyrank", 4, WRITE, long=zset_over())
def zremrangebyrank(ctx, args):
    start, stop = int64(args[2]), int64(args[3])
    ctx.cooperate()
    return [OK, b"%d" % ctx.db.zset.remove_range_by_rank(args[1], start, stop, ctx.cooperate)]


@command("zremrangebyscore", 4, WRITE, long=zset_over())
def zremrangebyscore(ctx, args):
    start, end = _bound(args[2]), _bound(args[3])
    ctx.cooperate()
    n = ctx.db.zset.remove_range_by_score(args[1], start, end, ctx.cooperate)
    return [OK, b"%d" % n]


@command("zpop_front", 3, WRITE, long=zset_over(2))
def zpop_front(ctx, args):
    limit = uint64(args[2])
    ctx.cooperate()
    return _pairs(ctx.db.zset.pop(args[1], limit, cooperate=ctx.cooperate))


@command("zpop_back", 3, WRITE, long=zset_over(2))
def zpop_back(ctx, args):
    limit = uint64(args[2])
    ctx.cooperate()
    return _pairs(ctx.db.zset.pop(args[1], limit, back=True, cooperate=ctx.cooperate))


@command("zclear", 2, WRITE, long=zset_over())
def zclear(ctx, args):
    ctx.cooperate()
    return [OK, b"%d" % ctx.db.zset.clear(args[1], ctx.cooperate)]


@command("zfix", 2, WRITE)
def zfix(ctx, args):
    return [OK, b"%d" % ctx.db.zset.fix(args[1])]


# --- multi ------------------------------------------------------------------------------
@command("multi_zset", 4, WRITE, arity_error=client_error_bare, long=many_args)
def multi_zset(ctx, args):
    """A long request is staged in slices (Context.atomic)."""
    if len(args) % 2:
        raise errors.ClientError()
    name = args[1]
    z = ctx.db.zset
    n = 0
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(2, len(args), 2 * STEP):
            for i in range(lo, min(lo + 2 * STEP, len(args)), 2):
                member = args[i]
                if not name or not member:
                    continue
                # earlier members stay written, as in SSDB
                _check_len(name, member)
                n += z.set(name, member, int64(args[i + 1]))
            if long:
                ctx.cooperate()
    return [OK, b"%d" % n]


@command("multi_zget", 3, READ, long=many_args)
def multi_zget(ctx, args):
    name = args[1]
    get = ctx.db.zset.get
    return found_pairs(args[2:], lambda member: get(name, member), ctx.cooperate)


@command("multi_zdel", 3, WRITE, long=many_args)
def multi_zdel(ctx, args):
    name = args[1]
    z = ctx.db.zset
    n = 0
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(2, len(args), STEP):
            for member in args[lo : lo + STEP]:
                _check_len(name, member)
                n += z.delete(name, member)
            if long:
                ctx.cooperate()
    return [OK, b"%d" % n]


@command("multi_zexists", 3, READ, long=many_args)
def multi_zexists(ctx, args):
    name = args[1]
    get = ctx.db.zset.get
    out = [OK]
    for lo in range(2, len(args), STEP):
        for member in args[lo : lo + STEP]:
            out.append(member)
            out.append(b"0" if get(name, member) is None else b"1")
        ctx.cooperate()
    return out


@command("multi_zsize", 2, READ, long=many_args)
def multi_zsize(ctx, args):
    size = ctx.db.zset.size
    out = [OK]
    for lo in range(1, len(args), STEP):
        for name in args[lo : lo + STEP]:
            out.append(name)
            out.append(b"%d" % size(name))
        ctx.cooperate()
    return out
