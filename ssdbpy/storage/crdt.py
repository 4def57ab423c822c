"""Counter state of one item on convergent mirrors (pure): increments on different masters add up.

An item that was ever ``incr``/``decr``/``hincr``/``zincr``-ed while versioned carries,
beside its version ``(stamp, origin)`` -- the version of its *base*, the last plain
write (set or delete) -- a ``Counter``:

* ``base``: the value the base write left (None: it deleted the item);
* ``totals[o] = (sum, stamp)``: the sum of every increment origin ``o`` made, and
  the stamp of its last one (an origin's increments are stamped in order);
* ``observed[o] = (sum, stamp)``: the part of ``totals[o]`` the base write had seen.

Value = ``base + sum(totals[o].sum - observed[o].sum for o whose last increment is
stamped after the base)`` (a stamp compares with its origin, ``(stamp, origin)``, as
versions do: two nodes can issue the same stamp): an increment the base write saw, or that is stamped
before it, is replaced by the base (a concurrent set is ordered against
increments by stamp); one stamped after it adds up.  When an origin's increments
are partly before and partly after a base its setter had not seen, all of them
count unless some node saw the earlier ones with the base (``normalize``): the
value is then the same everywhere, but may include increments stamped just
before the set.

``join`` is commutative and idempotent (base: highest version; totals and
observed: per origin, the entry with the highest stamp, observed entries from
every side -- a part some base write saw was stamped before it, so before the
highest base too), so duplicates and any order of delivery leave every node
with the same state once every state has reached every node.  Before that, in
the straddling case above, which increments count can depend on the order in
which a node merged the states it has seen so far.

**Epochs** (so that a deleted counter's state can be collected, docs/replication.md,
"Tombstone collection"): when a node writes the state of a deleted item (the
value is absent, so every total is stamped before the base and fully observed),
it restarts its own total at zero, ``totals[me] = observed[me] = (0, new stamp)``
(``restart``).  The new stamp is above every earlier one of that origin, so the
restart replaces its old entries in every join; the entry is equal to its
observed part, so it counts nothing and does not make the item present
(``value`` skips entries equal to their observed part: no base write ever
stamped after an entry it saw can produce one).  Later increments of that origin
are sums from zero, and every state that carries them carries the restart's
observed entry too.  Once every peer holds the restart, the origin may forget
the item: its next increment, from an empty state, starts from zero as well.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ssdbpy.cnum import stored_int64, wrap_int64

_ENTRY = struct.Struct("<QqQ")  # origin, sum, stamp
_HEAD = struct.Struct("<BIHH")  # has base, len(base), n totals, n observed

Entries = dict[int, tuple[int, int]]


@dataclass
class Counter:
    base: bytes | None = None
    totals: Entries = field(default_factory=dict)
    observed: Entries = field(default_factory=dict)

    def encode(self) -> bytes:
        base = self.base or b""
        parts = [_HEAD.pack(self.base is not None, len(base), len(self.totals), len(self.observed)), base]
        for d in (self.totals, self.observed):
            parts += [_ENTRY.pack(o, wrap_int64(s), t) for o, (s, t) in sorted(d.items())]
        return b"".join(parts)

    @classmethod
    def decode(cls, raw: bytes) -> "Counter":
        has, n, nt, no = _HEAD.unpack_from(raw)
        p = _HEAD.size
        base = raw[p : p + n] if has else None
        p += n
        out = []
        for count in (nt, no):
            d: Entries = {}
            for _ in range(count):
                o, s, t = _ENTRY.unpack_from(raw, p)
                d[o] = (s, t)
                p += _ENTRY.size
            out.append(d)
        if p != len(raw):
            raise ValueError("bad counter state")
        return cls(base, out[0], out[1])


def bump(raw: bytes, offset: int, origin: int, by: int, stamp: int, base: tuple[int, int]) -> bytes | None:
    """The encoded state ``raw[offset:]`` (of an item whose base write has version ``base``)
    after an increment by ``by`` stamped ``stamp`` from ``origin``, patched in place: the
    same bytes as decoding, ``normalize``, raising ``totals[origin]`` and encoding, when
    ``origin`` already has a total stamped after the base (stored states are normalized, and
    this keeps them so).  None otherwise: the caller takes the long way."""
    _has, n, nt, _no = _HEAD.unpack_from(raw, offset)
    p = offset + _HEAD.size + n
    for _ in range(nt):
        o, s, t = _ENTRY.unpack_from(raw, p)
        if o == origin:
            if (t, o) <= base or stamp <= t:
                return None
            out = bytearray(raw)
            _ENTRY.pack_into(out, p, o, wrap_int64(s + by), stamp)
            return bytes(out)
        p += _ENTRY.size
    return None


def _newer(a: tuple[int, int] | None, b: tuple[int, int] | None) -> tuple[int, int] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if (a[1], a[0]) >= (b[1], b[0]) else b


def merge_entries(a: Entries, b: Entries) -> Entries:
    return {o: _newer(a.get(o), b.get(o)) for o in a.keys() | b.keys()}  # type: ignore[misc]


def normalize(base: tuple[int, int], c: Counter) -> None:
    """Increments stamped before the base (version ``(stamp, origin)``) are replaced by it:
    count them as observed.  Stamps compare with their origins, as versions do."""
    for o, (s, t) in c.totals.items():
        if (t, o) < base:
            seen = c.observed.get(o)
            if seen is None or seen[1] < t:
                c.observed[o] = (s, t)


def join(a_version: tuple[int, int], a: Counter, b_version: tuple[int, int], b: Counter
         ) -> tuple[tuple[int, int], Counter]:
    """The merged state: (base version, counter)."""
    if a_version > b_version:
        version, base = a_version, a.base
    elif b_version > a_version:
        version, base = b_version, b.base
    else:
        version, base = a_version, a.base
        if b.base is not None and (a.base is None or b.base > a.base):
            base = b.base  # only for never-stamped bases (version (0, 0)); else they are equal
    c = Counter(base, merge_entries(a.totals, b.totals), merge_entries(a.observed, b.observed))
    normalize(version, c)
    return version, c


def restart(c: Counter, origin: int, stamp: int) -> bool:
    """Restart ``origin``'s total at zero under ``stamp`` (above every stamp it issued) in the
    state of a deleted item (every total observed); False when it is zero already."""
    entry = c.totals.get(origin)
    if entry is None or (entry[0] == 0 and c.observed.get(origin) == entry):
        return False
    c.totals[origin] = c.observed[origin] = (0, stamp)
    return True


def restarted(c: Counter, origin: int) -> bool:
    """``origin`` holds no total to carry over (none, or a restart): a node that forgets the
    item's state and then increments it from zero computes what the state would."""
    entry = c.totals.get(origin)
    return entry is None or (entry[0] == 0 and c.observed.get(origin) == entry)


def value(base: tuple[int, int], c: Counter) -> bytes | None:
    """The item's value (None: absent); ``base`` is the base write's version.  An entry equal
    to its observed part counts nothing (a restart, see above)."""
    obs = c.observed
    counted = [s - obs.get(o, (0, 0))[0] for o, (s, t) in c.totals.items()
               if (t, o) > base and obs.get(o) != (s, t)]
    if not counted:
        return c.base
    if c.base is None:
        n = 0
    else:
        parsed = stored_int64(c.base)
        if parsed is None:
            return c.base  # a non-integer base (set concurrently with increments) stays as set
        n = parsed
    return str(wrap_int64(n + sum(counted))).encode()
