"""crdt.bump, the in-place raise of one origin's total, against the long way (decode,
normalize, raise, encode): the same bytes whenever it answers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.cnum import wrap_int64
from ssdbpy.storage import crdt

ORIGINS = [3, 7, 11]
entries = st.dictionaries(st.sampled_from(ORIGINS), st.tuples(st.integers(-2**63, 2**63 - 1), st.integers(1, 60)))


@given(st.one_of(st.none(), st.binary(max_size=8)), entries, entries,
       st.tuples(st.integers(0, 60), st.sampled_from([0] + ORIGINS)), st.sampled_from(ORIGINS),
       st.integers(-100, 100), st.integers(1, 80), st.binary(max_size=17))
def test_bump_equals_the_long_way(base_value, totals, observed, base, origin, by, stamp, head):
    c = crdt.Counter(base_value, dict(totals), dict(observed))
    crdt.normalize(base, c)  # stored states are normalized
    raw = head + c.encode()
    got = crdt.bump(raw, len(head), origin, by, stamp, base)
    entry = c.totals.get(origin)
    if entry is None or (entry[1], origin) <= base or stamp <= entry[1]:
        assert got is None
        return
    long = crdt.Counter.decode(raw[len(head):])
    crdt.normalize(base, long)
    long.totals[origin] = (wrap_int64(long.totals[origin][0] + by), stamp)
    assert got == head + long.encode()
