"""Key encodings match SSDB 1.9.8 byte for byte (spec/storage.md) and preserve order."""

from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.storage import keys

INT64 = st.integers(min_value=-(1 << 63), max_value=(1 << 63) - 1)
NAME = st.binary(max_size=255)


def test_documented_examples():
    assert keys.encode_kv(b"k1") == b"kk1"
    assert keys.encode_hash(b"h1", b"f1") == b"h\x02h1=f1"
    assert keys.encode_hsize(b"h1") == b"Hh1"
    assert keys.encode_zset(b"z1", b"m1") == b"s\x02z1\x02m1"
    assert keys.encode_zscore(b"z1", b"m2", -3) == b"z\x02z1-\xff\xff\xff\xff\xff\xff\xff\xfd=m2"
    assert keys.encode_zscore(b"z1", b"m3", 0) == b"z\x02z1=\x00\x00\x00\x00\x00\x00\x00\x00=m3"
    assert keys.encode_qitem(b"q1", 0x3FFFFFFFFFFFFFFE) == b"q\x02q1?\xff\xff\xff\xff\xff\xff\xfe"
    assert keys.encode_qitem(b"q1", keys.QFRONT_SEQ) == b"q\x02q1\x00\x00\x00\x00\x00\x00\x00\x02"
    assert keys.pack_u64le(0x3FFFFFFFFFFFFFFE) == bytes.fromhex("feffffffffffff3f")
    assert keys.pack_i64le(2) == bytes.fromhex("0200000000000000")
    assert keys.encode_binlog_key(4) == b"\x01\x00\x00\x00\x00\x00\x00\x00\x04"
    assert len(keys.EXPIRE_ZSET) == 20


def test_size_records_are_lenient():
    assert keys.unpack_size(None) == 0
    assert keys.unpack_size(b"\x01") == 0
    assert keys.unpack_size(keys.pack_i64le(-5)) == 0
    assert keys.unpack_size(keys.pack_i64le(7)) == 7


@given(NAME, INT64, INT64, st.binary(max_size=20), st.binary(max_size=20))
def test_score_index_sorts_numerically(name, a, b, ma, mb):
    ka = keys.encode_zscore(name, ma, a)
    kb = keys.encode_zscore(name, mb, b)
    if a != b:
        assert (ka < kb) == (a < b)
    assert keys.decode_zscore(ka) == (name, a, ma)


@given(NAME, st.binary(max_size=255))
def test_roundtrips(name, item):
    assert keys.decode_hash(keys.encode_hash(name, item)) == (name, item)
    assert keys.decode_zset(keys.encode_zset(name, item)) == (name, item)


@given(NAME, st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_queue_item_roundtrip(name, seq):
    assert keys.decode_qitem(keys.encode_qitem(name, seq)) == (name, seq)
