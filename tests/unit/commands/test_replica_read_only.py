"""server.replica_read_only in the dispatcher, its RESP rendering and its config keys (no sockets)."""

from __future__ import annotations

import pytest

from ssdbpy.commands.dispatch import execute
from ssdbpy.commands.redis_compat import translate, translate3
from ssdbpy.config.parser import parse
from ssdbpy.config.settings import Settings
from ssdbpy.errors import MSG_READONLY_REPLICA, ConfigError
from tests.harness.inprocess import Dispatcher


@pytest.fixture
def d(tmp_path):
    disp = Dispatcher(tmp_path)
    yield disp
    disp.db.close()


def test_writes_refused_reads_served(d):
    srv = d.ctx.server
    assert execute(d.ctx, [b"set", b"k", b"v"])[0] == b"ok"
    srv.replica_refuses = True
    for req in ([b"set", b"k", b"x"], [b"hset", b"h", b"f", b"v"], [b"qpush", b"q", b"x"], [b"del", b"k"]):
        assert execute(d.ctx, req) == [b"client_error", MSG_READONLY_REPLICA]
    assert execute(d.ctx, [b"get", b"k"]) == [b"ok", b"v"]
    srv.readonly = True  # server.readonly keeps SSDB's reply
    assert execute(d.ctx, [b"set", b"k", b"x"]) == [b"client_error", b"Forbidden Command: set"]


@pytest.mark.parametrize("tr", [translate, translate3])
def test_resp_error_is_redis_s(tr):
    _, desc = tr([b"SET", b"k", b"v"])
    assert desc.render([b"client_error", MSG_READONLY_REPLICA]) == \
        b"-READONLY You can't write against a read only replica.\r\n"
    _, desc = tr([b"hsize", b"h"])  # the generic descriptor too
    assert desc.render([b"client_error", MSG_READONLY_REPLICA]).startswith(b"-READONLY ")
    assert desc.render([b"client_error", b"READONLY"]) == b"-ERR READONLY\r\n"


def test_config_keys():
    s = Settings.from_node(parse("server:\n\treplica_read_only: yes\n\treplica_priority: 0\n"), "/tmp")
    assert s.server.replica_read_only is True and s.server.replica_priority == 0
    assert Settings.from_node(parse("server:\n\tport: 1\n"), "/tmp").server.replica_read_only is False
    with pytest.raises(ConfigError, match="replica_read_only"):
        Settings.from_node(parse("server:\n\treplica_read_only: maybe\n"), "/tmp")
    with pytest.raises(ConfigError, match="replica_priority"):
        Settings.from_node(parse("server:\n\treplica_priority: -1\n"), "/tmp")
