"""The differential test in CI (a bounded set of seeds) and the proof that it can fail.

Long runs: ``python -m tests.compat.differential --seeds 50`` (see differential.py).
"""

from __future__ import annotations

import pytest

from ssdbpy.commands.registry import COMMANDS
from ssdbpy.protocol.ssdb import encode_ssdb
from tests.compat.differential import (
    Mismatch, compare, equivalent, resp_reply_end, run_seed, ssdb_reply_end,
)
from tests.compat.generator import RESP, SSDB, TTLS, Generator, ssdb_ttl
from tests.harness import reference
from tests.harness.inprocess import Dispatcher

SSDB_SEEDS = range(10)
RESP_SEEDS = range(100, 106)
COMMANDS_PER_SEED = 400

needs_reference = pytest.mark.skipif(not reference.available(), reason=reference.SKIP_REASON)


@needs_reference
@pytest.mark.parametrize("seed", SSDB_SEEDS)
def test_ssdb_protocol_matches_reference(tmp_path, seed):
    m = run_seed(tmp_path, seed, COMMANDS_PER_SEED, SSDB)
    assert m is None, f"\n{m}"


@needs_reference
@pytest.mark.parametrize("seed", RESP_SEEDS)
def test_resp_matches_reference(tmp_path, seed):
    m = run_seed(tmp_path, seed, COMMANDS_PER_SEED, RESP)
    assert m is None, f"\n{m}"


# --- the harness itself (no reference binary needed) ---------------------------------------------
def _endpoint(tmp_path, name, broken=None):
    (tmp_path / name).mkdir()
    d = Dispatcher(tmp_path / name)

    def send(req):
        if broken is not None:
            broken["on"] = True
        try:
            return encode_ssdb(d(*req))
        finally:
            if broken is not None:
                broken["on"] = False

    return d, send


def test_a_broken_handler_is_reported(tmp_path, monkeypatch):
    """Two in-process ssdbpy, one with ``strlen`` off by one: the comparison reports it."""
    broken = {"on": False}
    original = COMMANDS[b"strlen"].handler

    def strlen_off_by_one(ctx, args):
        reply = list(original(ctx, args))
        if broken["on"] and reply[0] == b"ok":
            reply[1] = b"%d" % (int(reply[1]) + 1)
        return reply

    monkeypatch.setattr(COMMANDS[b"strlen"], "handler", strlen_off_by_one)
    requests = [[b"set", b"k", b"abc"], [b"get", b"k"], *Generator(7).requests(200), [b"strlen", b"k"]]
    a, send_a = _endpoint(tmp_path, "a")
    b, send_b = _endpoint(tmp_path, "b", broken)
    try:
        m = compare(7, SSDB, requests, send_a, send_b)
    finally:
        a.close()
        b.close()
    assert isinstance(m, Mismatch)
    assert m.request[0] == b"strlen"
    assert m.ours == m.ref.replace(m.ref.split(b"\n")[3], b"%d" % (int(m.ref.split(b"\n")[3]) + 1), 1)
    text = str(m)
    assert text.startswith(f"seed 7 (ssdb), command #{m.index}: [b'strlen'")
    assert repr(m.ref) in text and repr(m.ours) in text and "previous commands" in text
    assert len(m.history) == min(6, m.index) and m.history[-1][0] == m.index - 1


def test_identical_servers_agree(tmp_path):
    """No false alarm: two in-process ssdbpy given the same sequence reply the same bytes."""
    a, send_a = _endpoint(tmp_path, "a")
    b, send_b = _endpoint(tmp_path, "b")
    try:
        assert compare(3, SSDB, Generator(3).requests(300), send_a, send_b) is None
    finally:
        a.close()
        b.close()


def test_generator_is_seeded():
    assert Generator(5).requests(50, RESP) == Generator(5).requests(50, RESP)
    assert Generator(5).requests(50) != Generator(6).requests(50)


