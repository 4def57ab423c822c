"""ssdbpy.config.settings: options and defaults of config.md §2."""

from __future__ import annotations

import os

import pytest

from ssdbpy.config.parser import parse
from ssdbpy.config.settings import (
    LevelDBSettings,
    LoggerSettings,
    ReplicationSettings,
    ServerSettings,
    Settings,
    SlaveofSettings,
)
from ssdbpy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)

BASE = "/etc/ssdb"
PW = "x" * 32
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def settings(text: str, base: str = BASE) -> Settings:
    return Settings.from_node(parse(text), base)


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        settings(text)
    return info.value


def test_defaults_of_an_empty_file() -> None:
    s = settings("")
    assert s.work_dir == BASE
    assert s.pidfile is None
    assert s.server == ServerSettings(
        ip="127.0.0.1", port=0, auth=[], allow=[], deny=[], readonly=False, slowlog_timeout=0.0
    )
    assert s.replication == ReplicationSettings(
        binlog=False, binlog_capacity=20000000, sync_speed=0, slaveof=[]
    )
    assert s.logger == LoggerSettings(level="debug", output="stdout", rotate_size=0)
    assert s.leveldb == LevelDBSettings(
        cache_size=16,
        block_size=32,
        write_buffer_size=16,
        max_open_files=500,
        compaction_speed=0,
        compression=True,
    )
    assert s.warnings == []


def test_dataclass_defaults_match() -> None:
    assert Settings().server == settings("").server
    assert Settings().leveldb == settings("").leveldb
    assert Settings().replication == settings("").replication
    assert Settings().logger == settings("").logger


def test_relative_paths_resolve_against_config_dir() -> None:
    s = settings(
        "work_dir = ./var\npidfile = ./var/ssdb.pid\nlogger:\n\toutput: log.txt\n"
    )
    assert s.work_dir == "/etc/ssdb/var"
    assert s.pidfile == "/etc/ssdb/var/ssdb.pid"
    assert s.logger.output == "/etc/ssdb/log.txt"


def test_absolute_paths_and_std_streams_kept() -> None:
    s = settings("work_dir: /data\npidfile: /run/x.pid\nlogger:\n\toutput: stderr\n")
    assert (s.work_dir, s.pidfile, s.logger.output) == ("/data", "/run/x.pid", "stderr")
    assert settings("logger:\n\toutput:\n").logger.output == "stdout"
    assert settings("pidfile:\n").pidfile is None


def test_from_file(tmp_path) -> None:
    conf = tmp_path / "my.conf"
    conf.write_text("work_dir = ./var\nserver:\n\tport: 9000\n")
    s = Settings.from_file(conf)
    assert s.conf_path == str(conf)
    assert s.work_dir == str(tmp_path / "var")
    assert s.server.port == 9000


def test_from_file_relative_path(tmp_path, monkeypatch) -> None:
    (tmp_path / "c.conf").write_text("work_dir = ./var\n")
    monkeypatch.chdir(tmp_path)
    s = Settings.from_file("c.conf")
    assert s.conf_path == str(tmp_path / "c.conf")
    assert s.work_dir == str(tmp_path / "var")


def test_shipped_ssdb_conf() -> None:
    s = Settings.from_file(os.path.join(REPO_ROOT, "ssdb.conf"))
    assert s.work_dir == os.path.join(REPO_ROOT, "var")
    assert s.pidfile == os.path.join(REPO_ROOT, "var", "ssdb.pid")
    assert (s.server.ip, s.server.port) == ("127.0.0.1", 8888)
    assert s.replication.binlog is True
    assert s.replication.binlog_capacity == 20000000
    assert s.replication.sync_speed == -1
    assert s.replication.slaveof == []
    assert s.logger.level == "info"
    assert s.logger.rotate_size == 1000000000
    assert (s.leveldb.cache_size, s.leveldb.write_buffer_size) == (500, 64)
    assert s.leveldb.compression is True
    assert s.warnings == []


def test_server_options() -> None:
    s = settings(
        "server:\n"
        "\tip: ::1\n"
        "\tport: 8888\n"
        f"\tauth: {PW}\n"
        f"\tauth: {'y' * 40}\n"
        "\tallow: 127.0.0.1\n"
        "\tallow: 192.168\n"
        "\tdeny: all\n"
        "\treadonly: YES\n"
        "\tslowlog_timeout: 2.5\n"
    )
    assert s.server == ServerSettings(
        ip="::1",
        port=8888,
        auth=[PW, "y" * 40],
        allow=["127.0.0.1", "192.168"],
        deny=["all"],
        readonly=True,
        slowlog_timeout=2.5,
    )


@pytest.mark.parametrize("word", ["yes", "YES", "true", "True", "on", "ON", "1"])
def test_readonly_true_words(word: str) -> None:
    # SSDB takes every value but "yes" as no: a slave meant read-only would take writes
    assert settings(f"server:\n\treadonly: {word}\n").server.readonly is True


