"""Group commit: batches reach LevelDB in order, callbacks run in order, replies never precede their data."""

from __future__ import annotations

import gevent
import pytest

from ssdbpy.db.database import Database
from ssdbpy.server import commit as commit_mod
from ssdbpy.server.commit import CommitFailed, GroupCommit


@pytest.fixture
def db(tmp_path):
    d = Database.open(str(tmp_path))
    yield d
    d.close()


def _stage(db, prefix: bytes, n: int) -> None:
    for i in range(n):
        db.kv.set(prefix + b"%05d" % i, b"v" * 50)


@pytest.mark.parametrize("threaded", [True, False])
def test_batches_in_flight_finish_in_order_with_their_data_written(db, threaded, monkeypatch):
    monkeypatch.setattr(commit_mod, "KICK_WRITES", 100)
    monkeypatch.setattr(commit_mod, "THREAD_MIN_WRITES", 10)
    group = GroupCommit(db, threaded=threaded)
    group.start()
    seen: list[tuple[int, bool]] = []
    engine = db.engine

    def check(i: int):
        def cb(error) -> None:
            # when a callback runs, its batch and every earlier one is in LevelDB
            written = all(engine._db.get(b"kb%d-%05d" % (j, 59)) is not None for j in range(i + 1))
            seen.append((i, written and error is None))
        return cb

    def producer() -> None:
        for i in range(8):
            _stage(db, b"b%d-" % i, 60)  # 120 writes with the binlog: over KICK_WRITES
            group.after_commit(check(i))
            group.kick()  # starts a batch now, while earlier ones may still be in flight

    gevent.spawn(producer).join()
    group.wait()
    assert seen == [(i, True) for i in range(8)]
    assert not engine.dirty
    group.stop()


def test_reads_waiting_on_inflight_batch_finish_after_it(db, monkeypatch):
    monkeypatch.setattr(commit_mod, "KICK_WRITES", 10)
    monkeypatch.setattr(commit_mod, "THREAD_MIN_WRITES", 1)
    group = GroupCommit(db)
    group.start()
    order: list[str] = []

    def producer() -> None:
        _stage(db, b"w", 50)
        group.after_commit(lambda e: order.append("write"))
        group.kick()  # on the writer thread now
        # a read served while that batch is in flight: nothing staged, only in flight
        assert db.engine.dirty and db.engine.staged_writes == 0
        group.after_commit(lambda e: order.append("read"))

    gevent.spawn(producer).join()
    group.wait()
    assert order == ["write", "read"]
    group.stop()


def test_stop_fails_waiting_callbacks_and_later_ones(db):
    group = GroupCommit(db)
    group.start()
    errors: list[object] = []
    _stage(db, b"s", 5)
    group.after_commit(errors.append)
    group.stop()
    assert len(errors) == 1 and isinstance(errors[0], CommitFailed)
    group.after_commit(errors.append)
    assert len(errors) == 2 and isinstance(errors[1], CommitFailed)
    with pytest.raises(CommitFailed):
        group.wait()


def test_a_failed_batch_fails_its_callbacks_and_every_later_one_then_writes_recover(db, monkeypatch):
    from tests.unit.storage.test_engine_failure import FailingDB

    from ssdbpy.errors import WriteFailed

    monkeypatch.setattr(commit_mod, "THREAD_MIN_WRITES", 1)  # every batch on the writer thread
    fdb = db.engine._db = FailingDB(db.engine._db)
    group = GroupCommit(db)
    group.start()
    results: list[tuple[int, object]] = []

    def done(i: int):
        return lambda error: results.append((i, error))

    def producer() -> None:
        _stage(db, b"ok", 3)
        group.after_commit(done(0))
        group._commit()
        group.wait()
        fdb.fail = True
        for i in (1, 2):  # in flight together: 2 is refused, since it may build on 1
            _stage(db, b"f%d" % i, 3)
            group.after_commit(done(i))
            group._commit()
        group.after_commit(done(3))  # a read waiting behind them
        _stage(db, b"f3", 3)
        group.after_commit(done(4))  # staged: discarded with the failure

    gevent.spawn(producer).join()
    for _ in range(500):
        if len(results) == 5:
            break
        gevent.sleep(0.01)
    assert [i for i, _ in results] == [0, 1, 2, 3, 4]
    assert results[0][1] is None
    assert all(isinstance(e, WriteFailed) for _, e in results[1:]), results
    assert db.kv.get(b"ok00002") is not None
    assert [db.kv.get(b"f%d00000" % i) for i in (1, 2, 3)] == [None] * 3 and not db.engine.dirty
    # the disk has room again: the next batch reopens the database and is written
    monkeypatch.setattr(db.engine, "_has_room", lambda: True)
    db.engine._retry_at = 0
    _stage(db, b"again", 3)
    group.wait()
    assert db.kv.get(b"again00002") is not None
    group.stop()


def test_a_batch_big_in_bytes_is_written_on_the_writer_thread(db, monkeypatch):
    import threading

    group = GroupCommit(db)
    group.start()
    threads: list[str] = []
    write = db.engine.write_detached

    def record(d) -> None:
        threads.append(threading.current_thread().name)
        write(d)

    monkeypatch.setattr(db.engine, "write_detached", record)
    db.kv.set(b"small", b"v")
    group.wait()
    db.kv.set(b"big", b"v" * (commit_mod.THREAD_MIN_BYTES + 1))  # one write, many bytes
    group.wait()
    assert threads == [threading.main_thread().name, "ssdbpy-commit"]
    group.stop()
