"""Seeded request sequences for the differential test (tests/compat/differential.py).

``Generator(seed).requests(n, proto)`` returns ``n`` requests (lists of byte
strings), the same for the same seed.  It reuses the soak fuzzer's number lists
and argument shapes (``tests/harness/fuzz.py``) with a few more argument kinds
for what a differential test needs:

* a small key space (``k0``..``k5`` most of the time; 2 or 20 names for some seeds) shared by every data
  type, so commands hit existing kv keys, hashes, zsets and queues of the same
  name; a few fixed odd keys recur (empty, binary, 200, 255, 256 and 300 bytes)
  and random binary keys appear now and then;
* values: binary 0-40 bytes, numbers, empty, a few KB, and rarely 256 KB-1 MB
  (mostly numbers for a quarter of the seeds);
* numbers at and beyond the int32/int64 limits, negative, non-numeric, blank;
* limits and offsets for scans, ranges and slices drawn from odd values;
* too few and too many arguments for about one request in six;
* now and then one request that grows a hash, zset, queue or the kv space by
  5-40 items, sometimes by 250-300 (beyond the server's 256-item slices) and
  rarely by 2600 (beyond its 5000-block "long request" threshold).

What is kept out of the generator's way, and why (each is a timing effect or a
deliberate difference listed in docs/compat.md):

* TTLs (``setx``, ``expire``, ``SETEX``, ``EXPIRE``) are always read by SSDB as
  at least 100 seconds (``TTLS``), so no key expires during a run: SSDB expires
  from a background thread, so a key whose deadline has passed is still visible
  for a moment, at a different moment on each server.  TTLs that SSDB reads as
  0, negative or "-1" (compat.md, "TTL arithmetic") are therefore not sent.
  The ``ttl`` reply itself may differ by one second at a boundary: the
  comparison (``differential.equivalent``) accepts two integer replies to
  ``ttl``/``TTL`` that differ by at most 1.
* zset scores never come near INT64_MAX (``SCORES``, ``ZINCR_BY``: magnitude
  below 2**62): SSDB's reverse walks skip members scored INT64_MAX, a fixed
  SSDB bug (compat.md, "Reverse zset scans skip members scored INT64_MAX").
* hash fields never start with 0xFF: SSDB's ``hrscan`` from an empty start
  skips them, a fixed SSDB bug (compat.md, "Reverse hash scans ...").
* RESP requests are never mixed with SSDB framing on one connection (the
  malformed ``$0\\r\\n`` reply, compat.md), and ``HELLO`` (an addition) is not
  sent.
* The max bound of ``ZRANGEBYSCORE``/``ZREVRANGEBYSCORE`` is never ``(``
  followed by a non-integer (``(1.5``, ``(+inf``, ``(abc``): after such a
  request SSDB resets the connection at the next request that arrives in
  more than one read, a fixed SSDB bug (compat.md, "Connections dropped after
  ZRANGEBYSCORE").
* ``zfix`` is never sent a 255-byte name: SSDB's zfix then counts no member
  and deletes the zset's size record, a fixed SSDB bug (compat.md, "zfix on a
  255-byte zset name").
* ``setbit`` offsets are small or beyond the limit (a valid offset near 2**30
  makes a 128 MB value: slow, not wrong).
* Not generated at all: commands whose replies depend on the server or the
  clock (``info``, ``dbsize``, ``version``, ``compact``), and those that act on
  the server rather than the data (``flushdb``, ``clear_binlog``, ``slaveof``,
  ``dump``, ``sync140``, ``set_kv_range``, ip filters).
"""

from __future__ import annotations

import random
import re

from tests.harness.fuzz import NUMBERS, REDIS, SHAPES

SSDB, RESP = "ssdb", "resp"

INT64_MAX = (1 << 63) - 1


def strtoll(b: bytes) -> int:
    """C ``strtoll`` as SSDB calls it: blanks, a sign, digits up to the first other byte, saturating."""
    s = b.lstrip(b" \t\n\v\f\r")
    sign = 1
    if s[:1] in (b"+", b"-"):
        sign = -1 if s[:1] == b"-" else 1
        s = s[1:]
    n = 0
    for c in s:
        if not 48 <= c <= 57:
            break
        n = n * 10 + c - 48
    n *= sign
    return max(-(1 << 63), min(INT64_MAX, n))


