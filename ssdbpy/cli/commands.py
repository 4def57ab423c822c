"""Command names ssdb-cli completes: SSDB 1.9.8's 119 commands, ssdbpy's own and the shell's words."""

from __future__ import annotations

SERVER_COMMANDS: tuple[str, ...] = tuple(sorted("""
set del setx setnx getset setbit incr decr multi_set multi_del expire hset hdel hincr hdecr hclear
multi_hset multi_hdel hfix zset zdel zincr zdecr zclear zfix zremrangebyrank zremrangebyscore
multi_zset multi_zdel zpop_front zpop_back qpush qpush_front qpush_back qpop qpop_front qpop_back
qtrim_front qtrim_back qfix qclear qset clear_binlog flushdb slaveof
get getbit countbit substr getrange strlen bitcount scan rscan keys rkeys exists multi_exists
multi_get ttl hsize hget hgetall hscan hrscan hkeys hvals hlist hrlist hexists multi_hexists
multi_hsize multi_hget zrank zrrank zrange zrrange redis_zrange redis_zrrange zsize zget zscan
zrscan zkeys zlist zrlist zcount zsum zavg zexists multi_zexists multi_zsize multi_zget qsize
qfront qback qlist qrlist qslice qrange qget info dbsize compact
version ignore_key_range get_key_range get_kv_range set_kv_range ping auth list_allow_ip
add_allow_ip del_allow_ip list_deny_ip add_deny_ip del_deny_ip
dump sync140
""".split()))

#: commands ssdbpy adds to SSDB's (docs/compat.md)
SSDBPY_COMMANDS: tuple[str, ...] = ("slowlog", "ssdbpy_mirror", "ssdbpy_clock", "ssdbpy_replica", "digest",
                                     "digest_keys")

#: words the shell handles itself
SHELL_COMMANDS: tuple[str, ...] = ("help", "quit", "exit", "export", "import", ":escape")

ALL: tuple[str, ...] = tuple(sorted(set(SERVER_COMMANDS) | set(SSDBPY_COMMANDS) | set(SHELL_COMMANDS)))


def complete(prefix: str) -> list[str]:
    """Command names starting with ``prefix`` (case-insensitive), sorted."""
    p = prefix.lower()
    return [c for c in ALL if c.startswith(p)]
