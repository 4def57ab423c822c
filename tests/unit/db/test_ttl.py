"""ssdbpy.db.ttl: SSDB 1.9.8's TTL arithmetic (observed on the reference server, docs/compat.md)."""

from __future__ import annotations

import pytest

from ssdbpy.db import ttl as ttl_mod
from ssdbpy.db.database import Database
from ssdbpy.db.ttl import parse_ttl
from ssdbpy.storage.keys import EXPIRE_ZSET

pytestmark = pytest.mark.timeout(30)

NOW = 1_796_157_660_000  # ms, a fixed clock


@pytest.fixture
def db(tmp_path, monkeypatch):
    monkeypatch.setattr(ttl_mod, "now_ms", lambda: NOW)
    d = Database.open(str(tmp_path))
    yield d
    d.close()


@pytest.mark.parametrize(
    "raw, ttl",
    [
        # (int)strtol(s): lenient, saturating at int64, then truncated to 32 bits
        (b"100", 100),
        (b"-100", -100),
        (b"0", 0),
        (b"-0", 0),
        (b"9223372036854775807", -1),
        (b"9223372036854775806", -2),
        (b"-9223372036854775808", 0),
        (b"9223372036854775808", -1),
        (b"-9223372036854775809", 0),
        (b"99999999999999999999", -1),
        (b"18446744073709551615", -1),
        (b"4294967296", 0),
        (b"4294967295", -1),
        (b"2147483648", -2147483648),
        (b"2147483647", 2147483647),
        (b"-2147483649", 2147483647),
        (b"9223372036854", 2077252342),
        (b"9223372036854775", -1511828489),
        (b"abc", 0),
        (b"", 0),
        (b"10abc", 10),
        (b" 10", 10),
        (b"+5", 5),
        (b"1.5", 1),
        (b"1e3", 1),
        (b"0x10", 0),
    ],
)
def test_parse_ttl_is_ssdb_int(raw, ttl):
    assert parse_ttl(raw) == ttl


def test_expiry_time_in_ms_and_raw_ttl(db):
    db.ttl.set(b"k", 100)
    assert db.zset.score(EXPIRE_ZSET, b"k") == NOW + 100_000
    assert db.ttl.get(b"k") == 100
    db.ttl.set(b"k", parse_ttl(b"9223372036854775807"))  # -1: one second ago
    assert db.zset.score(EXPIRE_ZSET, b"k") == NOW - 1000
    assert db.ttl.get(b"k") == -1
    db.ttl.set(b"k", -(2**31))
    assert db.zset.score(EXPIRE_ZSET, b"k") == NOW - 2**31 * 1000
    assert db.ttl.get(b"k") == -(2**31)
    assert db.ttl.get(b"none") == -1


def test_ttl_truncates_toward_zero_and_reports_the_raw_score(db):
    db.zset.set(EXPIRE_ZSET, b"a", NOW + 1999)
    db.zset.set(EXPIRE_ZSET, b"b", NOW - 1999)  # -1.999 s: -1 in C, not -2
    db.zset.set(EXPIRE_ZSET, b"c", 1_900_000_000)  # a "seconds" score: ttl still says ms
    db.zset.set(EXPIRE_ZSET, b"d", -(2**63))  # (score - now) wraps in int64
    assert db.ttl.get(b"a") == 1
    assert db.ttl.get(b"b") == -1
    assert db.ttl.get(b"c") == -1_794_257_660  # not (1.9e12 - NOW) / 1000: no seconds conversion
    assert db.ttl.get(b"d") == ((-(2**63) - NOW) + 2**64) // 1000


def test_a_seconds_score_does_not_block_expiry_of_ms_scores(db):
    # 1,900,000,000 sorts first in the index but means 2030 (seconds); ms scores behind it are due now
    db.kv.set(b"old", b"v")
    db.ttl.set(b"old", (1_900_000_000 - NOW) // 1000)
    assert db.zset.score(EXPIRE_ZSET, b"old") < 2_000_000_000
    for k in (b"a", b"b"):
        db.kv.set(k, b"v")
        db.ttl.set(k, -1)
    db.kv.set(b"later", b"v")
    db.ttl.set(b"later", 10)
    db.commit()
    assert db.ttl.next_due() == NOW - 1000
    assert db.ttl.expire_due(NOW) == 2
    assert db.kv.get(b"a") is None and db.kv.get(b"b") is None
    assert db.kv.get(b"old") == b"v" and db.kv.get(b"later") == b"v"
    assert db.ttl.next_due() == NOW + 10_000
    assert db.ttl.expire_due(NOW + 10_000) == 1
    assert db.ttl.next_due() == 1_900_000_000_000
    assert db.ttl.expire_due(1_900_000_000_000) == 1
    assert db.ttl.next_due() is None


def test_negative_and_small_scores_are_due(db):
    for k, t in ((b"a", -(2**31)), (b"b", -(NOW // 1000)), (b"c", 0)):
        db.kv.set(k, b"v")
        db.ttl.set(k, t)
    db.commit()
    assert db.ttl.expire_due(NOW) == 3
    assert db.ttl.next_due() is None


def test_expire_due_limit_spans_both_regions(db):
    for i in range(5):
        db.kv.set(b"s%d" % i, b"v")
        db.zset.set(EXPIRE_ZSET, b"s%d" % i, 1000 + i)  # seconds, long past
        db.kv.set(b"m%d" % i, b"v")
        db.ttl.set(b"m%d" % i, -1)
    db.commit()
    assert db.ttl.expire_due(NOW, limit=7) == 7
    assert db.ttl.expire_due(NOW, limit=7) == 3
    assert db.ttl.expire_due(NOW) == 0
