"""Queue item identities for convergent mirrors (docs/replication.md, "Queues").

The queue itself stays in SSDB's encoding (items ``q<len><name><BE64 seq>``,
dense sequences, size and front/back records), so SSDB reads it.  Beside it,
under the version prefix 0x03 that SSDB never reads:

* the *order index* ``0x03 Q u8(len) name 'L' id`` -> ``LE64(seq) LE64(set stamp)
  LE64(set origin)`` for each live item, where ``id = BE64(pos + 2**63) BE64(origin)``
  and ``pos`` is ``+stamp`` of a push to the back, ``-stamp`` of a push to the
  front, 0 for an item that was in the queue before it was versioned (its
  origin is then its sequence).  The live entries, in key order, are the queue's
  items front to back: ``seq`` of the n-th entry is ``front + n``;
* tombstones ``0x03 Q u8(len) name 'T' id`` -> ``LE64(pop stamp) LE64(pop origin)``
  of popped items (never live again);
* the reverse map ``0x03 + item data key`` -> ``id`` (which item a sequence holds);
* *side records* ``0x03 # BE64(binlog seq)`` -> ``id + name``: the item a queue
  binlog record is about (``b""``: a record that only keeps plain slaves in step),
  deleted with their binlog record.
"""

from __future__ import annotations

import struct

PREFIX = b"\x03Q"
PREFIX_END = b"\x03R"
SIDE = b"\x03#"
SIDE_END = b"\x03$"
LIVE = b"L"
TOMB = b"T"
BIAS = 1 << 63
ID_LEN = 16
_ID = struct.Struct(">QQ")
LIVE_V = struct.Struct("<QQQ")
TOMB_V = struct.Struct("<QQ")
_BE = struct.Struct(">Q")


def item_id(pos: int, origin: int) -> bytes:
    """The 16-byte id of an item at signed position ``pos`` pushed by ``origin`` (sorts by (pos, origin))."""
    return _ID.pack(pos + BIAS, origin)


def id_parts(raw: bytes) -> tuple[int, int]:
    p, o = _ID.unpack(raw)
    return p - BIAS, o


def base(name: bytes) -> bytes:
    return PREFIX + bytes((len(name),)) + name


def live_key(name: bytes, iid: bytes) -> bytes:
    return base(name) + LIVE + iid


def tomb_key(name: bytes, iid: bytes) -> bytes:
    return base(name) + TOMB + iid


def be64(n: int) -> bytes:
    return _BE.pack(n)


def side_key(seq: int) -> bytes:
    return SIDE + _BE.pack(seq)


def reverse_key(item_key: bytes) -> bytes:
    return b"\x03" + item_key


def decode_index_key(key: bytes) -> tuple[bytes, bool, bytes] | None:
    """``(name, live, id)`` of an order-index or tombstone key, else None."""
    if len(key) < 3 or key[:2] != PREFIX:
        return None
    n = key[2]
    if len(key) != 3 + n + 1 + ID_LEN:
        return None
    kind = key[3 + n:4 + n]
    if kind not in (LIVE, TOMB):
        return None
    return key[3:3 + n], kind == LIVE, key[4 + n:]