@pytest.mark.parametrize("word", ["no", "No", "false", "FALSE", "off", "0"])
def test_readonly_false_words(word: str) -> None:
    assert settings(f"server:\n\treadonly: {word}\n").server.readonly is False


def test_empty_ip_means_default() -> None:
    assert settings("server:\n\tip:\n").server.ip == "127.0.0.1"


@pytest.mark.parametrize("port", ["0", "1", "65535"])
def test_valid_ports(port: str) -> None:
    assert settings(f"server:\n\tport: {port}\n").server.port == int(port)


@pytest.mark.parametrize("port", ["abc", "", "8888x", "-1", "65536", "99999999", "8 8"])
def test_invalid_port_is_an_error(port: str) -> None:
    e = error(f"server:\n\tip: 127.0.0.1\n\tport: {port}\n")
    assert e.line == 3
    assert "server.port" in str(e) and "0..65535" in str(e)


@pytest.mark.parametrize(
    "pw", ["short", "very-strong-password", "x" * 31]
)
def test_weak_password_refused(pw: str) -> None:
    e = error(f"server:\n\tport: 1\n\tauth: {PW}\n\tauth: {pw}\n")
    assert "Weak password is not allowed" in str(e)
    assert e.line == 4


def test_empty_auth_refused() -> None:
    e = error("server:\n\tauth:\n")
    assert e.line == 2
    assert "empty" in str(e) and "refuses to start" in str(e)


def test_no_auth_means_auth_off() -> None:
    assert settings("server:\n\t#auth: x\n").server.auth == []


def test_binlog_switch_and_capacity() -> None:
    assert settings("replication:\n\tbinlog: no\n").replication.binlog is False
    assert settings("replication:\n\tbinlog: Yes\n").replication.binlog is True
    r = settings("replication:\n\tbinlog: yes\n\t\tcapacity: 1000\n").replication
    assert (r.binlog, r.binlog_capacity) == (True, 1000)
    # capacity is a child of binlog, not of replication (SSDB ignores it there)
    e = error("replication:\n\tbinlog: yes\n\tcapacity: 1000\n")
    assert e.line == 3 and "belongs at replication.binlog.capacity" in str(e)
    r = settings("replication:\n\tbinlog: yes\n\t\tcapacity: 0\n").replication
    assert r.binlog_capacity == 20000000


def test_sync_speed_strict_integer() -> None:
    assert settings("replication:\n\tsync_speed: -1\n").replication.sync_speed == -1
    assert settings("replication:\n\tsync_speed: 10\n").replication.sync_speed == 10
    e = error("replication:\n\tsync_speed: 10MB\n")
    assert e.line == 2 and "'10MB'" in str(e) and "replication.sync_speed" in str(e)


def test_slaveof_blocks() -> None:
    s = settings(
        "replication:\n"
        "\tslaveof:\n"
        "\t\tip: 127.0.0.1\n"
        "\t\tport: 8889\n"
        "\tslaveof:\n"
        "\t\tid: svc_2\n"
        "\t\ttype: mirror\n"
        "\t\thost: master.example\n"
        "\t\tport: 8890\n"
        f"\t\tauth: {PW}\n"
        "\t\trecv_timeout: 5\n"
        "\tslaveof:\n"
        "\t\tip: 10.0.0.1\n"
        "\t\thost: ignored.example\n"
        "\t\tport: 1\n"
        "\t\ttype: MIRROR\n"
        "\t\trecv_timeout: -3\n"
    )
    assert s.replication.slaveof == [
        SlaveofSettings("127.0.0.1|8889", "sync", "127.0.0.1", 8889, None, 30),
        SlaveofSettings("svc_2", "mirror", "master.example", 8890, PW, 5),
        # the type is case-insensitive (SSDB: only "mirror" is mirror, MIRROR is sync)
        SlaveofSettings("10.0.0.1|1", "mirror", "10.0.0.1", 1, None, 30),
    ]


def test_slaveof_default_id_in_dataclass() -> None:
    assert SlaveofSettings("", "sync", "h", 5).id == "h|5"


@pytest.mark.parametrize(
    "block",
    [
        "\t\tport: 8889\n",
        "\t\tip: 127.0.0.1\n",
        "\t\tip: 127.0.0.1\n\t\tport: 0\n",
        "\t\tip: 127.0.0.1\n\t\tport: 65536\n",
        "\t\thost:\n\t\tport: 8889\n",
    ],
)
def test_incomplete_slaveof_blocks_are_refused(block: str) -> None:
    # SSDB ignores them silently: the server would run without the replication asked for
    e = error("replication:\n\tslaveof:\n" + block)
    assert e.line == 2 and "slaveof block needs" in str(e)


