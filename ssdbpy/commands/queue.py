"""Queue (list) commands (SSDB 1.9.8 proc_queue).

Indexes, slice bounds and qrange's offset/limit are int parses; the qpop/qtrim
``size`` is a uint parse (``-1`` = everything).  A corrupt size or pointer
record answers ``["error"]``.
"""

from __future__ import annotations

from ssdbpy import errors
from ssdbpy.cnum import int64, uint64, wrap_int64
from ssdbpy.commands.pacing import LONG, limit_at, many_args, queue_over
from ssdbpy.commands.registry import READ, WRITE, command, reverse_start
from ssdbpy.db.slices import STEP

OK = errors.OK
OK_ONLY = [OK]
NOT_FOUND = [errors.NOT_FOUND]
_INDEX_RANGE = [errors.ERROR, errors.MSG_INDEX_RANGE]


# --- push --------------------------------------------------------------------
def _push(ctx, args, back: bool):
    """Items pushed in turn (Queue.push); a long request in slices (Context.atomic)."""
    push = ctx.db.queue.push
    name = args[1]
    if len(args) <= 2 + STEP:
        return [OK, str(push(name, args[2:], back)).encode()]
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(2, len(args), STEP):
            size = push(name, args[lo : lo + STEP], back)
            if long:
                ctx.cooperate()
    return [OK, str(size).encode()]


@command("qpush", 3, WRITE, long=many_args)
def qpush(ctx, args):
    return _push(ctx, args, True)


@command("qpush_back", 3, WRITE, long=many_args)
def qpush_back(ctx, args):
    return _push(ctx, args, True)


@command("qpush_front", 3, WRITE, long=many_args)
def qpush_front(ctx, args):
    return _push(ctx, args, False)


# --- pop / trim ----------------------------------------------------------------
def _pop(ctx, args, back: bool):
    """size == 1: ``["ok",item]``/``["not_found"]``; otherwise ``["ok",items…]``."""
    q = ctx.db.queue
    if len(args) < 3:
        item = q.pop(args[1], back)
        return NOT_FOUND if item is None else [OK, item]
    n = uint64(args[2])
    if n == 1:
        item = q.pop(args[1], back)
        return NOT_FOUND if item is None else [OK, item]
    ctx.cooperate()
    out = [OK]
    out += q.pop_many(args[1], n, back, ctx.cooperate)
    return out


@command("qpop", 2, WRITE, long=queue_over(2))
def qpop(ctx, args):
    return _pop(ctx, args, False)


@command("qpop_front", 2, WRITE, long=queue_over(2))
def qpop_front(ctx, args):
    return _pop(ctx, args, False)


@command("qpop_back", 2, WRITE, long=queue_over(2))
def qpop_back(ctx, args):
    return _pop(ctx, args, True)


def _trim(ctx, args, back: bool):
    n = uint64(args[2]) if len(args) > 2 else 1
    ctx.cooperate()
    return [OK, str(len(ctx.db.queue.pop_many(args[1], n, back, ctx.cooperate))).encode()]


@command("qtrim_front", 2, WRITE, long=queue_over(2))
def qtrim_front(ctx, args):
    return _trim(ctx, args, False)


@command("qtrim_back", 2, WRITE, long=queue_over(2))
def qtrim_back(ctx, args):
    return _trim(ctx, args, True)


# --- reads -----------------------------------------------------------------------
@command("qfront", 2, READ)
def qfront(ctx, args):
    item = ctx.db.queue.front(args[1])
    return NOT_FOUND if item is None else [OK, item]


@command("qback", 2, READ)
def qback(ctx, args):
    item = ctx.db.queue.back(args[1])
    return NOT_FOUND if item is None else [OK, item]


@command("qsize", 2, READ)
def qsize(ctx, args):
    return [OK, str(ctx.db.queue.size(args[1])).encode()]


@command("qget", 3, READ)
def qget(ctx, args):
    item = ctx.db.queue.get(args[1], int64(args[2]))
    return NOT_FOUND if item is None else [OK, item]


@command("qslice", 4, READ, long=queue_over())
def qslice(ctx, args):
    ctx.cooperate()  # a long request starts with the overlay committed (off the loop)
    return [OK] + ctx.db.queue.slice(args[1], int64(args[2]), int64(args[3]), ctx.cooperate)


@command("qrange", 4, READ, long=queue_over())
def qrange(ctx, args):
    """``qslice(offset, offset+limit-1)``; a negative limit means to the end.

    As SSDB, ``limit`` 0 gives ``end = offset-1`` (so ``qrange q 0 0`` is the whole queue).
    """
    begin = int64(args[2])
    limit = int64(args[3])
    end = wrap_int64(begin + limit - 1) if limit >= 0 else -1
    ctx.cooperate()
    return [OK] + ctx.db.queue.slice(args[1], begin, end, ctx.cooperate)


@command("qlist", 4, READ, long=limit_at(3))
def qlist(ctx, args):
    ctx.cooperate()
    return [OK] + ctx.db.queue.list_names(args[1], args[2], uint64(args[3]), cooperate=ctx.cooperate)


@command("qrlist", 4, READ, long=limit_at(3))
def qrlist(ctx, args):
    ctx.cooperate()
    return [OK] + ctx.db.queue.list_names(reverse_start(args[1]), args[2], uint64(args[3]), True, cooperate=ctx.cooperate)


# --- other writes ------------------------------------------------------------------
@command("qset", 4, WRITE)
def qset(ctx, args):
    try:
        ok = ctx.db.queue.set(args[1], int64(args[2]), args[3])
    except errors.ServerError:
        ok = False
    return OK_ONLY if ok else _INDEX_RANGE


@command("qclear", 2, WRITE, long=queue_over())
def qclear(ctx, args):
    ctx.cooperate()
    return [OK, str(ctx.db.queue.clear(args[1], ctx.cooperate)).encode()]


@command("qfix", 2, WRITE)
def qfix(ctx, args):
    ctx.db.queue.fix(args[1])
    return OK_ONLY