def ssdb_ttl(b: bytes) -> int:
    """A TTL as SSDB 1.9.8 reads it: ``strtol`` truncated to a 32-bit ``int`` (docs/compat.md)."""
    n = strtoll(b) & 0xFFFFFFFF
    return n - (1 << 32) if n >= 1 << 31 else n


#: TTL arguments SSDB reads (strtol, then truncated to int) as 100 s or more
TTLS = [t for t in [b"100", b"1000", b"3600", b"86400", b"2147483647", b"-2147483649", b"9223372036854",
                    b" 1000", b"+500", b"1000abc", b"100.5", b"1e9", b"0100", b"\t200"]
        if ssdb_ttl(t) >= 100]
#: zset scores: everything in NUMBERS whose lenient value stays below 2**62 in magnitude
SCORES = [n for n in NUMBERS if abs(strtoll(n)) < 1 << 62] + [b"-4611686018427387903", b"4611686018427387903"]
ZINCR_BY = [n for n in NUMBERS if abs(strtoll(n)) < 1 << 41]
#: score range bounds (zscan, zcount, zremrangebyscore, ...): often empty (unbounded)
RANGE = [b"", b"", b"0", b"1", b"-1", b"10", b"-100", b"100", b"abc", b"-9223372036854775808",
         b"9223372036854775807", b"99999999999999999999", b"1.5", b" 5"]
#: offsets, indexes and lengths
INDEXES = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"-3", b"5", b"10", b"-10", b"100", b"2147483647", b"2147483648",
           b"-2147483648", b"-2147483649", b"4294967296", b"9223372036854775807", b"-9223372036854775808",
           b"9223372036854775808", b"-9223372036854775809", b"99999999999999999999", b"abc", b"", b"1.5", b" 2",
           b"2x"]
#: scan limits
LIMITS = [b"-1", b"0", b"1", b"2", b"3", b"5", b"10", b"100", b"2147483647", b"2147483648", b"-2", b"abc", b"",
          b"9223372036854775807", b"99999999999999999999", b"-9223372036854775808", b"1.5"]
BIT_OFFSETS = [b"0", b"1", b"7", b"8", b"9", b"100", b"65535", b"-1", b"-3", b"1073741824", b"1073741825",
               b"2147483648", b"4294967296", b"9223372036854775807", b"99999999999999999999", b"abc", b"", b"1.5"]
#: setbit: never an offset SSDB accepts near 2**30 (a 128 MB value)
SET_BIT_OFFSETS = [b for b in BIT_OFFSETS if b != b"1073741824"]
BIT_VALUES = [b"0", b"1", b"2", b"-1", b"abc", b"", b"10"]

#: keys that recur so that every type meets them: empty, binary, long (200-300 bytes)
ODD_KEYS = [b"", b"\x00", b"a\x00b\n\r", b"\xfe\xff", b"\xff", b"\xff\x01", b" ", b"K" * 200, b"L" * 255, b"M" * 256, b"N" * 300]

