"""SSDB 1.9.8 key encoding, byte for byte (spec/storage.md).

Byte orders: sizes are int64 little-endian, queue pointers uint64 LE, queue item
sequences and binlog keys big-endian, zset score index keys carry a sign byte
(``-`` for negative, ``=`` otherwise) followed by the big-endian two's-complement
score.  Names and members are at most 255 bytes (one length byte).
"""

from __future__ import annotations

import struct

BINLOG = b"\x01"
HSIZE = b"H"
QSIZE = b"Q"
ZSIZE = b"Z"
HASH = b"h"
KV = b"k"
QUEUE = b"q"
ZSET = b"s"
ZSCORE = b"z"

MAX_NAME = 255

#: the internal zset holding kv expirations (score = absolute expiry in ms)
EXPIRE_ZSET = b"\xff\xff\xff\xff\xff|EXPIRE_LIST|KV"

_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_BE_I64 = struct.Struct(">q")
_BE_U64 = struct.Struct(">Q")

QFRONT_SEQ = 2
QBACK_SEQ = 3
QITEM_MIN_SEQ = 10000
QITEM_MAX_SEQ = (1 << 63) - 1
QITEM_INIT_SEQ = QITEM_MAX_SEQ // 2


def pack_i64le(v: int) -> bytes:
    return _I64.pack(v)


def unpack_size(v: bytes | None) -> int:
    """A hash/zset size record: wrong length or negative reads as 0."""
    if v is None or len(v) != 8:
        return 0
    n = _I64.unpack(v)[0]
    return n if n > 0 else 0


def pack_u64le(v: int) -> bytes:
    return _U64.pack(v)


def unpack_u64le(v: bytes) -> int:
    return _U64.unpack(v)[0]


# --- kv ----------------------------------------------------------------------
def encode_kv(key: bytes) -> bytes:
    return KV + key


def decode_kv(raw: bytes) -> bytes:
    return raw[1:]


# --- hash --------------------------------------------------------------------
def encode_hsize(name: bytes) -> bytes:
    return HSIZE + name


def hash_prefix(name: bytes) -> bytes:
    """Prefix of every field key of hash ``name``: ``h`` + len + name + ``=``."""
    return HASH + bytes((len(name),)) + name + b"="


def encode_hash(name: bytes, field: bytes) -> bytes:
    return HASH + bytes((len(name),)) + name + b"=" + field


def decode_hash(raw: bytes) -> tuple[bytes, bytes] | None:
    """``(name, field)`` of a hash field key, or None when malformed."""
    if len(raw) < 3 or raw[:1] != HASH:
        return None
    n = raw[1]
    end = 2 + n
    if len(raw) < end + 1 or raw[end : end + 1] != b"=":
        return None
    return raw[2:end], raw[end + 1 :]


# --- zset --------------------------------------------------------------------
def encode_zsize(name: bytes) -> bytes:
    return ZSIZE + name


def zset_prefix(name: bytes) -> bytes:
    return ZSET + bytes((len(name),)) + name


def encode_zset(name: bytes, member: bytes) -> bytes:
    """Member key ``s`` + len + name + len + member -> decimal score."""
    return ZSET + bytes((len(name),)) + name + bytes((len(member),)) + member


def decode_zset(raw: bytes) -> tuple[bytes, bytes] | None:
    if len(raw) < 3 or raw[:1] != ZSET:
        return None
    n = raw[1]
    end = 2 + n
    if len(raw) < end + 1:
        return None
    m = raw[end]
    if len(raw) != end + 1 + m:
        return None
    return raw[2:end], raw[end + 1 :]


def zscore_prefix(name: bytes) -> bytes:
    return ZSCORE + bytes((len(name),)) + name


def encode_score(score: int) -> bytes:
    """Sign byte + BE64 two's complement: byte order equals numeric order."""
    return (b"-" if score < 0 else b"=") + _BE_I64.pack(score)


def encode_zscore(name: bytes, member: bytes, score: int) -> bytes:
    """Score index key ``z`` + len + name + sign + BE64(score) + ``=`` + member -> b""."""
    return ZSCORE + bytes((len(name),)) + name + encode_score(score) + b"=" + member


def decode_zscore(raw: bytes) -> tuple[bytes, int, bytes] | None:
    """``(name, score, member)`` of a score index key, or None when malformed."""
    if len(raw) < 3 or raw[:1] != ZSCORE:
        return None
    n = raw[1]
    p = 2 + n
    if len(raw) < p + 10:
        return None
    score = _BE_I64.unpack_from(raw, p + 1)[0]
    return raw[2:p], score, raw[p + 10 :]


# --- queue -------------------------------------------------------------------
def encode_qsize(name: bytes) -> bytes:
    return QSIZE + name


def queue_prefix(name: bytes) -> bytes:
    return QUEUE + bytes((len(name),)) + name


def encode_qitem(name: bytes, seq: int) -> bytes:
    return QUEUE + bytes((len(name),)) + name + _BE_U64.pack(seq)


def decode_qitem(raw: bytes) -> tuple[bytes, int] | None:
    if len(raw) < 2 or raw[:1] != QUEUE:
        return None
    n = raw[1]
    p = 2 + n
    if len(raw) != p + 8:
        return None
    return raw[2:p], _BE_U64.unpack_from(raw, p)[0]


# --- binlog ------------------------------------------------------------------
def encode_binlog_key(seq: int) -> bytes:
    return BINLOG + _BE_U64.pack(seq)


def decode_binlog_key(raw: bytes) -> int:
    return _BE_U64.unpack_from(raw, 1)[0]


def too_long(name: bytes) -> bool:
    return len(name) > MAX_NAME
