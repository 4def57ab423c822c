"""Random and mutated request frames for the soak test, in both protocols.

Everything is drawn from a ``random.Random`` the caller seeds, so a frame
sequence is reproducible from its seed.  ``Fuzzer.frame(proto)`` returns one
frame (bytes) and its kind:

* ``valid``: a well-formed request of a command of any type, with random
  arguments (numbers at the int32/int64 edges and beyond, garbage, empty,
  over-long and binary keys, too few or too many arguments);
* ``mutated``: a valid frame with bit flips, a truncation, a duplicated,
  deleted or inserted slice, or a damaged length header;
* ``garbage``: framing attacks (huge, negative and non-numeric lengths, nested
  RESP arrays, ``*2000000000``, ``*`` followed by many line ends, top-level
  bulks, inline commands) and random binary.

Commands that would change the server for everybody else (``flushdb``,
``compact``, ``slaveof``, ``dump``, ip filters, ``set_kv_range``,
``clear_binlog``) are never generated on purpose; a mutation is very unlikely
to produce one.
"""

from __future__ import annotations

import random

from ssdbpy.protocol.ssdb import encode_ssdb

SSDB, RESP = "ssdb", "resp"

NUMBERS = [
    b"0", b"1", b"-1", b"2", b"3", b"10", b"100", b"-100", b"2147483647", b"2147483648", b"-2147483648",
    b"-2147483649", b"4294967295", b"4294967296", b"9223372036854775807", b"-9223372036854775808",
    b"9223372036854775808", b"-9223372036854775809", b"18446744073709551615", b"18446744073709551616",
    b"99999999999999999999999999", b"1073741824", b"1073741825", b"2000000000", b"abc", b"", b"1.5",
    b"-0.5", b"1e308", b"-1e308", b"inf", b"-inf", b"+inf", b"nan", b"0x10", b" 5", b"5 ", b"+", b"-",
    b"(5", b"(-inf", b"9" * 400,
]

#: bit offsets: small, or beyond setbit's limit (a valid offset near 2**30 makes a 128 MB value,
#: legitimately, which would hide a leak in the soak's RSS check)
BIT_OFFSETS = [b"0", b"1", b"7", b"8", b"100", b"65535", b"-1", b"1073741825", b"2147483648", b"4294967296",
               b"9223372036854775807", b"abc", b"", b"1.5"]

#: SSDB command -> argument shape: k key, f field/member, v value, n number (any of NUMBERS), b bit offset
SHAPES: dict[bytes, str] = {
    # kv
    b"get": "k", b"set": "kv", b"setx": "kvn", b"setnx": "kv", b"getset": "kv", b"del": "k",
    b"exists": "k", b"incr": "kn", b"decr": "kn", b"ttl": "k", b"expire": "kn", b"getbit": "kn",
    b"setbit": "kbn", b"bitcount": "knn", b"countbit": "knn", b"substr": "knn", b"getrange": "knn",
    b"strlen": "k", b"multi_set": "kvkvkv", b"multi_get": "kkk", b"multi_del": "kkk",
    b"multi_exists": "kkk", b"scan": "kkn", b"rscan": "kkn", b"keys": "kkn", b"rkeys": "kkn",
    # hash
    b"hset": "kfv", b"hget": "kf", b"hdel": "kf", b"hincr": "kfn", b"hdecr": "kfn", b"hexists": "kf",
    b"hsize": "k", b"hgetall": "k", b"hkeys": "kffn", b"hvals": "kffn", b"hscan": "kffn",
    b"hrscan": "kffn", b"hlist": "kkn", b"hrlist": "kkn", b"hclear": "k", b"hfix": "k",
    b"multi_hset": "kfvfv", b"multi_hget": "kff", b"multi_hdel": "kff", b"multi_hexists": "kff",
    b"multi_hsize": "kk",
    # zset
    b"zset": "kfn", b"zget": "kf", b"zdel": "kf", b"zincr": "kfn", b"zdecr": "kfn", b"zexists": "kf",
    b"zsize": "k", b"zrank": "kf", b"zrrank": "kf", b"zrange": "knn", b"zrrange": "knn",
    b"zscan": "kfnnn", b"zrscan": "kfnnn", b"zkeys": "kfnnn", b"zcount": "knn", b"zsum": "knn",
    b"zavg": "knn", b"zremrangebyrank": "knn", b"zremrangebyscore": "knn", b"zpop_front": "kn",
    b"zpop_back": "kn", b"zlist": "kkn", b"zrlist": "kkn", b"zclear": "k", b"zfix": "k",
    b"multi_zset": "kfnfn", b"multi_zget": "kff", b"multi_zdel": "kff", b"multi_zexists": "kff",
    b"multi_zsize": "kk", b"redis_zrange": "knn", b"redis_zrrange": "knn",
    # queue
    b"qpush": "kvv", b"qpush_front": "kvv", b"qpush_back": "kvv", b"qpop": "kn", b"qpop_front": "kn",
    b"qpop_back": "kn", b"qfront": "k", b"qback": "k", b"qsize": "k", b"qget": "kn", b"qset": "knv",
    b"qrange": "knn", b"qslice": "knn", b"qtrim_front": "kn", b"qtrim_back": "kn", b"qclear": "k",
    b"qlist": "kkn", b"qrlist": "kkn", b"qfix": "k",
    # server (harmless ones)
    b"ping": "", b"version": "", b"dbsize": "", b"info": "", b"auth": "v", b"get_key_range": "",
    b"get_kv_range": "", b"ignore_key_range": "", b"list_allow_ip": "", b"list_deny_ip": "",
}

