"""Counter markers: a plain write reads an item's old version record only when the item holds
counter state, which the markers (loaded at start) say; after a restart too, and on a database
versioned before the markers existed."""

from __future__ import annotations

from ssdbpy.db.database import Database
from ssdbpy.storage import versions as vmod
from ssdbpy.storage.keys import encode_kv


def test_a_plain_write_after_a_restart_keeps_the_counter_state(tmp_path):
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    db.kv.incr(b"n", 5)
    db.kv.set(b"plain", b"x")
    db.commit()
    assert v.counter_keys == {vmod.PREFIX + encode_kv(b"n")}
    db.close()
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    assert v.counter_keys == {vmod.PREFIX + encode_kv(b"n")}
    db.kv.set(b"n", b"10")  # the new base: the counter state stays (the totals as observed)
    db.commit()
    c = v.get(encode_kv(b"n")).counter
    assert c is not None and c.totals == c.observed and c.base == b"10"
    db.close()


def test_markers_are_built_once_for_a_database_versioned_before_them(tmp_path):
    db = Database.open(str(tmp_path))
    db.enable_versions()
    db.kv.incr(b"n", 1)
    db.hash.incr(b"h", b"f", 2)
    db.kv.set(b"plain", b"x")
    db.commit()
    # as an older ssdbpy left it: counter records, no markers, no markers flag
    for k in list(db.engine.iterate(vmod.MARKER, vmod.MARKER_END, keys_only=True)):
        db.engine.delete(k)
    db.commit()
    db.meta.delete(vmod.MARKERS_KEY)
    db.meta.commit()
    db.close()
    db = Database.open(str(tmp_path))
    v = db.enable_versions()
    assert {k[1:2] for k in v.counter_keys} == {b"k", b"h"} and len(v.counter_keys) == 2
    assert db.meta.get(vmod.MARKERS_KEY) is not None
    assert len(list(db.engine.iterate(vmod.MARKER, vmod.MARKER_END, keys_only=True))) == 2
    db.close()
