"""Long walks in slices: the caller's ``cooperate`` runs between slices.

The db layer knows nothing of the event loop.  A command that may be long
passes ``cooperate`` (``ctx.cooperate``), a callable run after every STEP
items; it may let other clients run (the server yields once the slice has
taken long enough) or do nothing (inline, unit tests).  A walk keeps ONE
LevelDB iterator, whose implicit snapshot is taken when it starts: a scan
returns exactly what it would have returned had it run at once when it
started, whatever is written while it yields.
"""

from __future__ import annotations

from itertools import chain, islice
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

Cooperate = Callable[[], None]

#: items handled between two calls of ``cooperate`` (it decides by time whether to yield)
STEP = 256


def noop() -> None:
    pass


def skip(it: Iterator, n: int, cooperate: Cooperate = noop) -> None:
    """Consume ``n`` items of ``it`` (fewer if it ends), ``cooperate`` between slices."""
    while n > 0:
        k = min(n, STEP)
        got = sum(1 for _ in islice(it, k))
        if got < k:
            return
        n -= k
        cooperate()


def collect(it: Iterable[T], cooperate: Cooperate = noop, out: list | None = None) -> list:
    """``list(it)`` (appended to ``out`` if given), ``cooperate`` between slices."""
    out = [] if out is None else out
    it = iter(it)
    extend = out.extend
    while True:
        chunk = list(islice(it, STEP))
        extend(chunk)
        if len(chunk) < STEP:
            return out
        cooperate()


def collect_flat(it: Iterable[tuple], cooperate: Cooperate = noop, out: list | None = None) -> list:
    """Every tuple of ``it`` flattened into one list (``k1, v1, k2, v2, ...``), ``cooperate`` between slices."""
    return collect(chain.from_iterable(it), cooperate, out)


def count(it: Iterable, cooperate: Cooperate = noop) -> int:
    """How many items ``it`` yields, ``cooperate`` between slices."""
    it = iter(it)
    n = 0
    while True:
        got = sum(1 for _ in islice(it, STEP))
        n += got
        if got < STEP:
            return n
        cooperate()