#: Redis names (SSDB 1.9.8's mapping table) and their usual arguments
REDIS: dict[bytes, str] = {
    b"GET": "k", b"SET": "kv", b"SETNX": "kv", b"GETSET": "kv", b"DEL": "kkk", b"EXISTS": "k",
    b"INCR": "k", b"INCRBY": "kn", b"DECR": "k", b"DECRBY": "kn", b"TTL": "k", b"EXPIRE": "kn",
    b"SETEX": "knv", b"GETBIT": "kn", b"SETBIT": "kbn", b"STRLEN": "k", b"BITCOUNT": "knn",
    b"SUBSTR": "knn", b"GETRANGE": "knn", b"KEYS": "k", b"MSET": "kvkv", b"MGET": "kkk",
    b"HSET": "kfv", b"HGET": "kf", b"HEXISTS": "kf", b"HDEL": "kff", b"HMSET": "kfvfv", b"HMGET": "kff",
    b"HLEN": "k", b"HINCRBY": "kfn", b"HGETALL": "k", b"HKEYS": "k", b"HVALS": "k",
    b"ZADD": "knfnf", b"ZCARD": "k", b"ZSCORE": "kf", b"ZREM": "kff", b"ZRANK": "kf", b"ZREVRANK": "kf",
    b"ZCOUNT": "knn", b"ZINCRBY": "knf", b"ZRANGE": "knnf", b"ZREVRANGE": "knnf",
    b"ZRANGEBYSCORE": "knnfnn", b"ZREVRANGEBYSCORE": "knnfnn", b"ZREMRANGEBYRANK": "knn",
    b"ZREMRANGEBYSCORE": "knn", b"LPUSH": "kvv", b"RPUSH": "kvv", b"LPOP": "k", b"RPOP": "k",
    b"LLEN": "k", b"LINDEX": "kn", b"LSET": "knv", b"LRANGE": "knn", b"PING": "", b"HELLO": "nfv",
    b"PEXPIRE": "kn", b"PSETEX": "knv", b"PERSIST": "k",
}
_REDIS_WORDS = [b"WITHSCORES", b"withscores", b"LIMIT", b"limit", b"AUTH", b"SETNAME", b"default"]

SSDB_GARBAGE = [
    b"99999999999999999999\n", b"2147483647\nabc", b"2147483648\nx\n\n", b"4294967299\nabc\n\n",
    b"-1\nx\n\n", b"-2147483648\n", b"abc\nping\n\n", b"1234567890123456789\n", b"12345678901234567890\n",
    b"3\nget\n1\nk\n\n" * 2 + b"3\nget\n1\nkXX\n\n", b"4\nping\r\r\n", b"4\nping", b"\n\n\n\r\n",
    b"0\n\n\n", b"1\n\n\n", b"5\nhello\n5", b"134217728\n", b"134217729\nabc\n\n", b"\x00\x01\x02\n",
]
RESP_GARBAGE = [
    b"*-1\r\n", b"*0\r\n", b"*abc\r\n", b"*1\r\n$-1\r\n", b"*1\r\n$-5\r\nhello\r\n", b"*1\r\n$99999999999\r\n",
    b"*1\r\n$2147483647\r\nabc", b"*1\r\n$4294967299\r\nget\r\n", b"*2\r\n*1\r\n$1\r\na\r\n$1\r\nb\r\n",
    b"*1\r\n*1\r\n*1\r\n$4\r\nping\r\n", b"*1\r\n:5\r\n", b"*1\r\n+OK\r\n", b"*1\r\n-ERR\r\n",
    b"$5\r\nhello\r\n", b"+PING\r\n", b":1\r\n", b"PING\r\n", b"GET k\r\n", b"SET k v\r\n",
    b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n", b"*1\r\n$4\r\nPINGXX", b"*1\n$4\nping\n", b"*2\r\n$3\r\nget\r\n$1000\r\nk",
    b"*1\r\n$0\r\n\r\n", b"*100000\r\n$1\r\na\r\n", b"*1\r\n$ 4\r\nping\r\n", b"*\r\n", b"*1",
]
#: the known-expensive frames: each is sent rarely (see Fuzzer.garbage)
RESP_HUGE_ARRAY = b"*2000000000\r\n"


