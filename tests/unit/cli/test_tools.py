"""Pure parts of ssdb-dump, ssdb-bench and the Nagios probes."""

from __future__ import annotations

import io
import random

from ssdbpy.cli import backup, bench, nagios
from ssdbpy.cli.progress import Progress


def test_dump_progress_lines_at_powers_of_ten_and_every_100000():
    shown = [n for n in range(1, 300_001) if backup._progress_line(n)]
    assert shown == [1, 10, 100, 1000, 10000, 100000, 200000, 300000]


def test_live_progress_only_on_a_terminal():
    quiet = io.StringIO()
    p = Progress(quiet)
    p.update(10, 100)
    p.finish()
    assert quiet.getvalue() == "" and not p.enabled
    tty = io.StringIO()
    now = [0.0]
    p = Progress(tty, enabled=True, clock=lambda: now[0])
    now[0] = 2.0
    p.update(1000, 2 * 1024 * 1024)
    p.update(1001, 2 * 1024 * 1024)  # within the redraw interval: not drawn
    p.finish()
    lines = tty.getvalue().split("\r")
    assert lines[1].startswith("  1,000 keys  2.0 MB  500 keys/s  1.0 MB/s")
    assert tty.getvalue().endswith("\n") and tty.getvalue().count("\r") == 2


def test_backup_info_round_trip(tmp_path):
    info = backup.BackupInfo(host="h", port=1, complete=True, binlog_seq=42, entries=3, extra={"future": 1})
    info.save(str(tmp_path))
    got = backup.BackupInfo.load(str(tmp_path))
    assert got == info
    assert backup.BackupInfo.load(str(tmp_path / "none")) is None


def test_bench_data_and_requests():
    data = bench.make_data(50, random.Random(1))
    assert len({d.key for d in data}) == 50 and [d.key for d in data] == sorted(d.key for d in data)
    d = data[0]
    assert len(d.key) == 11 and d.key.startswith(b"k") and len(d.val) == 101 and d.val.startswith(b"v")
    assert int(d.key[1:]) == int(d.val[1:]) == int(d.num)
    assert bench.request("zset", d) == b"4\nzset\n4\nTEST\n11\n" + d.key + b"\n%d\n" % len(d.num) + d.num + b"\n\n"
    assert bench.request("qpop", d) == b"4\nqpop\n4\nTEST\n\n"


def test_nagios_probe_value():
    info = [b"ssdb-server", b"version", b"1.9.8", b"dbsize", b"123", b"replication", b"slaveof a\n  x",
            b"replication", b"client b"]
    assert nagios.probe_value(info, b"dbsize") == b"123"
    assert nagios.probe_value(info, b"replication") == b"slaveof a\n\t  xclient b"
