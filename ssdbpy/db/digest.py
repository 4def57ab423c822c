"""``digest``: a deterministic hash over user-visible data and TTL deadlines.

Per key, ``blake2b(type, name, content)`` where the content is, for a kv key,
its value and its TTL deadline (ms, from SSDB's TTL index) if any; for a hash
its ``(field, value)`` pairs in field order; for a zset its ``(member, score)``
pairs in member order (the TTL index is a zset and is included as one); for a
queue its items front to back (not their sequence numbers, which may differ
between nodes holding the same queue).  Item versions, tombstones, queue ids,
sizes and the binlog are not part of it.

A range ``(start, end]`` selects names of one type by byte order (``""`` as
``end``: no upper bound), as SSDB's ``scan``/``hlist``/``zlist``/``qlist``.
The digest of a range is ``blake2b`` over its keys' ``(type, name, key digest)``
in type then name order, so two nodes agree exactly when every key agrees.
Everything is read from one snapshot; ``cooperate()`` runs every STEP records.
"""

from __future__ import annotations

import struct
from hashlib import blake2b
from typing import Iterator

from ssdbpy.db.slices import STEP, Cooperate, noop
from ssdbpy.storage import keys

TYPES = ("kv", "hash", "zset", "queue")
#: size-record (or kv) prefix of each type: names are listed from these, in name order
_NAMES = {"kv": keys.KV, "hash": keys.HSIZE, "zset": keys.ZSIZE, "queue": keys.QSIZE}
_LEN = struct.Struct(">I")
_SIZE = 16


def _field(h, b: bytes) -> None:
    h.update(_LEN.pack(len(b)))
    h.update(b)


class _Reader:
    def __init__(self, engine, snapshot, cooperate: Cooperate) -> None:
        self.engine = engine
        self.snap = snapshot
        self.cooperate = cooperate
        self.n = 0

    def tick(self) -> None:
        self.n += 1
        if self.n % STEP == 0:
            self.cooperate()

    def iterate(self, start: bytes, stop: bytes, include_start: bool = True, include_stop: bool = False):
        return self.engine.iterate(start, stop, include_start=include_start, include_stop=include_stop,
                                   snapshot=self.snap)

    def names(self, kind: str, start: bytes, end: bytes) -> Iterator[tuple[bytes, bytes]]:
        """``(name, value)`` of the size records (kv: the keys) in ``(start, end]``."""
        p = _NAMES[kind]
        stop = p + end if end else bytes((p[0] + 1,))
        for k, v in self.iterate(p + start, stop, include_start=False, include_stop=bool(end)):
            self.tick()
            yield k[1:], v

    def content(self, kind: str, name: bytes, value: bytes) -> bytes:
        h = blake2b(digest_size=_SIZE)
        _field(h, kind.encode())
        _field(h, name)
        if kind == "kv":
            _field(h, value)
            ttl = self.snap.get(keys.encode_zset(keys.EXPIRE_ZSET, name)) if len(name) <= keys.MAX_NAME else None
            _field(h, ttl if ttl is not None else b"-")
            return h.digest()
        if kind == "hash":
            prefix = keys.hash_prefix(name)
        elif kind == "zset":
            prefix = keys.zset_prefix(name)
        else:
            prefix = keys.queue_prefix(name)
        plen = len(prefix)
        lo = prefix + struct.pack(">Q", keys.QITEM_MIN_SEQ) if kind == "queue" else prefix
        if kind == "queue":
            hi = prefix + struct.pack(">Q", keys.QITEM_MAX_SEQ)
        elif kind == "hash":
            hi = prefix[:-1] + b">"  # every field key starts with the prefix, which ends in "="
        else:
            hi = prefix + b"\xff" * 257  # above u8(len <= 255) + member
        for k, v in self.iterate(lo, hi, include_start=kind != "queue"):
            self.tick()
            if kind == "hash":
                _field(h, k[plen:])
            elif kind == "zset":
                _field(h, k[plen + 1:])
            elif len(k) != plen + 8:
                continue
            _field(h, v)
        return h.digest()


def key_digests(engine, kinds=TYPES, start: bytes = b"", end: bytes = b"", snapshot=None,
                cooperate: Cooperate = noop) -> Iterator[tuple[str, bytes, bytes]]:
    """``(type, name, digest)`` of every key of ``kinds`` with a name in ``(start, end]``."""
    snap = snapshot if snapshot is not None else engine.snapshot()
    r = _Reader(engine, snap, cooperate)
    for kind in kinds:
        for name, value in r.names(kind, start, end):
            yield kind, name, r.content(kind, name, value)


def digest(engine, kinds=TYPES, start: bytes = b"", end: bytes = b"", cooperate: Cooperate = noop
           ) -> tuple[bytes, int, bytes, bytes]:
    """``(hex digest, key count, first name, last name)`` of the keys of ``kinds`` with a name
    in ``(start, end]`` (first and last by byte order, ``b""`` when there is none)."""
    h = blake2b(digest_size=_SIZE)
    n = 0
    first = last = None
    for kind, name, d in key_digests(engine, kinds, start, end, cooperate=cooperate):
        _field(h, kind.encode())
        _field(h, name)
        h.update(d)
        n += 1
        first = name if first is None or name < first else first
        last = name if last is None or name > last else last
    return h.hexdigest().encode(), n, first or b"", last or b""
