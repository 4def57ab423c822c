"""Python 2's string-escape on bytes (the encoding of ssdb-cli's input, :escape output and export files)."""

from __future__ import annotations

import codecs
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.cli import escape


@pytest.mark.parametrize("raw, escaped", [
    (b"plain", b"plain"),
    (b"a b", b"a b"),
    (b"\x00\x01\xff", b"\\x00\\x01\\xff"),
    (b"\t\n\r", b"\\t\\n\\r"),
    (b"'\"\\", b"\\'\"\\\\"),
    (b"\x7f\x80", b"\\x7f\\x80"),
    ("é".encode(), b"\\xc3\\xa9"),
])
def test_encode(raw, escaped):
    assert escape.encode(raw) == escaped
    assert escape.decode(escaped) == raw


@given(st.binary(max_size=64))
def test_encode_is_pythons_escape_encode_and_round_trips(data):
    assert escape.encode(data) == codecs.escape_encode(data)[0]
    assert escape.decode(escape.encode(data)) == data


@given(st.binary(max_size=48).map(lambda b: b.replace(b"\\x", b"\\x4")))
def test_decode_matches_pythons_escape_decode(data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            want = codecs.escape_decode(data)[0]
        except ValueError:
            want = None
    if want is None:
        with pytest.raises(ValueError):
            escape.decode(data)
    else:
        assert escape.decode(data) == want


@pytest.mark.parametrize("text, raw", [
    (b"\\x41\\101\\7\\a\\q", b"AA\x07\x07\\q"),
    (b"a\\\nb", b"ab"),
    (b'\\"\\v\\f\\b', b'"\x0b\x0c\x08'),
    (b"\\400", b"\x00"),  # octal wraps to a byte, as Python 2
])
def test_decode_cases(text, raw):
    assert escape.decode(text) == raw


@pytest.mark.parametrize("bad", [b"trailing\\", b"\\x4", b"\\xzz"])
def test_decode_errors(bad):
    with pytest.raises(ValueError):
        escape.decode(bad)


@pytest.mark.parametrize("data, text", [
    (b"hello world", True), ("héllo 世界".encode(), True), (b"a\tb", False), (b"\x00", False),
    (b"\xff\xfe", False), (b"line\n", False), (b"", True),
])
def test_is_text(data, text):
    assert escape.is_text(data) is text