class Fuzzer:
    def __init__(self, rng: random.Random, keyspace: int = 64) -> None:
        self.rng = rng
        self.keyspace = keyspace
        self.ssdb_names = list(SHAPES)
        self.redis_names = list(REDIS)

    # --- arguments ------------------------------------------------------------------
    def key(self) -> bytes:
        r = self.rng.random()
        if r < 0.9:
            return b"k%d" % self.rng.randrange(self.keyspace)
        return self.rng.choice([b"", b"\xff\xff", b"x" * 255, b"x" * 256, b"y" * 1000, self.binary(1, 16)])

    def field(self) -> bytes:
        if self.rng.random() < 0.9:
            return b"f%d" % self.rng.randrange(16)
        return self.rng.choice([b"", b"x" * 255, b"x" * 256, self.binary(1, 8), b"withscores", b"limit"])

    def value(self) -> bytes:
        r = self.rng.random()
        if r < 0.85:
            return self.binary(0, 40)
        if r < 0.95:
            return self.rng.choice(NUMBERS)
        return self.binary(1000, 8000)

    def number(self) -> bytes:
        if self.rng.random() < 0.7:
            return self.rng.choice(NUMBERS)
        return str(self.rng.randint(-(1 << 40), 1 << 40)).encode()

    def bit_offset(self) -> bytes:
        return self.rng.choice(BIT_OFFSETS)

    def binary(self, lo: int, hi: int) -> bytes:
        return self.rng.randbytes(self.rng.randint(lo, hi))

    def args(self, shape: str) -> list[bytes]:
        gen = {"k": self.key, "f": self.field, "v": self.value, "n": self.number, "b": self.bit_offset}
        out = [gen[c]() for c in shape]
        r = self.rng.random()
        if r < 0.1 and out:
            del out[self.rng.randrange(len(out)) :]  # too few
        elif r < 0.2:
            out += [gen[self.rng.choice("kfvn")]() for _ in range(self.rng.randint(1, 6))]  # too many / more pairs
        return out

    # --- frames ----------------------------------------------------------------------
    def request(self, proto: str) -> list[bytes]:
        if proto == RESP and self.rng.random() < 0.6:
            name = self.rng.choice(self.redis_names)
            if self.rng.random() < 0.3:
                name = name.lower()
            args = self.args(REDIS[name.upper()])
            if self.rng.random() < 0.2:
                args.append(self.rng.choice(_REDIS_WORDS))
            return [name, *args]
        name = self.rng.choice(self.ssdb_names)
        return [name, *self.args(SHAPES[name])]

    def encode(self, proto: str, req: list[bytes]) -> bytes:
        if proto == SSDB:
            return encode_ssdb(req)
        return b"*%d\r\n" % len(req) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in req)

    def valid(self, proto: str) -> bytes:
        return self.encode(proto, self.request(proto))

    def mutable(self, proto: str) -> bytes:
        """A valid frame to mutate: never ``setbit`` (a damaged offset may make a 128 MB value)."""
        while True:
            req = self.request(proto)
            if req[0].lower() != b"setbit":
                return self.encode(proto, req)

    def mutate(self, frame: bytes) -> bytes:
        rng = self.rng
        b = bytearray(frame)
        for _ in range(rng.randint(1, 3)):
            op = rng.randrange(6)
            n = len(b)
            if n == 0:
                b += rng.randbytes(4)
                continue
            i = rng.randrange(n)
            if op == 0:  # bit flips
                b[i] ^= 1 << rng.randrange(8)
            elif op == 1:  # truncation
                del b[i:]
            elif op == 2:  # duplicate a slice
                j = min(n, i + rng.randint(1, 32))
                b[i:i] = b[i:j]
            elif op == 3:  # delete a slice
                del b[i : i + rng.randint(1, 8)]
            elif op == 4:  # insert random bytes
                b[i:i] = rng.randbytes(rng.randint(1, 8))
            else:  # damage a length: digits replaced by other digits, a sign, or a space
                digits = [k for k, c in enumerate(b) if 48 <= c <= 57]
                if digits:
                    k = rng.choice(digits)
                    b[k : k + 1] = rng.choice([b"9", b"99999", b"-", b" ", b"0", b"4294967296"])
        return bytes(b)

    def garbage(self, proto: str, huge_array: bool = False) -> bytes:
        rng = self.rng
        r = rng.random()
        if r < 0.2:
            return self.binary(1, 200)
        if proto == RESP:
            if huge_array:
                return RESP_HUGE_ARRAY
            if r < 0.25:
                return b"*" + b"\r\n" * rng.randint(1, 5000)
            if r < 0.3:
                depth = rng.randint(2, 50)
                return b"*1\r\n" * depth + b"$4\r\nping\r\n"
            return rng.choice(RESP_GARBAGE)
        if r < 0.25:
            return b"%d\n" % rng.randint(-(1 << 70), 1 << 70) + self.binary(0, 20)
        return rng.choice(SSDB_GARBAGE)

    def frame(self, proto: str, p_mutated: float, p_garbage: float) -> tuple[str, bytes]:
        r = self.rng.random()
        if r < p_garbage:
            return "garbage", self.garbage(proto)
        if r < p_garbage + p_mutated:
            return "mutated", self.mutate(self.mutable(proto))
        return "valid", self.valid(proto)
