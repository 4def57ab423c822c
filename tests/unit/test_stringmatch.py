"""Redis's glob (stringmatch): examples from Redis's own tests and a property test against a regex model."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.stringmatch import stringmatch


@pytest.mark.parametrize(
    "pattern, string, match",
    [
        (b"h?llo", b"hello", True), (b"h?llo", b"hllo", False), (b"h*llo", b"hllo", True),
        (b"h*llo", b"heeeello", True), (b"h[ae]llo", b"hello", True), (b"h[ae]llo", b"hillo", False),
        (b"h[^e]llo", b"hallo", True), (b"h[^e]llo", b"hello", False), (b"h[a-b]llo", b"hbllo", True),
        (b"h[b-a]llo", b"hbllo", True), (b"h\\*llo", b"h*llo", True), (b"h\\*llo", b"hello", False),
        (b"*", b"", True), (b"", b"", True), (b"", b"x", False), (b"a*", b"a", True),
        (b"__sentinel__:*", b"__sentinel__:hello", True), (b"news.*", b"news", False),
        (b"[\\]]", b"]", True), (b"**a", b"ba", True),
    ],
)
def test_examples(pattern, string, match):
    assert stringmatch(pattern, string) is match


def test_nocase():
    assert stringmatch(b"SLOWLOG*", b"slowlog-max-len", nocase=True)
    assert not stringmatch(b"SLOWLOG*", b"slowlog-max-len")


def test_hostile_pattern_is_not_exponential():
    t0 = time.monotonic()
    assert not stringmatch(b"a*" * 30 + b"b", b"a" * 200)
    assert time.monotonic() - t0 < 1.0


def _model(pattern: bytes) -> re.Pattern:
    out = b""
    for c in pattern:
        ch = bytes([c])
        out += b".*" if ch == b"*" else b"." if ch == b"?" else re.escape(ch)
    return re.compile(out, re.S)


@given(st.binary(max_size=8).map(lambda b: b.replace(b"[", b"").replace(b"\\", b"")),
       st.binary(max_size=12))
def test_star_and_question_mark_as_a_regex(pattern, string):
    assert stringmatch(pattern, string) == bool(_model(pattern).fullmatch(string))
