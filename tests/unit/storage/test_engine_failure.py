"""A failed LevelDB write: the batch and every write after it fail, the binlog numbering goes
back without a gap, nothing reaches LevelDB until a reopen, and the episode is logged once."""

from __future__ import annotations

import logging

import plyvel
import pytest

from ssdbpy.db.database import Database
from ssdbpy.errors import StorageError, WriteFailed
from ssdbpy.storage import engine as engine_mod

ENOSPC = plyvel.IOError(b"IO error: /x/000003.log: No space left on device")


class FailingDB:
    """Forwards to a plyvel DB; its write batches fail (LevelDB on a full disk) while ``fail`` is set."""

    def __init__(self, db) -> None:
        self.db = db
        self.fail = False
        self.written = 0

    def __getattr__(self, name: str):
        return getattr(self.db, name)

    def write_batch(self):
        return FailingBatch(self, self.db.write_batch())


class FailingBatch:
    def __init__(self, owner: FailingDB, wb) -> None:
        self.owner = owner
        self.wb = wb
        self.put = wb.put
        self.delete = wb.delete

    def write(self) -> None:
        if self.owner.fail:
            raise ENOSPC
        self.owner.written += 1
        self.wb.write()


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path))
    d.engine._db = FailingDB(d.engine._db)
    yield d
    d.close()


def test_a_failed_batch_fails_every_later_write_and_the_binlog_goes_back(db, tmp_path, monkeypatch, caplog):
    engine, binlog, fdb = db.engine, db.binlog, db.engine._db
    db.kv.set(b"a", b"1")
    db.commit()
    seq = binlog.last_seq
    fdb.fail, fdb.written = True, 0
    db.kv.set(b"b", b"2")
    d1 = engine.detach()
    db.kv.set(b"c", b"3")
    d2 = engine.detach()
    db.kv.set(b"d", b"4")  # staged
    assert db.kv.get(b"c") == b"3"
    with caplog.at_level(logging.INFO, logger="ssdbpy.storage"):
        engine.write_detached(d1)
        fdb.fail = False  # d2 is refused all the same: it may hold values computed from d1's writes
        engine.write_detached(d2)
        assert fdb.written == 0
        with pytest.raises(WriteFailed) as exc:
            engine.finish(d1)
        assert exc.value.blocks() == [b"error"]
        # every write after the failed one is gone, and the numbering continues after the last record written
        assert db.kv.get(b"b") is None and db.kv.get(b"c") is None and db.kv.get(b"d") is None
        assert engine.staged_writes == 0 and engine.aborts == 1
        assert binlog.last_seq == seq
        with pytest.raises(WriteFailed):
            engine.finish(d2)
        # no room yet: every commit fails without touching LevelDB
        monkeypatch.setattr(engine, "_has_room", lambda: False)
        for _ in range(3):
            engine._retry_at = 0
            db.kv.set(b"e", b"5")
            with pytest.raises(WriteFailed):
                db.commit()
            assert binlog.last_seq == seq
        assert fdb.written == 0
        # room again: the next commit reopens the database and writes
        monkeypatch.setattr(engine, "_has_room", lambda: True)
        engine._retry_at = 0
        db.kv.set(b"f", b"6")
        db.commit()
    assert engine._db is not fdb and engine.failure is None
    assert binlog.last_seq == seq + 1 and binlog.get(seq + 1).key.endswith(b"f")
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 2, msgs
    assert "LevelDB write failed" in msgs[0] and "No space left on device" in msgs[0]
    assert "writable again" in msgs[1] and "5 failed write batches" in msgs[1]
    db.close()
    again = Database.open(str(tmp_path))
    try:
        assert [again.kv.get(bytes([k])) for k in b"abcdef"] == [b"1", None, None, None, None, b"6"]
        assert again.binlog.last_seq == seq + 1
    finally:
        again.close()


def test_rollback_after_a_failed_commit_does_not_move_the_sequence_forward(db):
    engine, binlog, fdb = db.engine, db.binlog, db.engine._db
    db.commit()
    seq = binlog.last_seq
    db.kv.set(b"a", b"1")  # another command's staged record: seq + 1
    sp = db.savepoint()
    db.kv.set(b"b", b"2")  # this command's: seq + 2
    fdb.fail = True
    with pytest.raises(WriteFailed):
        db.commit()  # a scan inside the command commits, and fails
    db.rollback(sp)
    assert binlog.last_seq == seq  # not seq + 1: that record was never written
    fdb.fail = False
    engine._retry_at = 0
    db.kv.set(b"c", b"3")
    db.commit()
    assert binlog.get(seq + 1).key.endswith(b"c") and binlog.get(seq + 2) is None


def test_reopen_failure_leaves_writes_failing_until_a_later_attempt(db, monkeypatch, caplog):
    engine, fdb = db.engine, db.engine._db
    fdb.fail = True
    db.kv.set(b"a", b"1")
    with pytest.raises(WriteFailed):
        db.commit()
    monkeypatch.setattr(engine, "_has_room", lambda: True)
    real_open = plyvel.DB
    monkeypatch.setattr(engine_mod.plyvel, "DB", lambda *a, **k: (_ for _ in ()).throw(ENOSPC))
    engine._retry_at = 0
    engine.put(b"b", b"2")
    with pytest.raises(WriteFailed):
        db.commit()  # the reopen failed: the database is closed
    with pytest.raises(StorageError):
        db.kv.get(b"a")  # reads fail too, and try the reopen again (not yet due)
    monkeypatch.setattr(engine_mod.plyvel, "DB", real_open)
    engine._retry_at = 0
    assert db.kv.get(b"a") is None  # a read reopened it
    db.kv.set(b"c", b"3")
    db.commit()
    assert db.kv.get(b"c") == b"3" and engine.get(b"b") is None
