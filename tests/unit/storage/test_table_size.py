"""LevelDB tables of up to 32 MB, as SSDB 1.9.8 writes them (ssdb_impl.cpp, ssdb-dump, ssdb-repair).

LevelDB's own default is 2 MB: a 10M-key database then has ~600 tables, more
than ``max_open_files`` keeps open, and point reads reopen tables.  Each test
writes ~6 MB of incompressible data and compacts it: with LevelDB's default no
table is over ~2 MB, with 32 MB tables a compaction writes one of over 3 MB.
The dump writer and repair are checked by the options they pass.
"""

from __future__ import annotations

import os
from pathlib import Path

import plyvel

from ssdbpy.storage import backup
from ssdbpy.storage.engine import MAX_FILE_SIZE, Engine

VALUES = 6000
VALUE_SIZE = 1000  # 6 MB in all, random bytes (snappy leaves them as they are)


def _biggest_table(path: Path) -> int:
    return max(os.path.getsize(path / f) for f in os.listdir(path) if f.endswith((".ldb", ".sst")))


def _fill(put) -> None:
    """VALUES keys in a scattered order: each memtable written out overlaps the tables before
    it, so compactions merge them (keys in order would each be moved down as they are)."""
    rnd = os.urandom(VALUE_SIZE * 64)
    for n in range(VALUES):
        i = (n * 7919) % VALUES
        off = (i * 7919) % (len(rnd) - VALUE_SIZE)
        put(b"k%08d" % i, rnd[off : off + VALUE_SIZE - 8] + b"%08d" % i)


def test_max_file_size_is_ssdbs():
    assert MAX_FILE_SIZE == 32 * 1048576


def test_leveldb_default_keeps_tables_at_2mb(tmp_path):
    # the reference point of the engine's test: without the option, no table is over ~2 MB
    db = plyvel.DB(str(tmp_path), create_if_missing=True, write_buffer_size=1 << 20)
    _fill(db.put)
    db.compact_range()
    db.close()
    assert _biggest_table(tmp_path) <= 2.2 * 1048576


def _every(n, put, commit):
    """``put`` that calls ``commit`` after every ``n`` writes (one big batch would reach
    LevelDB as one level-0 table, whatever the table size)."""
    count = [0]

    def put_(k, v):
        put(k, v)
        count[0] += 1
        if count[0] % n == 0:
            commit()

    return put_


def test_engine_writes_32mb_tables(tmp_path):
    eng = Engine(str(tmp_path), write_buffer_size_mb=1)
    _fill(_every(100, eng.put, eng.commit))
    eng.commit()
    eng._db.compact_range()
    eng.close()
    assert _biggest_table(tmp_path) > 3 * 1048576


def test_dump_destination_uses_ssdbs_options(tmp_path, monkeypatch):
    # (its 32 MB write buffer holds this much data in one memtable, written out as one table
    # whatever the table size: the call is checked instead)
    seen = []
    real_db = plyvel.DB
    monkeypatch.setattr(plyvel, "DB", lambda *a, **kw: seen.append(kw) or real_db(*a, **kw))
    w = backup.BackupWriter(str(tmp_path / "dump"))
    w.close()
    assert seen == [{"create_if_missing": True, "error_if_exists": True, "write_buffer_size": 32 << 20,
                     "max_file_size": 32 << 20, "compression": "snappy"}]


def test_repair_and_its_compaction_use_ssdbs_options(tmp_path, monkeypatch):
    # (a full compaction does not rewrite the tables of the last level, so the table count of
    # a repaired database does not show the option: the calls are checked instead)
    db = plyvel.DB(str(tmp_path), create_if_missing=True)
    db.put(b"k", b"v")
    db.close()
    seen = []
    real_db, real_repair = plyvel.DB, plyvel.repair_db
    monkeypatch.setattr(plyvel, "DB", lambda *a, **kw: seen.append(("DB", kw)) or real_db(*a, **kw))
    monkeypatch.setattr(plyvel, "repair_db", lambda *a, **kw: seen.append(("repair", kw)) or real_repair(*a, **kw))
    backup.repair(str(tmp_path))
    backup.compact_and_stats(str(tmp_path))
    assert seen == [
        ("repair", {"max_file_size": 32 << 20}),
        ("DB", {"write_buffer_size": 32 << 20, "max_file_size": 32 << 20, "compression": "snappy"}),
    ]
