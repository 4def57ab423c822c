"""Key-value commands (SSDB 1.9.8 proc_kv)."""

from __future__ import annotations

from ssdbpy import errors
from ssdbpy.cnum import int32, int64, uint64, wrap_int64
from ssdbpy.commands.pacing import LONG, limit_at, many_args
from ssdbpy.commands.registry import READ, WRITE, client_error_bare, command, found_pairs
from ssdbpy.db.slices import STEP, collect, collect_flat
from ssdbpy.db.ttl import parse_ttl
from ssdbpy.storage.keys import MAX_NAME, encode_kv

OK = errors.OK
OK1 = [OK, b"1"]
OK0 = [OK, b"0"]
NOT_FOUND = [errors.NOT_FOUND]
MAX_BIT_OFFSET = 1073741824


def _too_long(key: bytes) -> None:
    if len(key) > MAX_NAME:
        raise errors.ServerError()


def _big_value(ctx, args: list[bytes]) -> bool:
    """A ``get`` of a key last seen with a big value runs where its read can leave the loop."""
    big = ctx.db.engine.big_keys
    return bool(big) and len(args) > 1 and encode_kv(args[1]) in big


@command("get", 2, READ, long=_big_value)
def get(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    v = ctx.db.kv.get(key)
    return NOT_FOUND if v is None else [OK, v]


@command("set", 3, WRITE)
def set_(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    if not key:
        return OK1
    if len(key) > MAX_NAME:
        raise errors.ServerError()
    ctx.db.kv.set(key, args[2])
    return OK1


@command("setx", 4, WRITE)
def setx(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    if not key:
        return OK1
    _too_long(key)
    db = ctx.db
    db.kv.set(key, args[2])
    db.ttl.set(key, parse_ttl(args[3]))
    return OK1


@command("setnx", 3, WRITE)
def setnx(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    if not key:
        return OK0
    _too_long(key)
    kv = ctx.db.kv
    if kv.exists(key):
        return OK0
    kv.set(key, args[2])
    return OK1


@command("getset", 3, WRITE)
def getset(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    if not key:
        return NOT_FOUND
    _too_long(key)
    kv = ctx.db.kv
    old = kv.get(key)
    kv.set(key, args[2])
    return NOT_FOUND if old is None else [OK, old]


@command("del", 2, WRITE)
def del_(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    _too_long(key)
    db = ctx.db
    db.kv.delete(key)
    db.ttl.delete(key)
    return OK1


@command("exists", 2, READ)
def exists(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    return OK1 if ctx.db.kv.exists(key) else OK0


def _incr(ctx, args, sign: int):
    key = args[1]
    ctx.check_kv_range(key)
    _too_long(key)
    by = int64(args[2]) if len(args) > 2 else 1
    return [OK, str(ctx.db.kv.incr(key, wrap_int64(by * sign))).encode()]


@command("incr", 2, WRITE)
def incr(ctx, args):
    return _incr(ctx, args, 1)


@command("decr", 2, WRITE)
def decr(ctx, args):
    return _incr(ctx, args, -1)


@command("ttl", 2, READ)
def ttl(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    return [OK, str(ctx.db.ttl.get(key)).encode()]


@command("expire", 3, WRITE)
def expire(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    db = ctx.db
    if not db.kv.exists(key):
        return OK0
    db.ttl.set(key, parse_ttl(args[2]))
    return OK1


# --- bits and ranges -----------------------------------------------------------
# Offsets, starts, ends and sizes are C ``int``s read with ``Bytes::Int()`` in SSDB
# (``int32``: lenient, then truncated to 32 bits, so 4294967297 is 1), and the
# slice arithmetic is int arithmetic (``_wrap32``).


def _wrap32(v: int) -> int:
    """A C ``int`` result: ``v`` modulo 2**32 as a signed 32-bit value (gcc's wrap-around)."""
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v >= (1 << 31) else v


@command("getbit", 3, READ)
def getbit(ctx, args):
    """SSDB's getbit: no range check; byte ``off / 8`` and bit ``7 - off % 8`` in C
    arithmetic, the byte read as a signed char (so an offset in -7..-1 tests the
    sign of the first byte; -8 and below read a byte that is never there)."""
    key = args[1]
    ctx.check_kv_range(key)
    off = int32(args[2])
    v = ctx.db.kv.get(key) or b""
    i = int(off / 8)  # C division, toward zero
    if i < 0 or i >= len(v):
        return OK0
    c = v[i] - 256 if v[i] >= 128 else v[i]
    return OK1 if c & (1 << (7 - (off - 8 * i))) else OK0


@command("setbit", 4, WRITE)
def setbit(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    off = int32(args[2])
    bit = args[3][:1]
    if bit not in (b"0", b"1"):  # checked before the offset, as SSDB does
        raise errors.ClientError(errors.MSG_BIT_NOT_INTEGER)
    if off < 0 or off > MAX_BIT_OFFSET:
        raise errors.ClientError(errors.MSG_OFFSET_RANGE)
    _too_long(key)
    kv = ctx.db.kv
    v = bytearray(kv.get(key) or b"")
    i = off >> 3
    if i >= len(v):
        v.extend(bytes(i + 1 - len(v)))
    mask = 0x80 >> (off & 7)
    old = 1 if v[i] & mask else 0
    if bit == b"1":
        v[i] |= mask
    else:
        v[i] &= ~mask & 0xFF
    kv.set(key, bytes(v))
    return OK1 if old else OK0


def substr_slice(v: bytes, start: int, size: int) -> bytes:
    """SSDB's substr arithmetic: negative start counts from the end, negative size trims the end."""
    n = len(v)
    if start < 0:
        start += n
    if size < 0:
        size = (n + size) - start
    if start < 0 or start >= n or size < 0:
        return b""
    return v[start : start + size]


def getrange_slice(v: bytes, start: int, end: int) -> bytes:
    """SSDB's getrange arithmetic: inclusive ``end``, negatives count from the end."""
    n = len(v)
    if start < 0:
        start += n
    size = _wrap32((n + end + 1) - start if end < 0 else end - start + 1)
    if start < 0 or start >= n or size < 0:
        return b""
    return v[start : start + size]


def _popcount(b: bytes) -> int:
    return int.from_bytes(b, "big").bit_count() if b else 0


@command("bitcount", 2, READ)
def bitcount(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    start = int32(args[2]) if len(args) > 2 else 0
    end = int32(args[3]) if len(args) > 3 else -1
    v = ctx.db.kv.get(key) or b""
    return [OK, str(_popcount(getrange_slice(v, start, end))).encode()]


@command("countbit", 2, READ)
def countbit(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    start = int32(args[2]) if len(args) > 2 else 0
    v = ctx.db.kv.get(key) or b""
    size = int32(args[3]) if len(args) > 3 else len(v)
    return [OK, str(_popcount(substr_slice(v, start, size))).encode()]


@command("substr", 2, READ)
def substr(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    start = int32(args[2]) if len(args) > 2 else 0
    size = int32(args[3]) if len(args) > 3 else 2000000000
    v = ctx.db.kv.get(key) or b""
    return [OK, substr_slice(v, start, size)]


@command("getrange", 2, READ)
def getrange(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    start = int32(args[2]) if len(args) > 2 else 0
    end = int32(args[3]) if len(args) > 3 else -1
    v = ctx.db.kv.get(key) or b""
    return [OK, getrange_slice(v, start, end)]


@command("strlen", 2, READ)
def strlen(ctx, args):
    key = args[1]
    ctx.check_kv_range(key)
    v = ctx.db.kv.get(key)
    return [OK, str(len(v) if v else 0).encode()]


# --- multi -------------------------------------------------------------------
@command("multi_set", 3, WRITE, arity_error=client_error_bare, long=many_args)
def multi_set(ctx, args):
    """One batch, as SSDB; a long request is staged in slices (Context.atomic)."""
    if len(args) % 2 == 0:
        raise errors.ClientError()
    pairs = range(1, len(args), 2)
    for i in pairs:
        k = args[i]
        if not k or len(k) > MAX_NAME:
            return OK0
    kv = ctx.db.kv
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(1, len(args), 2 * STEP):
            for i in range(lo, min(lo + 2 * STEP, len(args)), 2):
                kv.set(args[i], args[i + 1])
            if long:
                ctx.cooperate()
    return [OK, str(len(pairs)).encode()]


@command("multi_get", 2, READ, long=many_args)
def multi_get(ctx, args):
    """A long request yields between slices of keys (each key read as it is reached, as SSDB)."""
    return found_pairs(args[1:], ctx.db.kv.get, ctx.cooperate)


@command("multi_del", 2, WRITE, long=many_args)
def multi_del(ctx, args):
    """One batch, as SSDB; a long request is staged in slices (Context.atomic)."""
    db = ctx.db
    for k in args[1:]:
        _too_long(k)
    long = len(args) > LONG
    with ctx.atomic(long):
        for lo in range(1, len(args), STEP):
            for k in args[lo : lo + STEP]:
                db.kv.delete(k)
                db.ttl.delete(k)
            if long:
                ctx.cooperate()
    return [OK, str(len(args) - 1).encode()]


@command("multi_exists", 2, READ, long=many_args)
def multi_exists(ctx, args):
    exists = ctx.db.kv.exists
    out = [OK]
    for lo in range(1, len(args), STEP):
        for k in args[lo : lo + STEP]:
            out.append(k)
            out.append(b"1" if exists(k) else b"0")
        ctx.cooperate()
    return out


# --- scans -------------------------------------------------------------------
# Long scans run in slices (db.slices) over one iterator: the same reply as at once.
def _keys(ctx, pairs) -> list[bytes]:
    ctx.cooperate()  # a long request starts with the overlay committed (off the loop)
    return collect((k for k, _ in pairs), ctx.cooperate, [OK])


def _pairs(ctx, pairs) -> list[bytes]:
    ctx.cooperate()
    return collect_flat(pairs, ctx.cooperate, [OK])


@command("scan", 4, READ, long=limit_at(3))
def scan(ctx, args):
    return _pairs(ctx, ctx.db.kv.scan(args[1], args[2], uint64(args[3])))


@command("rscan", 4, READ, long=limit_at(3))
def rscan(ctx, args):
    return _pairs(ctx, ctx.db.kv.rscan(args[1], args[2], uint64(args[3])))


@command("keys", 4, READ, long=limit_at(3))
def keys_(ctx, args):
    return _keys(ctx, ctx.db.kv.scan(args[1], args[2], uint64(args[3])))


@command("rkeys", 4, READ, long=limit_at(3))
def rkeys(ctx, args):
    return _keys(ctx, ctx.db.kv.rscan(args[1], args[2], uint64(args[3])))