#: shapes: k key, f field, v value, n number, t TTL, s score, z zincr amount, r score bound, i index,
#: l limit, b bit offset, c setbit offset, B bit value
_OVERRIDES: dict[bytes, str] = {
    b"setx": "kvt", b"expire": "kt", b"getbit": "kb", b"setbit": "kcB", b"bitcount": "kii",
    b"countbit": "kii", b"substr": "kii", b"getrange": "kii",
    b"scan": "kkl", b"rscan": "kkl", b"keys": "kkl", b"rkeys": "kkl",
    b"hkeys": "kffl", b"hvals": "kffl", b"hscan": "kffl", b"hrscan": "kffl", b"hlist": "kkl", b"hrlist": "kkl",
    b"zset": "kfs", b"zincr": "kfz", b"zdecr": "kfz", b"zrange": "kil", b"zrrange": "kil",
    b"zscan": "kfrrl", b"zrscan": "kfrrl", b"zkeys": "kfrrl", b"zcount": "krr", b"zsum": "krr", b"zavg": "krr",
    b"zremrangebyrank": "kii", b"zremrangebyscore": "krr", b"zpop_front": "kl", b"zpop_back": "kl",
    b"zlist": "kkl", b"zrlist": "kkl", b"multi_zset": "kfsfs", b"redis_zrange": "kii", b"redis_zrrange": "kii",
    b"qpop": "kl", b"qpop_front": "kl", b"qpop_back": "kl", b"qget": "ki", b"qset": "kiv", b"qrange": "kil",
    b"qslice": "kii", b"qtrim_front": "kl", b"qtrim_back": "kl", b"qlist": "kkl", b"qrlist": "kkl",
}
#: commands of the table never generated, and why
LEFT_OUT: dict[bytes, str] = {
    b"version": "server-specific", b"dbsize": "a size estimate", b"info": "server-specific, clock",
    b"compact": "no data effect", b"flushdb": "acts on the server", b"clear_binlog": "acts on the server",
    b"slaveof": "acts on the server", b"dump": "a backend stream", b"sync140": "a backend stream",
    b"set_kv_range": "acts on the server", b"list_allow_ip": "configuration",
    b"list_deny_ip": "configuration", b"add_allow_ip": "configuration", b"add_deny_ip": "configuration",
    b"del_allow_ip": "configuration", b"del_deny_ip": "configuration",
    b"slowlog": "an ssdbpy addition (SSDB has none): server-specific timings",
    b"ssdbpy_mirror": "ssdbpy replication handshake", b"ssdbpy_replica": "ssdbpy replication handshake",
    b"ssdbpy_clock": "ssdbpy addition: a clock stamp",
    b"digest": "an ssdbpy addition (SSDB has none)", b"digest_keys": "an ssdbpy addition (SSDB has none)",
}
COMMANDS: dict[bytes, str] = {name: _OVERRIDES.get(name, shape) for name, shape in SHAPES.items()
                              if name not in LEFT_OUT}
#: requests that grow one structure (more members than the rest of the generator makes)
BUILDERS: dict[bytes, str] = {b"multi_hset": "kfv", b"multi_zset": "kfs", b"qpush": "kv", b"multi_set": "kv"}

#: Redis names (SSDB 1.9.8's mapping table, tests/data/redis_mapping.md) with differential shapes
_REDIS_OVERRIDES: dict[bytes, str] = {
    b"SETEX": "ktv", b"EXPIRE": "kt", b"GETBIT": "kb", b"SETBIT": "kcB", b"BITCOUNT": "kii", b"SUBSTR": "kii",
    b"GETRANGE": "kii", b"KEYS": "kkl", b"ZADD": "ksfsf", b"ZINCRBY": "kzf", b"ZCOUNT": "kRR",
    b"ZRANGE": "kii", b"ZREVRANGE": "kii", b"ZRANGEBYSCORE": "kRR", b"ZREVRANGEBYSCORE": "kRR",
    b"ZREMRANGEBYRANK": "kii", b"ZREMRANGEBYSCORE": "kRR", b"LINDEX": "ki", b"LSET": "kiv", b"LRANGE": "kii",
    b"LPOP": "kl", b"RPOP": "kl",  # the count (0: compat.md, "LPOP/RPOP with a count"); "too few" drops it
}
_REDIS_LEFT_OUT = {b"HELLO"}
REDIS_COMMANDS: dict[bytes, str] = {
    **{name: _REDIS_OVERRIDES.get(name, shape) for name, shape in REDIS.items() if name not in _REDIS_LEFT_OUT},
    b"HMDEL": "kff", b"LSIZE": "k", b"AUTH": "v",
    # not in the mapping table: SSDB's generic path (or unknown command)
    b"SELECT": "n", b"TYPE": "k", b"SCAN": "n", b"FLUSHALL": "", b"INFOX": "",
}
#: Redis score bounds (SSDB parses them its own way)
REDIS_BOUNDS = [b"-inf", b"+inf", b"inf", b"(5", b"(-inf", b"(+inf", b"(", b"5", b"-5", b"0", b"1.5", b"(1.5", b"",
                b"abc", b"9223372036854775807", b"-9223372036854775808", b"99999999999999999999", b"1e3"]
#: names no table knows, and table names in other cases
UNKNOWN = [b"nosuchcommand", b"", b"\x00", b"get\x00", b"GETT", b"multi_", b"q", b"zz" * 100]
_REDIS_OPTIONS = {b"SET": [b"EX", b"10", b"NX", b"XX", b"PX"], b"ZADD": [b"NX", b"XX", b"CH", b"INCR", b"GT"],
                  b"ZRANGE": [b"BYSCORE", b"REV"]}  # never EXPIRE's: a word in the TTL's place reads as 0
