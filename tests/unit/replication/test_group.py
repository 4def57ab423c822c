"""Replication groups (pure parts): history ids, the resume decision, aligned binlog numbering."""

from __future__ import annotations

from ssdbpy.db.database import Database
from ssdbpy.replication import group
from ssdbpy.storage import binlog as bl


def test_history_fork_adopt_replace_and_the_resume_decision(tmp_path):
    db = Database.open(str(tmp_path))
    h = group.History(db.meta)
    first = h.id
    assert len(first) == 40 and h.id2 == group.NO_ID and h.end2 == -1
    assert group.History(db.meta).id == first  # kept in the meta db
    h.fork(100)
    assert h.id != first and (h.id2, h.end2) == (first, 100)
    assert group.may_resume(h, first, 100, b"") and group.may_resume(h, h.id, 150, b"")
    assert not group.may_resume(h, first, 101, b"")  # writes this node never saw
    assert not group.may_resume(h, group.new_id(), 5, b"")
    assert not group.may_resume(h, first, 50, b"k1")  # a copy in progress: same history only
    assert group.may_resume(h, h.id, 50, b"k1")
    other = group.new_id()
    assert h.adopt(other, 120) and (h.id, h.id2, h.end2) == (other, h.id2, 120)
    assert not h.adopt(other, 130)
    h.replace(first)
    assert (h.id, h.id2, h.end2) == (first, group.NO_ID, -1)
    reopened = group.History(db.meta)
    assert (reopened.id, reopened.id2, reopened.end2) == (first, group.NO_ID, -1)
    db.close()


def test_aligned_numbering_fills_gaps_with_placeholders(tmp_path):
    db = Database.open(str(tmp_path), binlog=True)
    b = db.binlog
    db.kv.set(b"a", b"1")
    db.commit()
    assert b.last_seq == 1
    assert group.align_before(db, 4)  # records 2 and 3 were used for nothing this node applies
    db.kv.set(b"b", b"2")
    assert group.align_after(db, 4)
    assert group.align_before(db, 5) and group.align_after(db, 5)  # the apply logged nothing
    db.commit()
    types = [b.get(s).type for s in range(1, 6)]
    assert types == [bl.SYNC, bl.NOOP, bl.NOOP, bl.SYNC, bl.NOOP]
    assert b.get(4).key == b"kb"
    assert not group.align_before(db, 5)  # this binlog is already past the master's record
    group.restart_binlog(db, 1000)
    assert b.last_seq == 1000 and b.find_next(0) is None
    db.kv.set(b"c", b"3")
    db.commit()
    assert b.get(1001) is not None
    db.close()
