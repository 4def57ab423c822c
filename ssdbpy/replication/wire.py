"""Replication stream framing (pure): SSDB packets whose first block is a binlog header.

Header = ``LE64(seq) + u8(type) + u8(cmd) + key`` (spec/replication.md §1).
"""

from __future__ import annotations

import msgpack

from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.storage import binlog as bl
from ssdbpy.storage.binlog import Record, encode_header

OUT_OF_SYNC_KEY = b"OUT_OF_SYNC"


def packet(seq: int, btype: int, cmd: int, key: bytes = b"", *values: bytes) -> bytes:
    return encode_ssdb([encode_header(seq, btype, cmd, key), *values])


def copy_begin() -> bytes:
    return packet(0, bl.COPY, bl.BEGIN, b"", b"copy_begin")


def copy_end(seq: int) -> bytes:
    return packet(seq, bl.COPY, bl.END, b"", b"copy_end")


def noop(seq: int) -> bytes:
    return packet(seq, bl.NOOP, bl.NONE, b"", b"noop")


def out_of_sync(seq: int) -> bytes:
    return packet(seq, bl.CTRL, bl.NONE, OUT_OF_SYNC_KEY)


def copy_encoder(seq: int):
    """``encode(cmd, key, value)`` -> the COPY packet of one data record at ``seq``.

    The same bytes as ``packet(seq, COPY, cmd, key, value)``, with the header
    prefix made once per copy (its sequence is the snapshot's, fixed).
    """
    prefixes = {cmd: bl.encode_header(seq, bl.COPY, cmd, b"") for cmd in set(COPY_CMDS.values())}

    def encode(cmd: int, key: bytes, value: bytes) -> bytes:
        return b"%d\n%s%s\n%d\n%s\n\n" % (10 + len(key), prefixes[cmd], key, len(value), value)

    return encode


#: cmd of a COPY record carrying many data records at once (between ssdbpy nodes only, after the
#: slave asked for it: docs/replication.md, "Bulk copy"); its value is ``bulk_value``'s
BULK = 100


def bulk_value(pairs: list[bytes]) -> bytes:
    """The value of a BULK record: ``[key1, value1, key2, value2, ...]`` (encoded data keys and
    their values, in key order) as one msgpack array."""
    return msgpack.packb(pairs, use_bin_type=True)


def bulk_pairs(value: bytes) -> list[bytes] | None:
    """``bulk_value``'s list back, or None if ``value`` is not one."""
    try:
        pairs = msgpack.unpackb(value, raw=True, use_list=True)
    except Exception:  # noqa: BLE001 - any malformed value is "invalid binlog"
        return None
    if type(pairs) is not list or len(pairs) % 2 or not all(type(x) is bytes for x in pairs):
        return None
    return pairs


#: first byte of an encoded data key -> the cmd of its COPY record
COPY_CMDS = {ord("h"): bl.HSET, ord("k"): bl.KSET, ord("q"): bl.QPUSH_BACK, ord("s"): bl.ZSET}

#: binlog cmds whose packet carries the key's current value
SET_LIKE = frozenset((bl.KSET, bl.HSET, bl.ZSET, bl.QSET, bl.QPUSH_BACK, bl.QPUSH_FRONT))


def decode(blocks: list[bytes]) -> Record | None:
    """The header of a received packet, or None if it is too short (SSDB: "invalid binlog!")."""
    if not blocks or len(blocks[0]) < 10:
        return None
    return Record.decode(blocks[0])
