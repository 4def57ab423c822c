"""ssdbpy.config.schema: unknown keys and bad values refused with line, key, value, allowed."""

from __future__ import annotations

import os

import pytest

from ssdbpy.config.parser import parse
from ssdbpy.config.schema import ALL_PATHS, suggest
from ssdbpy.config.settings import Settings
from ssdbpy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data", "config")


def settings(text: str) -> Settings:
    return Settings.from_node(parse(text), "/etc/ssdb")


def error(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        settings(text)
    return str(info.value)


def test_misspelt_key_refused_with_suggestion() -> None:
    msg = error("server:\n\tip: 127.0.0.1\n\tprot: 39313\n")
    assert msg.startswith("line 3: unknown key 'server.prot' (prot: '39313')")
    assert "did you mean 'port'?" in msg
    assert "allowed under server: ip, port, auth, allow, deny, readonly" in msg


def test_unknown_top_level_key_and_section() -> None:
    msg = error("work_dir = .\nloger:\n\tlevel: info\n")
    assert msg.startswith("line 2: unknown key 'loger'") and "did you mean 'logger'?" in msg
    msg = error("colour: blue\n")
    assert "unknown key 'colour'" in msg and "did you mean" not in msg
    assert "allowed at the top level work_dir, pidfile, server, replication, logger, leveldb" in msg


def test_key_at_the_wrong_depth_points_to_the_right_place() -> None:
    msg = error("server:\n\tip: 127.0.0.1\nport: 8888\n")
    assert msg.startswith("line 3: unknown key 'port'")
    assert "belongs at server.port or replication.slaveof.port" in msg


def test_children_under_a_leaf_refused() -> None:
    msg = error("server:\n\tport: 8888\n\t\tip: 127.0.0.1\n")
    assert msg.startswith("line 3: unknown key 'server.port.ip'")
    assert "server.port takes no nested keys" in msg


def test_keys_are_case_sensitive() -> None:
    assert "did you mean 'port'?" in error("server:\n\tPort: 8888\n")


def test_misspelt_slaveof_key() -> None:
    msg = error("replication:\n\tslaveof:\n\t\tip: h\n\t\tprt: 1\n")
    assert "line 4: unknown key 'replication.slaveof.prt'" in msg and "'port'" in msg


@pytest.mark.parametrize(
    "text,path,value",
    [
        ("server:\n\treadonly: maybe\n", "server.readonly", "maybe"),
        ("server:\n\treadonly:\n", "server.readonly", ""),
        ("replication:\n\tbinlog: enabled\n", "replication.binlog", "enabled"),
        ("leveldb:\n\tcompression: y\n", "leveldb.compression", "y"),
    ],
)
def test_bad_switch_refused(text: str, path: str, value: str) -> None:
    msg = error(text)
    assert msg == (
        f"line 2: invalid value {value!r} for {path}: expected "
        "yes/no, true/false, on/off or 1/0 (case-insensitive)"
    )


@pytest.mark.parametrize(
    "path,value",
    [
        ("leveldb.cache_size", "lots"),
        ("leveldb.cache_size", "1GB"),
        ("leveldb.block_size", "4k"),
        ("leveldb.write_buffer_size", ""),
        ("leveldb.max_open_files", "many"),
        ("leveldb.compaction_speed", "fast"),
        ("logger.rotate.size", "1e9"),
        ("replication.binlog.capacity", "10 000"),
        ("replication.slaveof.recv_timeout", "30s"),
        ("server.slowlog_timeout", "5ms"),
        ("server.slowlog_max_len", "lots"),
        ("server.slowlog_max_len", "-1"),
    ],
)
def test_bad_number_refused(path: str, value: str) -> None:
    parts = path.split(".")
    lines = []
    for depth, part in enumerate(parts[:-1]):
        lines.append("\t" * depth + part + ":")
    if parts[1] == "slaveof":
        lines += ["\t\tip: h", "\t\tport: 1"]
    lines.append("\t" * (len(parts) - 1) + f"{parts[-1]}: {value}")
    msg = error("\n".join(lines) + "\n")
    assert msg.startswith(f"line {len(lines)}: invalid value {value!r} for {path}: expected")


def test_numbers_accepted() -> None:
    s = settings(
        "server:\n\tslowlog_timeout: 2.5\n\tslowlog_max_len: 1000\n"
        "leveldb:\n\tcache_size: +500\n\tmax_open_files: 200\n\tcompaction_speed: -1\n"
        "logger:\n\trotate:\n\t\tsize: 10000000000\n"
    )
    assert s.server.slowlog_timeout == 2.5
    assert s.server.slowlog_max_len == 1000
    assert settings("server:\n\tport: 1\n").server.slowlog_max_len == 128
    assert (s.leveldb.cache_size, s.leveldb.max_open_files, s.leveldb.compaction_speed) == (500, 200, -1)
    assert s.logger.rotate_size == 10_000_000_000


def test_repeated_single_key_warns() -> None:
    s = settings("server:\n\tport: 1\n\tport: 2\n")
    assert s.server.port == 2
    assert s.warnings == ["line 3: server.port given again (first at line 2); the last one is used"]
    # repeatable keys do not warn
    assert settings("server:\n\tallow: 1.2\n\tallow: 3.4\n").warnings == []


def test_suggest() -> None:
    assert suggest("prot", ["ip", "port"]) == "; did you mean 'port'?"
    assert suggest("zzz", ["ip", "port"]) == ""
    assert "replication.slaveof.recv_timeout" in ALL_PATHS


@pytest.mark.parametrize(
    "name", ["ssdb-1.9.8.conf.sample", "ssdb-1.9.8_slave.conf", "ssdb-2013.conf"]
)
def test_ssdb_shipped_configs_still_load(name: str) -> None:
    s = Settings.from_file(os.path.join(DATA, name))
    assert s.server.port in (8888, 8889)
    if name == "ssdb-2013.conf":
        assert len(s.warnings) == 1 and "replication.role" in s.warnings[0]
        assert s.leveldb.block_size == 4
    else:
        assert s.warnings == []
    if name == "ssdb-1.9.8_slave.conf":
        (slave,) = s.replication.slaveof
        assert (slave.id, slave.type, slave.host, slave.port) == ("svc_1", "sync", "localhost", 8888)


def test_every_key_ssdb_reads_is_accepted() -> None:
    # the keys read by SSDB 1.9.8's src/ (server.cpp, serv.cpp, options.cpp, app.cpp)
    pw = "p" * 32
    s = settings(
        "work_dir = .\npidfile = ./p.pid\n"
        f"server:\n\tip: ::1\n\tport: 1\n\tauth: {pw}\n\tallow: 127\n\tdeny: all\n"
        "\treadonly: yes\n\tslowlog_timeout: 5\n"
        "replication:\n\tbinlog: yes\n\t\tcapacity: 10\n\tsync_speed: -1\n"
        "\tslaveof:\n\t\tid: a\n\t\ttype: mirror\n\t\tip: h\n\t\thost: x\n\t\tport: 2\n"
        f"\t\tauth: {pw}\n\t\trecv_timeout: 9\n"
        "logger:\n\tlevel: warn\n\toutput: stderr\n\trotate:\n\t\tsize: 100\n"
        "leveldb:\n\tcache_size: 1\n\tblock_size: 2\n\twrite_buffer_size: 3\n"
        "\tmax_open_files: 4\n\tcompaction_speed: 5\n\tcompression: no\n"
    )
    assert s.warnings == []
    assert s.server.readonly and s.replication.binlog and not s.leveldb.compression
    assert s.replication.slaveof[0].recv_timeout == 9
