"""ssdbpy.commands.dispatch: internal errors are rolled back and cannot flood the log."""

from __future__ import annotations

import logging

import pytest

from ssdbpy.commands import dispatch
from tests.harness.inprocess import Dispatcher

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def run(tmp_path):
    d = Dispatcher(tmp_path)
    yield d
    d.close()


def test_a_failing_site_logs_its_traceback_once(run, caplog, monkeypatch):
    caplog.set_level(logging.ERROR, logger="ssdbpy.dispatch")
    monkeypatch.setattr(dispatch, "_failures", {})
    clock = [0.0]
    monkeypatch.setattr(dispatch, "monotonic", lambda: clock[0])

    def boom(key, ttl):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(run.db.ttl, "set", boom)
    for _ in range(50):
        assert run(b"setx", b"k", b"v", b"1") == [b"error", b"server error"]
    assert run(b"get", b"k") == [b"not_found"]  # rolled back
    assert len(caplog.records) == 1 and caplog.records[0].exc_info is not None
    clock[0] += dispatch.REPEAT_INTERVAL
    run(b"setx", b"k", b"v", b"1")
    assert len(caplog.records) == 2
    again = caplog.records[1]
    assert again.exc_info is None and "50 times" in again.getMessage() and "RuntimeError" in again.getMessage()