def test_every_command_is_generated_or_left_out_for_a_reason():
    import ssdbpy.commands.all  # noqa: F401
    from tests.compat.generator import COMMANDS as GENERATED
    from tests.compat.generator import LEFT_OUT

    assert set(COMMANDS) - set(GENERATED) <= set(LEFT_OUT)
    seen = {req[0].lower() for req in Generator(11).requests(4000)}
    assert set(GENERATED) <= seen


def test_connection_kept_after_zrangebyscore_with_an_odd_exclusive_max(server_factory):
    """A deliberate difference (docs/compat.md): SSDB resets the connection at the next big request."""
    from tests.compat.differential import RawClient

    srv = server_factory()
    c = RawClient(srv.port, RESP)
    try:
        for cmd in (b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"):
            assert c([cmd, b"k0", b"(", b"(1.5"]) == b"*0\r\n"
            assert c([b"SET", b"big", b"a" * 4000]) == b"+OK\r\n"
            assert c([b"STRLEN", b"big"]) == b":4000\r\n"
    finally:
        c.close()


def test_ttls_never_expire_during_a_run():
    # values recorded from the reference server (docs/compat.md, "TTL arithmetic")
    assert [ssdb_ttl(t) for t in (b"-2147483649", b"9223372036854", b"2147483648", b"10abc", b"1.5")] == [
        2147483647, 2077252342, -2147483648, 10, 1]
    assert all(ssdb_ttl(t) >= 100 for t in TTLS) and len(TTLS) > 5


def test_reply_framing():
    assert ssdb_reply_end(b"2\nok\n1\n5\n\n") == 10
    assert ssdb_reply_end(b"2\nok\n1\n5\n") is None
    assert ssdb_reply_end(b"2\nok\n3\na\nb\n\n") == 12
    assert resp_reply_end(b"*2\r\n$1\r\na\r\n$-1\r\n") == 16
    assert resp_reply_end(b"*2\r\n$1\r\na\r\n") is None
    assert resp_reply_end(b"$3\r\na\r\n\r\n") == 9


def test_ttl_tolerance_only_for_ttl():
    assert equivalent(SSDB, [b"ttl", b"k"], b"2\nok\n3\n100\n\n", b"2\nok\n2\n99\n\n")
    assert not equivalent(SSDB, [b"ttl", b"k"], b"2\nok\n3\n100\n\n", b"2\nok\n2\n98\n\n")
    assert not equivalent(SSDB, [b"get", b"k"], b"2\nok\n3\n100\n\n", b"2\nok\n2\n99\n\n")
    assert equivalent(RESP, [b"TTL", b"k"], b":100\r\n", b":99\r\n")
    assert not equivalent(RESP, [b"TTL", b"k"], b":-1\r\n", b"$-1\r\n")


def test_malformed_empty_bulk_is_the_only_resp_leniency():
    assert equivalent(RESP, [b"LPOP", b"k", b"x"], b"$0\r\n<incomplete>", b"$0\r\n\r\n")
    assert not equivalent(RESP, [b"LPOP", b"k", b"x"], b"$0\r\n<incomplete>", b"$-1\r\n")
    assert not equivalent(SSDB, [b"get", b"k"], b"$0\r\n<incomplete>", b"$0\r\n\r\n")


def test_pop_with_a_count_may_be_redis_arrays():
    for ours in (b"*0\r\n", b"*-1\r\n"):
        assert equivalent(RESP, [b"LPOP", b"k", b"0"], b"$0\r\n<incomplete>", ours)
        assert equivalent(RESP, [b"rpop", b"k", b"3"], b"$0\r\n<incomplete>", ours)
        assert not equivalent(RESP, [b"LPOP", b"k"], b"$0\r\n<incomplete>", ours)
        assert not equivalent(RESP, [b"GET", b"k", b"0"], b"$0\r\n<incomplete>", ours)
        assert not equivalent(SSDB, [b"qpop_front", b"k", b"0"], b"$0\r\n<incomplete>", ours)
    assert not equivalent(RESP, [b"LPOP", b"k", b"0"], b"$1\r\na\r\n", b"*0\r\n")
    assert not equivalent(RESP, [b"LPOP", b"k", b"0"], b"$0\r\n<incomplete>", b"*1\r\n$1\r\na\r\n")
