"""Big replies sent in parts are the same bytes as the encoders' (server.connection._big_parts)."""

from __future__ import annotations

import pytest

from ssdbpy.commands import redis_compat
from ssdbpy.protocol.ssdb import encode_ssdb
from ssdbpy.server.connection import BIG_REPLY, _big_parts

pytestmark = pytest.mark.timeout(30)


@pytest.mark.parametrize("proto", [2, 3])
def test_parts_are_the_encoded_reply(proto):
    value = bytes(range(256)) * (BIG_REPLY // 256 + 3)
    reply = [b"ok", value]
    assert b"".join(_big_parts(reply, None)) == encode_ssdb(reply)
    _args, desc = redis_compat.PROTOCOLS[proto][0]([b"GET", b"k"])
    parts = _big_parts(reply, desc)
    assert parts[1] is value  # the value itself, not a copy
    assert b"".join(parts) == desc.render(reply)


def test_only_big_ok_values_of_bulk_replies():
    small = [b"ok", b"x" * (BIG_REPLY - 1)]
    assert _big_parts(small, None) is None
    big = b"x" * BIG_REPLY
    assert _big_parts([b"error", big], None) is None
    assert _big_parts([b"ok", big, big], None) is None
    _args, desc = redis_compat.translate([b"HGETALL", b"h"])
    assert _big_parts([b"ok", big], desc) is None  # not a bulk reply
