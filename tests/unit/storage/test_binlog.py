"""Binlog records: SSDB's layout, contiguous sequence across restarts, trimming, clear."""

from ssdbpy.storage import binlog as bl
from ssdbpy.storage import keys
from ssdbpy.storage.engine import Engine


def open_log(path, capacity=100, enabled=True):
    e = Engine(str(path))
    return e, bl.Binlog(e, enabled=enabled, capacity=capacity)


def test_record_layout_and_restart(tmp_path):
    e, log = open_log(tmp_path / "d")
    log.add(bl.KSET, b"kk1")
    log.add(bl.HSET, b"h\x02h1=f1")
    e.commit()
    raw = e.get(keys.encode_binlog_key(1))
    assert raw == b"\x01\x00\x00\x00\x00\x00\x00\x00" + b"\x01\x01" + b"kk1"
    assert log.get(2) == bl.Record(2, bl.SYNC, bl.HSET, b"h\x02h1=f1")
    assert (log.min_seq, log.max_seq) == (0, 2)
    e.close()
    e, log = open_log(tmp_path / "d")
    assert (log.min_seq, log.max_seq) == (1, 2)
    log.add(bl.KDEL, b"kk1")
    e.commit()
    assert log.find_next(3).seq == 3 and log.find_last().cmd == bl.KDEL
    e.close()


def test_disabled_binlog_writes_nothing(tmp_path):
    e, log = open_log(tmp_path / "d", enabled=False)
    log.add(bl.KSET, b"kx")
    e.commit()
    assert list(e.iterate()) == [] and log.max_seq == 0
    e.close()


def test_listeners_fire_only_for_commits_with_records(tmp_path):
    e, log = open_log(tmp_path / "d")
    fired = []
    log.listeners.append(lambda: fired.append(log.max_seq))
    e.put(b"kx", b"1")
    e.commit()
    log.add(bl.KSET, b"kx")
    e.commit()
    assert fired == [1]
    e.close()


def test_trim_keeps_capacity_records(tmp_path):
    e, log = open_log(tmp_path / "d", capacity=10)
    log.TRIM_SLACK = 5
    for i in range(30):
        log.add(bl.KSET, b"k%d" % i)
    e.commit()
    assert log.needs_trim()
    while log.trim_step():
        pass
    assert log.min_seq == 21 and log.max_seq == 30
    seqs = [keys.decode_binlog_key(k) for k in e.iterate(b"\x01", b"\x02", keys_only=True)]
    assert seqs == list(range(21, 31))
    e.close()


def test_clear_keeps_counter(tmp_path):
    e, log = open_log(tmp_path / "d")
    log.add(bl.KSET, b"k")
    e.commit()
    assert log.clear() == 1
    log.add(bl.KSET, b"k")
    e.commit()
    assert log.find_last().seq == 2
    e.close()


def test_sequence_survives_clear_and_restart(tmp_path):
    data, meta = Engine(str(tmp_path / "d")), Engine(str(tmp_path / "m"))
    log = bl.Binlog(data, enabled=True, capacity=100, meta=meta)
    for _ in range(5):
        log.add(bl.KSET, b"kx")
    data.commit()
    log.clear()
    data.close()
    data = Engine(str(tmp_path / "d"))
    log = bl.Binlog(data, enabled=True, capacity=100, meta=meta)
    assert log.max_seq == 5 and log.find_last() is None
    log.add(bl.KSET, b"ky")
    data.commit()
    assert log.find_last().seq == 6
    data.close()
    meta.close()
