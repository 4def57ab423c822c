"""Engine atomic sections: a long write's layer is hidden from the others while its owner waits,
never committed by anyone else, and joins the shared overlay at once (or is dropped)."""

from __future__ import annotations

import pytest

from ssdbpy.storage import engine as engine_mod
from ssdbpy.storage.engine import Engine

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def eng(tmp_path):
    e = Engine(str(tmp_path / "db"))
    e.put(b"a", b"old")
    e.commit()
    yield e
    e.close()


def test_the_section_is_seen_by_its_owner_only_and_committed_whole(eng):
    eng.begin_atomic()
    eng.put(b"a", b"new")
    eng.put(b"b", b"new")
    assert eng.get(b"a") == b"new"  # the owner sees its writes
    eng.pause_atomic()
    # the others: the data as it was, a commit writes nothing of the section
    assert eng.get(b"a") == b"old" and eng.get(b"b") is None
    assert [k for k in eng.iterate(keys_only=True)] == [b"a"]
    eng.commit()
    assert eng._db.get(b"b") is None
    assert eng.dirty  # the section is not written yet
    eng.resume_atomic()
    eng.put(b"c", b"new")
    eng.end_atomic(keep=True)
    assert eng.get(b"b") == b"new" and eng.get(b"c") == b"new"
    eng.commit()
    assert [eng._db.get(k) for k in (b"a", b"b", b"c")] == [b"new", b"new", b"new"]
    assert not eng.dirty


def test_a_dropped_section_leaves_nothing(eng):
    eng.begin_atomic()
    eng.put(b"a", b"new")
    eng.delete(b"a")
    eng.put(b"z", b"z")
    eng.end_atomic(keep=False)
    assert eng.get(b"a") == b"old" and eng.get(b"z") is None
    assert not eng.dirty


def test_no_commit_inside_a_running_section(eng):
    eng.begin_atomic()
    eng.put(b"x", b"1")
    with pytest.raises(RuntimeError):
        eng.commit()
    with pytest.raises(RuntimeError):
        eng.detach()
    eng.end_atomic(keep=True)
    eng.commit()
    assert eng._db.get(b"x") == b"1"


def test_a_section_starts_from_an_empty_overlay(eng):
    eng.put(b"y", b"1")
    with pytest.raises(RuntimeError):
        eng.begin_atomic()
    eng.commit()
    eng.begin_atomic()
    eng.end_atomic(keep=True)


def test_writes_staged_beside_a_paused_section_are_kept_and_come_first(eng):
    eng.begin_atomic()
    eng.put(b"k", b"section")
    eng.pause_atomic()
    eng.put(b"k", b"beside")  # (writers are held back by the caller; the engine still copes)
    eng.put(b"j", b"beside")
    eng.resume_atomic()
    eng.end_atomic(keep=True)
    assert eng.get(b"k") == b"section" and eng.get(b"j") == b"beside"


def test_rollback_inside_a_section_undoes_its_own_writes(eng):
    eng.begin_atomic()
    eng.put(b"p", b"1")
    sp = eng.savepoint()
    eng.put(b"q", b"1")
    eng.rollback(sp)
    eng.end_atomic(keep=True)
    assert eng.get(b"p") == b"1" and eng.get(b"q") is None


def test_a_big_batch_is_built_by_the_writing_thread(eng, monkeypatch):
    monkeypatch.setattr(engine_mod, "BUILD_ON_WRITER", 10)
    for i in range(50):
        eng.put(b"n%03d" % i, b"v")
    d = eng.detach()
    assert d is not None and d.batch is None  # not built by the detaching thread
    assert eng.get(b"n007") == b"v"  # in flight: still seen
    eng.write_detached(d)
    eng.finish(d)
    assert sum(1 for _ in eng.iterate(b"n", b"o", keys_only=True)) == 50
