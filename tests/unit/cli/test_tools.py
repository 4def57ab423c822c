"""Pure parts of ssdb-dump, ssdb-bench and the Nagios probes."""

from __future__ import annotations

import io
import random

from ssdbpy.cli import backup, bench, nagios
from ssdbpy.cli.progress import Progress
from ssdbpy.cli.render import interpret


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


class _InfoLink:
    """A Link whose ``info`` reply says ``dbsize``."""

    def __init__(self, dbsize: int) -> None:
        self.dbsize = dbsize

    def call(self, cmd, *args):
        assert (cmd, args) == (b"info", ())
        return interpret(cmd, [], [b"ok", b"ssdb-server", b"version", b"1.9.8", b"dbsize", b"%d" % self.dbsize])


def _dbsize(size: int, warn="85", critical="95") -> tuple[int, str]:
    out = io.StringIO()
    return nagios.run(_InfoLink(size), "dbsize", warn, critical, out), out.getvalue()


def test_nagios_dbsize_levels_are_megabytes():
    mb = 1024 * 1024
    assert _dbsize(50 * mb) == (nagios.OK, "OK: dbsize 50.0 MB (52428800 bytes) less than 95 MB\n")
    assert _dbsize(10_000)[0] == nagios.OK  # SSDB: 10000 bytes > 95 → CRITICAL
    assert _dbsize(90 * mb) == (nagios.WARN, "WARN: dbsize 90.0 MB (94371840 bytes) larger than 85 MB\n")
    assert _dbsize(96 * mb)[0] == nagios.CRITICAL
    assert _dbsize(96 * mb)[1].startswith("CRITICAL: dbsize 96.0 MB ")
    # SSDB author's example, -w 500000 -c 600000: about 500 and 600 GB
    assert _dbsize(400 * 1024 * mb, "500000", "600000")[0] == nagios.OK
    assert _dbsize(550_000 * mb, "500000", "600000")[0] == nagios.WARN
    assert _dbsize(3 * 1024 * 1024 * mb, "1T", "2TB") == (
        nagios.CRITICAL, "CRITICAL: dbsize 3145728.0 MB (3298534883328 bytes) larger than 2TB\n")
    assert _dbsize(2 * 1024 * mb, "1.5g", "3G")[0] == nagios.WARN
    assert _dbsize(900 * 1024, "512k", "1m")[0] == nagios.WARN
    code, text = _dbsize(1, "lots", "95")
    assert code == nagios.UNKNOWN and text.startswith("UNKNOWN: invalid dbsize level 'lots'")
