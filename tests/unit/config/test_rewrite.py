"""CONFIG REWRITE's edit of ssdb.conf: in place, TABs and comments kept, new keys in their block."""

from __future__ import annotations

import os

from ssdbpy.commands.redis_cmds import write_config
from ssdbpy.config.parser import parse
from ssdbpy.config.rewrite import rewrite

CONF = ("# ssdb-server config\nwork_dir = ./var\n\nserver:\n\tip: 127.0.0.1\n\tport: 8888\n"
        "\t# requests slower than this\n\t#slowlog_timeout: 5\n\treadonly : no\n\n"
        "replication:\n\tbinlog: yes\n\t\tcapacity: 20000000\n\tslaveof:\n\t\tport: 1\n\nlogger:\n\tlevel: debug\n")


def test_value_replaced_in_place():
    out = rewrite(CONF, {"server.readonly": "yes"})
    assert out == CONF.replace("\treadonly : no\n", "\treadonly : yes\n")


def test_missing_key_goes_to_the_end_of_its_block_comments_stay():
    out = rewrite(CONF, {"server.slowlog_timeout": "25", "server.replica_read_only": "yes"})
    assert out == CONF.replace("\treadonly : no\n", "\treadonly : no\n\tslowlog_timeout: 25\n\treplica_read_only: yes\n")
    assert parse(out).get("server.slowlog_timeout").value == "25"


def test_nested_key_and_new_block():
    out = rewrite(CONF, {"replication.binlog.capacity": "5", "leveldb.cache_size": "32"})
    assert "\t\tcapacity: 5\n" in out and out.endswith("\tlevel: debug\nleveldb:\n\tcache_size: 32\n")
    assert out.replace("\t\tcapacity: 5\n", "\t\tcapacity: 20000000\n").replace("leveldb:\n\tcache_size: 32\n", "") \
        == CONF


def test_no_change_is_the_same_text():
    assert rewrite(CONF, {}) == CONF
    crlf = CONF.replace("\n", "\r\n")
    assert rewrite(crlf, {"server.port": "9"}) == crlf.replace("\tport: 8888\r\n", "\tport: 9\r\n")


def test_write_config_is_atomic_and_keeps_the_mode(tmp_path):
    path = tmp_path / "ssdb.conf"
    path.write_text(CONF)
    os.chmod(path, 0o640)
    inode = os.stat(path).st_ino
    write_config(str(path), {"server.readonly": "yes"})
    assert path.read_text() == CONF.replace("readonly : no", "readonly : yes")
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.stat(path).st_ino != inode  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["ssdb.conf"]  # no temp file left


SLAVES = ("# top\nserver:\n\tport: 8888\n\nreplication:\n\tbinlog: yes\n\t# the old master\n\tslaveof:\n"
          "\t\t# its id\n\t\tid: old\n\t\tip: 10.0.0.1\n\t\tport: 1\n\tslaveof:\n\t\ttype: mirror\n\t\tip: 10.0.0.2\n"
          "\t\tport: 2\n\nlogger:\n\tlevel: debug\n")


def test_slaveof_blocks_replaced_mirror_and_comments_kept():
    from ssdbpy.config.rewrite import rewrite_slaveof

    out = rewrite_slaveof(SLAVES, [{"id": "127.0.0.1|7000", "type": "sync", "ip": "127.0.0.1", "port": "7000",
                                    "auth": ""}])
    assert out == ("# top\nserver:\n\tport: 8888\n\nreplication:\n\tbinlog: yes\n\t# the old master\n"
                   "\t\t# its id\n\tslaveof:\n\t\ttype: mirror\n\t\tip: 10.0.0.2\n\t\tport: 2\n"
                   "\tslaveof:\n\t\tid: 127.0.0.1|7000\n\t\ttype: sync\n\t\tip: 127.0.0.1\n\t\tport: 7000\n"
                   "\nlogger:\n\tlevel: debug\n")
    root = parse(out)
    assert [b.get("port").value for b in root.children_named("replication.slaveof")] == ["2", "7000"]
    # SLAVEOF NO ONE: no sync block left; a file without replication gets the block at its end
    assert "10.0.0.1" not in rewrite_slaveof(SLAVES, []) and "type: mirror" in rewrite_slaveof(SLAVES, [])
    assert rewrite_slaveof("server:\n\tport: 1\n", [{"ip": "h", "port": "2"}]) == (
        "server:\n\tport: 1\nreplication:\n\tslaveof:\n\t\tip: h\n\t\tport: 2\n")
