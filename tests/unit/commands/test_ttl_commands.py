"""setx / expire / ttl with every kind of number, in SSDB framing and through the Redis mapping.

The replies were recorded from the SSDB 1.9.8 reference server (docs/compat.md,
"TTL arithmetic"); tests/integration/test_ttl_reference.py compares live.
"""

from __future__ import annotations

import logging

import pytest

from ssdbpy.commands.redis_compat import translate
from ssdbpy.db import ttl as ttl_mod
from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)

NOW = 1_796_157_660_000

EDGE = [
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808", b"-9223372036854775809",
    b"99999999999999999999", b"18446744073709551615", b"4294967296", b"2147483648", b"2147483647",
    b"-2147483648", b"-2147483649", b"9223372036854", b"0", b"-0", b"-1", b"abc", b"", b"10abc",
    b" 10", b"+5", b"1.5", b"0x10", b"9" * 400, b"-" + b"9" * 400,
]


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.setattr(ttl_mod, "now_ms", lambda: NOW)
    d = Dispatcher(tmp_path)
    yield d
    d.close()


@pytest.mark.parametrize("raw", EDGE)
def test_every_ttl_value_is_accepted_without_an_internal_error(run, raw, caplog):
    caplog.set_level(logging.WARNING, logger="ssdbpy")
    want = ttl_mod.parse_ttl(raw)
    assert run(b"setx", b"k", b"v", raw) == [b"ok", b"1"]
    assert run(b"ttl", b"k") == [b"ok", str(want).encode()]
    assert run(b"get", b"k") == [b"ok", b"v"]  # until the expiry task runs
    assert run(b"set", b"e", b"v") == [b"ok", b"1"]
    assert run(b"expire", b"e", raw) == [b"ok", b"1"]
    assert run(b"ttl", b"e") == [b"ok", str(want).encode()]
    assert run(b"expire", b"missing", raw) == [b"ok", b"0"]
    assert not caplog.records


def test_huge_ttl_expires_the_key_as_ssdb_does(run):
    # int64 max is -1 as SSDB's 32-bit int: the key is due one second ago
    run(b"setx", b"k", b"v", b"9223372036854775807")
    run(b"setx", b"keep", b"v", b"2147483647")
    assert run.db.ttl.expire_due(NOW) == 1
    assert run(b"get", b"k") == [b"not_found"]
    assert run(b"ttl", b"k") == [b"ok", b"-1"]
    assert run(b"get", b"keep") == [b"ok", b"v"]
    assert run(b"ttl", b"keep") == [b"ok", b"2147483647"]


def test_resp_setex_and_expire_take_the_same_path(run):
    for req, ssdb in (
        ([b"SETEX", b"k", b"9223372036854775807", b"v"], [b"setx", b"k", b"v", b"9223372036854775807"]),
        ([b"EXPIRE", b"k", b"9223372036854775807"], [b"expire", b"k", b"9223372036854775807"]),
        ([b"TTL", b"k"], [b"ttl", b"k"]),
    ):
        args, desc = translate(req)
        assert args == ssdb
        assert desc.render(run(*args)) in (b"+OK\r\n", b":1\r\n", b":-1\r\n")
