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


def test_a_slave_with_nothing_of_its_own_history_resumes_by_its_previous_one(tmp_path):
    db = Database.open(str(tmp_path))
    h = group.History(db.meta)  # the master: its history is ``h.id``
    promoted, other = group.new_id(), group.new_id()
    # the slave was promoted at 100 (``promoted`` from then on, ``h.id`` up to 100)
    assert group.may_resume(h, promoted, 100, b"", h.id, 100)  # nothing written since
    assert group.may_resume(h, promoted, 80, b"", h.id, 100)
    assert not group.may_resume(h, promoted, 101, b"", h.id, 100)  # its own writes after 100
    assert not group.may_resume(h, promoted, 100, b"", other, 100)  # a history the master does not know
    assert not group.may_resume(h, promoted, 100, b"")  # an older slave sends no previous history
    assert not group.may_resume(h, promoted, 100, b"k1", h.id, 100)  # a copy in progress
    db.close()


def test_restarted_binlog_remembers_the_numbers_used_twice(tmp_path):
    db = Database.open(str(tmp_path))
    h = group.History(db.meta)
    for i in range(10):
        db.kv.set(b"k%d" % i, b"v")
    db.commit()
    assert db.binlog.last_seq == 10 and not h.ambiguous(5)
    group.restart_binlog(db, 4, h)  # a full copy ending at 4: numbers 4..10 named other records
    assert db.binlog.last_seq == 4 and db.binlog.find_next(0) is None
    assert [s for s in range(0, 13) if h.ambiguous(s)] == list(range(4, 11))
    group.restart_binlog(db, 2, h)  # ranges are kept as one
    assert group.History(db.meta).reused_seqs == (2, 10)
    group.restart_binlog(db, 20, h)  # above the binlog's end: no number used twice
    assert group.History(db.meta).reused_seqs == (2, 10)
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
