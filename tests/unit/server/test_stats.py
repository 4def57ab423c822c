"""ssdbpy.server.stats and the info fields ssdbpy adds (ssdbpy.info.ProcessStats)."""

from __future__ import annotations

import pytest

from ssdbpy import info
from ssdbpy.server import stats

pytestmark = pytest.mark.timeout(30)


class FakeState:
    def __init__(self) -> None:
        self.calls = 0
        self.ops_per_sec = 0.0

    def total_calls(self) -> int:
        return self.calls


def test_rate_over_the_last_interval(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(stats, "monotonic", lambda: clock[0])
    st = FakeState()
    s = stats.OpsSampler(st)  # type: ignore[arg-type]
    st.calls, clock[0] = 500, 101.0
    s.sample()
    assert st.ops_per_sec == 500.0
    st.calls, clock[0] = 800, 103.0
    s.sample()
    assert st.ops_per_sec == 150.0
    clock[0] = 104.0
    s.sample()
    assert st.ops_per_sec == 0.0


def test_render_appends_the_fields_after_ssdb_s():
    d = info.InfoData(links=3, total_calls=9, dbsize=0, binlogs=b"b", serv_key_range=b"r",
                      cmds=[(b"get", info.cmd_text(1, 0, 0))])
    ssdb = info.render(d)
    d.extra = info.ProcessStats("9.9.9", 12, 4096, 3, 9, 7).fields()
    out = info.render(d)
    assert out[: len(ssdb)] == ssdb
    assert out[len(ssdb):] == [
        b"ssdbpy_version", b"9.9.9", b"uptime_in_seconds", b"12", b"used_memory_rss", b"4096",
        b"connected_clients", b"3", b"total_commands_processed", b"9", b"instantaneous_ops_per_sec", b"7"]
