"""Which requests are long: the ``long=`` tests of the command table.

A request counts as long when it may touch more than LONG items: it then runs
on its connection's greenlet and calls ``ctx.cooperate()`` between slices
(db.slices), so that no request holds the event loop more than a few
milliseconds.  Short requests of the same commands stay in the event-loop
callback, where they cost nothing extra.  The tests only parse a count or read
one size record; they never raise (a malformed request is reported by the
handler as usual).
"""

from __future__ import annotations

from typing import Any, Callable

from ssdbpy.cnum import uint64

#: items above which a request is long (a few ms of work at ~1 µs per item)
LONG = 5000

LongTest = Callable[[Any, list[bytes]], bool]


def always(ctx, args: list[bytes]) -> bool:
    return True


def _count(args: list[bytes], i: int) -> int:
    """``uint64(args[i])`` (``-1`` is huge), 0 when missing."""
    if len(args) <= i:
        return 0
    try:
        return uint64(args[i])
    except Exception:  # noqa: BLE001 - the handler reports malformed input
        return 0


def limit_at(*indexes: int) -> LongTest:
    """Long when the count at one of ``indexes`` is above LONG (kv scans, name lists)."""

    def long(ctx, args: list[bytes]) -> bool:
        return any(_count(args, i) > LONG for i in indexes)

    return long


def _sized(size_of: Callable[[Any, bytes], int], indexes: tuple[int, ...]) -> LongTest:
    def long(ctx, args: list[bytes]) -> bool:
        if len(args) < 2:
            return False
        if indexes and not any(_count(args, i) > LONG for i in indexes):
            return False
        try:
            return size_of(ctx.db, args[1]) > LONG
        except Exception:  # noqa: BLE001 - a corrupt size record: the handler reports it
            return False

    return long


def hash_over(*indexes: int) -> LongTest:
    """Long when the hash ``args[1]`` has more than LONG fields (and the count at ``indexes``, if any, too)."""
    return _sized(lambda db, name: db.hash.size(name), indexes)


def zset_over(*indexes: int) -> LongTest:
    """Long when the zset ``args[1]`` has more than LONG members (and the count at ``indexes``, if any, too)."""
    return _sized(lambda db, name: db.zset.size(name), indexes)


def queue_over(*indexes: int) -> LongTest:
    """Long when the queue ``args[1]`` has more than LONG items (and the count at ``indexes``, if any, too)."""
    return _sized(lambda db, name: db.queue.size(name), indexes)


def many_args(ctx, args: list[bytes]) -> bool:
    """multi_*: long with more than LONG keys."""
    return len(args) > LONG