@pytest.mark.parametrize("word", ["sink", "", "syncc"])
def test_slaveof_type_refused(word: str) -> None:
    e = error(f"replication:\n\tslaveof:\n\t\tip: h\n\t\tport: 1\n\t\ttype: {word}\n")
    assert e.line == 5
    assert f"invalid value {word!r} for replication.slaveof.type" in str(e)
    assert "sync, mirror" in str(e)


def test_slaveof_port_not_a_number() -> None:
    e = error("replication:\n\tslaveof:\n\t\tip: h\n\t\tport: 88x\n")
    assert e.line == 4 and "replication.slaveof.port" in str(e)


def test_commented_slaveof_block_is_silent() -> None:
    s = settings("replication:\n\tslaveof:\n\t\t#port: 1\n")
    assert s.replication.slaveof == [] and s.warnings == []


def test_duplicate_slaveof_id_refused() -> None:
    e = error(
        "replication:\n"
        "\tslaveof:\n\t\tid: a\n\t\tip: h\n\t\tport: 1\n"
        "\tslaveof:\n\t\tid: a\n\t\tip: h2\n\t\tport: 2\n"
    )
    assert e.line == 6 and "duplicate" in str(e)


@pytest.mark.parametrize(
    "value,expected",
    [
        ("trace", "trace"),
        ("INFO", "info"),
        ("Warn", "warn"),
        ("none", "none"),
        ("fatal", "fatal"),
    ],
)
def test_logger_level(value: str, expected: str) -> None:
    assert settings(f"logger:\n\tlevel: {value}\n").logger.level == expected


def test_logger_level_unknown_refused() -> None:
    # SSDB turns any unknown level into debug
    e = error("logger:\n\tlevel: verbose\n")
    assert e.line == 2 and "'verbose'" in str(e) and "logger.level" in str(e)
    assert "trace, debug, info, warn, error, fatal, none" in str(e)
    assert "did you mean" in str(error("logger:\n\tlevel: inof\n"))
    assert "logger.level" in str(error("logger:\n\tlevel:\n"))


def test_logger_rotate_size_64bit() -> None:
    s = settings("logger:\n\trotate:\n\t\tsize: 10000000000\n")
    assert s.logger.rotate_size == 10_000_000_000
    assert settings("logger:\n\trotate:\n\t\tsize: -5\n").logger.rotate_size == 0


def test_leveldb_options() -> None:
    s = settings(
        "leveldb:\n"
        "\tcache_size: 500\n"
        "\tblock_size: 64\n"
        "\twrite_buffer_size: 64\n"
        "\tcompaction_speed: 1000\n"
        "\tcompression: no\n"
    )
    assert s.leveldb == LevelDBSettings(500, 64, 64, 500, 1000, False)


@pytest.mark.parametrize(
    "cache,expected", [(16, 500), (2047, 500), (2048, 600), (3072, 900), (4096, 1000), (99999, 1000)]
)
def test_max_open_files_computed(cache: int, expected: int) -> None:
    s = settings(f"leveldb:\n\tcache_size: {cache}\n")
    assert s.leveldb.max_open_files == expected


def test_max_open_files_explicit() -> None:
    assert settings("leveldb:\n\tmax_open_files: 100\n").leveldb.max_open_files == 100


def test_leveldb_non_positive_sizes_fall_back() -> None:
    s = settings(
        "leveldb:\n\tcache_size: 0\n\tblock_size: -1\n\twrite_buffer_size: -7\n"
    )
    assert (s.leveldb.cache_size, s.leveldb.block_size, s.leveldb.write_buffer_size) == (
        16,
        32,
        16,
    )


def test_compression_switch() -> None:
    assert settings("leveldb:\n\tcompression: NO\n").leveldb.compression is False
    assert settings("leveldb:\n\tcompression: off\n").leveldb.compression is False
    assert settings("leveldb:\n\tcompression: On\n").leveldb.compression is True
    e = error("leveldb:\n\tcompression: snappy\n")
    assert e.line == 2 and "leveldb.compression" in str(e)


def test_client_output_buffer_limit() -> None:
    from ssdbpy.config.settings import OutputLimit

    assert settings("").server.output_limit == OutputLimit(0, 0, 0)
    s = settings("server:\n\tclient_output_buffer_limit: 256mb 64MB 60\n")
    assert s.server.output_limit == OutputLimit(256 << 20, 64 << 20, 60)
    s = settings("server:\n\tclient_output_buffer_limit: 1000 2k 0\n")
    assert s.server.output_limit == OutputLimit(1000, 2000, 0)
    for bad in ("256mb", "1x 0 0", "1mb 1mb -1", "a b c", "1 2 3 4"):
        err = error(f"server:\n\tclient_output_buffer_limit: {bad}\n")
        assert "client_output_buffer_limit" in str(err) and err.line == 2
