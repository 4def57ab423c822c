"""RESP rendering of SSDB reply blocks (protocol.md §3.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.protocol.reply import (
    NULL,
    render3,
    render3_double,
    render3_failure,
    render3_map,
    render3_mget,
    render3_pairs,
    render3_pop_count,
    render3_pop_none,
    render_bulk,
    render_failure,
    render_generic,
    render_integer,
    render_members,
    render_mget,
    render_multibulk,
    render_ping,
    render_pop_count,
    render_pop_none,
    render_status,
)

ALL = [
    render_bulk,
    render_generic,
    render_integer,
    render_members,
    render_multibulk,
    render_ping,
    render_status,
    lambda b: render_mget(b, [b"k"]),
]


@pytest.mark.parametrize("render", ALL)
@pytest.mark.parametrize(
    "blocks, out",
    [
        ([b"error", b"boom"], b"-ERR boom\r\n"),
        ([b"fail", b"x"], b"-ERR x\r\n"),
        ([b"client_error", b"wrong number of arguments"], b"-ERR wrong number of arguments\r\n"),
        ([b"client_error"], b"-ERR \r\n"),
        ([b"error"], b"-ERR \r\n"),
        ([b"not_found"], b"$-1\r\n"),
        ([b"not_found", b"ignored"], b"$-1\r\n"),
        ([b"noauth", b"authentication required."], b"-NOAUTH authentication required.\r\n"),
        ([b"noauth"], b"-NOAUTH \r\n"),
        ([b"out_of_range"], b"-ERR server error\r\n"),
        ([b"OK"], b"-ERR server error\r\n"),
        ([], b""),
    ],
)
def test_non_ok_statuses_render_the_same_for_every_type(render, blocks, out):
    assert render(blocks) == out


def test_render_failure_rejects_ok():
    with pytest.raises(ValueError):
        render_failure([b"ok"])


def test_generic():
    assert render_generic([b"ok"]) == b"*0\r\n"
    assert render_generic([b"ok", b"1"]) == b"*1\r\n$1\r\n1\r\n"
    assert render_generic([b"ok", b"a", b""]) == b"*2\r\n$1\r\na\r\n$0\r\n\r\n"


def test_ping_and_status_ignore_payload():
    assert render_ping([b"ok"]) == b"+PONG\r\n"
    assert render_ping([b"ok", b"x"]) == b"+PONG\r\n"
    assert render_status([b"ok"]) == b"+OK\r\n"
    assert render_status([b"ok", b"1"]) == b"+OK\r\n"


def test_bulk():
    assert render_bulk([b"ok", b"v1"]) == b"$2\r\nv1\r\n"
    assert render_bulk([b"ok", b""]) == b"$0\r\n\r\n"
    assert render_bulk([b"ok", b"a", b"b"]) == b"$1\r\na\r\n"
    assert render_bulk([b"ok", b"x" * 5000]) == b"$5000\r\n" + b"x" * 5000 + b"\r\n"


def test_bulk_and_integer_without_payload_are_a_well_formed_empty_bulk():
    # SSDB 1.9.8 writes the malformed b"$0\r\n" here (docs/compat.md)
    assert render_bulk([b"ok"]) == b"$0\r\n\r\n"
    assert render_integer([b"ok"]) == b"$0\r\n\r\n"


def test_integer_text_verbatim():
    assert render_integer([b"ok", b"3"]) == b":3\r\n"
    assert render_integer([b"ok", b"-1"]) == b":-1\r\n"
    assert render_integer([b"ok", b"abc"]) == b":abc\r\n"


def test_multibulk_keeps_all_blocks():
    assert render_multibulk([b"ok", b"b", b"2", b"c", b"3"]) == b"*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n"


def test_members_halves():
    assert render_members([b"ok", b"b", b"2", b"c", b"3"]) == b"*2\r\n$1\r\nb\r\n$1\r\nc\r\n"
    assert render_members([b"ok"]) == b"*0\r\n"
    # odd payload: header 1, but blocks 1 and 3 are both written (as SSDB does)
    assert render_members([b"ok", b"a", b"1", b"b"]) == b"*1\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert render_members([b"ok", b"a"]) == b"*0\r\n$1\r\na\r\n"


def test_mget_pairing():
    blocks = [b"ok", b"k1", b"v1", b"k2", b"v2"]
    assert render_mget(blocks, [b"k1", b"nope", b"k2"]) == b"*3\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv2\r\n"
    assert render_mget([b"ok"], [b"nope"]) == b"*1\r\n$-1\r\n"
    # pairs are consumed in order only: a key asked before its pair is missed
    assert render_mget(blocks, [b"k2", b"k1"]) == b"*2\r\n$-1\r\n$2\r\nv1\r\n"
    # duplicate keys: the pair is consumed once
    assert render_mget([b"ok", b"a", b"1"], [b"a", b"a"]) == b"*2\r\n$1\r\n1\r\n$-1\r\n"


def test_mget_even_blocks_gives_bare_star_zero():
    assert render_mget([b"ok", b"1"], [b"a"]) == b"*0"


def test_mget_explicit_count():
    assert render_mget([b"ok"], [], -1) == b"*-1\r\n"


@given(st.lists(st.binary(max_size=10), max_size=8))
def test_generic_is_a_multibulk_of_the_payload(payload):
    out = render_generic([b"ok", *payload])
    expected = b"*%d\r\n" % len(payload) + b"".join(b"$%d\r\n%s\r\n" % (len(v), v) for v in payload)
    assert out == expected


@given(st.lists(st.binary(max_size=5), max_size=6), st.lists(st.binary(max_size=3), max_size=6))
def test_render_accepts_any_blocks(head, rest):
    for render in ALL:
        for blocks in (head, [b"ok", *rest], [b"not_found", *rest]):
            assert isinstance(render(blocks), bytes)


# --- RESP3 (connections that said HELLO 3) ------------------------------------------------

RESP2_RENDERERS = [render_bulk, render_generic, render_integer, render_members, render_multibulk, render_ping,
                   render_status]
ALL3 = [render3(r) for r in RESP2_RENDERERS] + [
    render3_map,
    render3_double,
    render3_pairs,
    lambda b: render3_mget(b, [b"k"]),
]


@pytest.mark.parametrize("render", ALL3)
@pytest.mark.parametrize(
    "blocks, out",
    [
        ([b"not_found"], b"_\r\n"),
        ([b"not_found", b"ignored"], b"_\r\n"),
        ([b"error", b"boom"], b"-ERR boom\r\n"),
        ([b"client_error"], b"-ERR \r\n"),
        ([b"noauth", b"authentication required."], b"-NOAUTH authentication required.\r\n"),
        ([b"out_of_range"], b"-ERR server error\r\n"),
        ([], b""),
    ],
)
def test_resp3_non_ok_statuses(render, blocks, out):
    assert render(blocks) == out


def test_resp3_failure():
    assert NULL == b"_\r\n"
    assert render3_failure([b"not_found"]) == b"_\r\n"
    assert render3_failure([b"fail", b"x"]) == b"-ERR x\r\n"


@pytest.mark.parametrize("render", RESP2_RENDERERS)
@given(st.lists(st.binary(max_size=5), max_size=6))
def test_resp3_wrapped_renderers_keep_the_resp2_bytes_for_ok(render, payload):
    assert render3(render)([b"ok", *payload]) == render([b"ok", *payload])


def test_resp3_wrapped_names():
    assert render3(render_bulk).__name__ == "render3_bulk"


def test_resp3_mget_nulls_inside_the_array():
    blocks = [b"ok", b"k1", b"v1", b"k2", b"v2"]
    assert render3_mget(blocks, [b"k1", b"nope", b"k2"]) == b"*3\r\n$2\r\nv1\r\n_\r\n$2\r\nv2\r\n"
    assert render3_mget([b"ok"], [b"a", b"b"], 2) == b"*2\r\n_\r\n_\r\n"
    # the RESP2 form is unchanged
    assert render_mget(blocks, [b"k1", b"nope", b"k2"]) == b"*3\r\n$2\r\nv1\r\n$-1\r\n$2\r\nv2\r\n"


def test_resp3_map():
    assert render3_map([b"ok"]) == b"%0\r\n"
    assert render3_map([b"ok", b"f1", b"v1", b"f2", b""]) == b"%2\r\n$2\r\nf1\r\n$2\r\nv1\r\n$2\r\nf2\r\n$0\r\n\r\n"
    # an odd payload (only through a stale descriptor): the last block is dropped, the map stays well formed
    assert render3_map([b"ok", b"a", b"1", b"b"]) == b"%1\r\n$1\r\na\r\n$1\r\n1\r\n"


def test_resp3_double():
    assert render3_double([b"ok", b"3"]) == b",3\r\n"
    assert render3_double([b"ok", b"-9223372036854775808"]) == b",-9223372036854775808\r\n"
    assert render3_double([b"ok", b"1.5e3"]) == b",1.5e3\r\n"
    assert render3_double([b"ok"]) == b"$0\r\n\r\n"
    # not a number (only through a stale descriptor): a bulk string, never a malformed double
    assert render3_double([b"ok", b"abc"]) == b"$3\r\nabc\r\n"
    assert render3_double([b"ok", b""]) == b"$0\r\n\r\n"


def test_resp3_pairs():
    assert render3_pairs([b"ok"]) == b"*0\r\n"
    assert render3_pairs([b"ok", b"b", b"2", b"c", b"-3"]) == (
        b"*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,-3\r\n"
    )
    assert render3_pairs([b"ok", b"a", b"x", b"b"]) == b"*1\r\n*2\r\n$1\r\na\r\n$1\r\nx\r\n"


@given(st.lists(st.binary(max_size=5), max_size=6), st.lists(st.binary(max_size=3), max_size=6))
def test_resp3_render_accepts_any_blocks(head, rest):
    for render in ALL3:
        for blocks in (head, [b"ok", *rest], [b"not_found", *rest]):
            assert isinstance(render(blocks), bytes)


# --- LPOP/RPOP with a count (Redis 7's replies where SSDB writes the malformed $0) ---------------


@pytest.mark.parametrize(
    "blocks, resp2, resp3",
    [
        ([b"ok", b"3"], b"*0\r\n", b"*0\r\n"),  # qsize of an existing list
        ([b"ok", b"0"], b"*-1\r\n", b"_\r\n"),  # a missing key
        ([b"ok"], b"*-1\r\n", b"_\r\n"),  # no size: nothing to pop
        ([b"error", b"boom"], b"-ERR boom\r\n", b"-ERR boom\r\n"),
        ([b"not_found"], b"$-1\r\n", b"_\r\n"),
        ([], b"", b""),
    ],
)
def test_pop_none(blocks, resp2, resp3):
    assert render_pop_none(blocks) == resp2
    assert render3_pop_none(blocks) == resp3


@pytest.mark.parametrize(
    "blocks, resp2, resp3",
    [
        ([b"ok"], b"*-1\r\n", b"_\r\n"),  # nothing popped: a missing key
        ([b"ok", b"a", b"b"], b"$1\r\na\r\n", b"$1\r\na\r\n"),  # SSDB: the first popped item
        ([b"not_found"], b"$-1\r\n", b"_\r\n"),
        ([b"error", b"boom"], b"-ERR boom\r\n", b"-ERR boom\r\n"),
        ([], b"", b""),
    ],
)
def test_pop_count(blocks, resp2, resp3):
    assert render_pop_count(blocks) == resp2
    assert render3_pop_count(blocks) == resp3