_REDIS_WORDS = [b"WITHSCORES", b"withscores", b"LIMIT", b"limit", b"WithScores"]


_C_INT = re.compile(rb"[ \t\n\v\f\r]*[+-]?[0-9]+")


def _drops_next(bound: bytes) -> bool:
    """A ZRANGEBYSCORE max bound after which SSDB may reset the connection: ``(`` and a non-integer."""
    return bound[:1] == b"(" and len(bound) > 1 and _C_INT.fullmatch(bound[1:]) is None


class Generator:
    def __init__(self, seed: int, keyspace: int | None = None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        #: names k0..k<keyspace-1>: usually 6, per seed sometimes 2 or 20
        self.keyspace = keyspace or self.rng.choice([2, 6, 6, 6, 20])
        #: some seeds store mostly numbers (incr, hincr, zincr and the bit commands meet them)
        self.numeric = self.rng.random() < 0.25
        self.names = sorted(COMMANDS)
        self.redis_names = sorted(REDIS_COMMANDS)
        self.gen = {"k": self.key, "f": self.field, "v": self.value, "n": self.number, "t": self.ttl,
                    "s": self.score, "z": self.zincr_by, "r": self.bound, "i": self.index, "l": self.limit,
                    "b": self.bit_offset, "c": self.set_bit_offset, "B": self.bit_value, "R": self.redis_bound}

    # --- arguments ---------------------------------------------------------------------------
    def pick(self, items: list[bytes]) -> bytes:
        return self.rng.choice(items)

    def binary(self, lo: int, hi: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi))

    def key(self) -> bytes:
        r = self.rng.random()
        if r < 0.88:
            return b"k%d" % self.rng.randrange(self.keyspace)
        if r < 0.98:
            return self.pick(ODD_KEYS)
        return self.binary(1, 12)

    def field(self) -> bytes:
        r = self.rng.random()
        if r < 0.88:
            return b"f%d" % self.rng.randrange(6)
        if r < 0.98:
            return self.pick([b"", b"\x00", b"F" * 200, b"G" * 255, b"H" * 256, b"withscores", b"0", b"-1"])
        f = self.binary(1, 8)
        return f if f[:1] != b"\xff" else b"\xfe" + f[1:]

    def value(self) -> bytes:
        if self.numeric and self.rng.random() < 0.6:
            return self.number()
        r = self.rng.random()
        if r < 0.7:
            return self.binary(0, 40)
        if r < 0.9:
            return self.pick(NUMBERS)
        if r < 0.94:
            return b""
        if r < 0.999:
            return self.binary(1000, 8000)
        return self.rng.randbytes(self.rng.choice([256 * 1024, 1024 * 1024]))

    def number(self) -> bytes:
        r = self.rng.random()
        if r < 0.6:
            return self.pick(NUMBERS)
        if r < 0.85:
            return b"%d" % self.rng.randint(-20, 20)
        return b"%d" % self.rng.randint(-(1 << 40), 1 << 40)

    def ttl(self) -> bytes:
        return self.pick(TTLS)

    def score(self) -> bytes:
        r = self.rng.random()
        if r < 0.5:
            return b"%d" % self.rng.randint(-10, 30)
        return self.pick(SCORES)

    def zincr_by(self) -> bytes:
        return b"%d" % self.rng.randint(-5, 5) if self.rng.random() < 0.5 else self.pick(ZINCR_BY)

    def bound(self) -> bytes:
        return self.pick(RANGE) if self.rng.random() < 0.7 else b"%d" % self.rng.randint(-10, 30)

    def index(self) -> bytes:
        return b"%d" % self.rng.randint(-4, 6) if self.rng.random() < 0.5 else self.pick(INDEXES)

    def limit(self) -> bytes:
        return self.pick(LIMITS)

    def bit_offset(self) -> bytes:
        return self.pick(BIT_OFFSETS)

    def set_bit_offset(self) -> bytes:
        return self.pick(SET_BIT_OFFSETS)

    def redis_bound(self) -> bytes:
        return self.pick(REDIS_BOUNDS) if self.rng.random() < 0.6 else self.bound()

    def bit_value(self) -> bytes:
        return self.pick(BIT_VALUES)

    def args(self, shape: str) -> list[bytes]:
        out = [self.gen[c]() for c in shape]
        r = self.rng.random()
        if r < 0.08 and out:
            del out[self.rng.randrange(len(out)):]  # too few
        elif r < 0.16:
            # too many: more of the same kinds (more pairs for multi_*), TTL-safe
            extra = shape.replace("t", "") or "k"
            out += [self.gen[self.rng.choice(extra)]() for _ in range(self.rng.randint(1, 5))]
        return out

    # --- requests ----------------------------------------------------------------------------
    def request(self, proto: str = SSDB) -> list[bytes]:
        if proto == RESP and self.rng.random() < 0.04:
            return self.redis_builder()
        if proto == RESP and self.rng.random() < 0.75:
            name = self.pick(self.redis_names)
            args = self.args(REDIS_COMMANDS[name])
            if name in (b"ZRANGE", b"ZREVRANGE", b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE") and self.rng.random() < 0.5:
                args.append(self.pick(_REDIS_WORDS))
                if self.rng.random() < 0.3:
                    args += [self.index(), self.limit()]
            if name in _REDIS_OPTIONS and self.rng.random() < 0.15:  # Redis options SSDB does not know
                args[2:2] = self.rng.sample(_REDIS_OPTIONS[name], self.rng.randint(1, 2))
            if name in (b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE") and len(args) > 2 and _drops_next(args[2]):
                args[2] = b"(5"  # SSDB then drops the connection on a later request (compat.md)
            r = self.rng.random()
            if r < 0.3:
                name = name.lower()
            elif r < 0.35:
                name = name.capitalize()
            return [name, *args]
        r = self.rng.random()
        if r < 0.05:
            return self.builder()
        if r < 0.06:
            return [self.pick(UNKNOWN), *self.args("kv")]
        name = self.pick(self.names)
        if r < 0.09:
            name = self.pick([name.upper(), name.capitalize()])
            return [name, *self.args(COMMANDS[name.lower()])]
        req = [name, *self.args(COMMANDS[name])]
        if name == b"zfix" and len(req) > 1 and len(req[1]) == 255:
            req[1] = req[1][:254]  # SSDB's zfix destroys a 255-byte zset's size (compat.md)
        return req

    def redis_builder(self) -> list[bytes]:
        """``HMSET``/``ZADD``/``RPUSH``/``MSET`` with many items (the SSDB builders' Redis names)."""
        req = self.builder()
        name = {b"multi_hset": b"HMSET", b"multi_zset": b"ZADD", b"qpush": b"RPUSH", b"multi_set": b"MSET"}[req[0]]
        if name == b"ZADD":  # score before member
            items = req[2:]
            return [name, req[1], *[x for i in range(0, len(items), 2) for x in (items[i + 1], items[i])]]
        return [name, *req[1:]]

    def builder(self) -> list[bytes]:
        """``multi_hset``/``multi_zset``/``qpush``/``multi_set`` with 5-40 items on one small key."""
        name = self.pick(sorted(BUILDERS))
        shape = BUILDERS[name]
        out = [name]
        if shape[0] == "k" and name != b"multi_set":
            out.append(b"k%d" % self.rng.randrange(self.keyspace))
            shape = shape[1:]
        r = self.rng.random()
        # mostly small; sometimes across a slice of the server's long-command paths (256 items), and
        # rarely over its "long request" threshold (5000 blocks)
        count = self.rng.randint(5, 40) if r < 0.9 else self.rng.randint(250, 300) if r < 0.98 else 2600
        spread = 40 if count <= 40 else count * 2
        for _ in range(count):
            if name == b"multi_set":
                out += [b"k%d" % self.rng.randrange(max(self.keyspace * 3, spread)), self.value()]
            elif name == b"qpush":
                out.append(self.value())
            elif name == b"multi_hset":
                out += [b"f%d" % self.rng.randrange(spread), self.value()]
            else:
                out += [b"f%d" % self.rng.randrange(spread), self.score()]
        return out

    def requests(self, n: int, proto: str = SSDB) -> list[list[bytes]]:
        return [self.request(proto) for _ in range(n)]
