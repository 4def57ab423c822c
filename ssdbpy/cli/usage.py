"""``help CMD`` in ssdb-cli: each SSDB command's arguments and meaning (docs: commands.md).

One line per command: ``name | arguments | what it does and replies``.  Scan
ranges follow SSDB: ``(start, end]`` (start excluded, end included, ``""``
unbounded); ``limit`` is the most items replied.
"""

from __future__ import annotations

_TABLE = """
get | key | the value of key; not_found if absent
set | key value | store value at key
setx | key value ttl | store value at key, deleted after ttl seconds
setnx | key value | store value only if key is absent; 1 if stored, 0 if not
getset | key value | store value, reply the old one (not_found if there was none; the value is stored anyway)
del | key | delete key (replies 1 even if it was absent)
exists | key | 1 if key exists, else 0
incr | key [by=1] | add by to the integer at key, reply the new value
decr | key [by=1] | subtract by from the integer at key, reply the new value
ttl | key | seconds until key expires; -1 if it has no TTL
expire | key ttl | key expires after ttl seconds; 1 if key exists, else 0
getbit | key offset | the bit at offset (0 past the end)
setbit | key offset bit | set the bit at offset to 0 or 1, reply the old bit
bitcount | key [start=0 [end=-1]] | number of 1 bits in bytes start..end (inclusive, negatives from the end)
countbit | key [start=0 [size]] | number of 1 bits in size bytes from start
substr | key [start=0 [size]] | size bytes of the value from start (negatives from the end)
getrange | key [start=0 [end=-1]] | bytes start..end of the value (inclusive)
strlen | key | length of the value in bytes (0 if absent)
multi_set | key value [key value ...] | store several keys; replies the number of pairs
multi_get | key [key ...] | key/value pairs of the keys that exist
multi_del | key [key ...] | delete several keys; replies the number of keys given
multi_exists | key [key ...] | key/1-or-0 pairs for every key given
scan | start end limit | key/value pairs with keys in (start, end], ascending
rscan | start end limit | key/value pairs from start (excluded) down to end, descending
keys | start end limit | keys in (start, end], ascending
rkeys | start end limit | keys from start (excluded) down to end, descending
hset | name field value | set a field of hash name; 1 if the field is new, else 0
hget | name field | the value of the field; not_found if absent
hdel | name field | delete a field; 1 if it existed, else 0
hincr | name field [by=1] | add by to the integer field, reply the new value
hdecr | name field [by=1] | subtract by from the integer field, reply the new value
hsize | name | number of fields in hash name
hexists | name field | 1 if the field exists, else 0
hclear | name | delete the whole hash; replies the number of fields deleted
hgetall | name | every field/value pair of the hash
hscan | name start end limit | field/value pairs with fields in (start, end], ascending
hrscan | name start end limit | field/value pairs from start (excluded) down to end, descending
hkeys | name start end limit | fields in (start, end], ascending
hvals | name start end limit | values of the fields in (start, end], ascending
hlist | start end limit | names of the hashes in (start, end], ascending
hrlist | start end limit | names of the hashes from start (excluded) down to end, descending
multi_hset | name field value [field value ...] | set several fields; replies the number of new fields
multi_hget | name field [field ...] | field/value pairs of the fields that exist
multi_hdel | name field [field ...] | delete several fields; replies the number deleted
multi_hexists | name field [field ...] | field/1-or-0 pairs for every field given
multi_hsize | name [name ...] | name/size pairs
hfix | name | recount the fields of a hash and repair its stored size
zset | name member score | set the integer score of a member; 1 if new, else 0
zget | name member | the score of member; not_found if absent
zdel | name member | delete a member; 1 if it existed, else 0
zincr | name member [by=1] | add by to the score, reply the new score
zdecr | name member [by=1] | subtract by from the score, reply the new score
zsize | name | number of members
zexists | name member | 1 if member exists, else 0
zclear | name | delete the whole sorted set; replies the number of members deleted
zrank | name member | 0-based rank by ascending score; not_found if absent
zrrank | name member | 0-based rank by descending score; not_found if absent
zrange | name offset limit | member/score pairs by ascending score, skipping offset
zrrange | name offset limit | member/score pairs by descending score, skipping offset
zscan | name key_start score_start score_end limit | member/score pairs with scores from score_start to score_end, after member key_start
zrscan | name key_start score_start score_end limit | as zscan, by descending score
zkeys | name key_start score_start score_end limit | members of zscan's range, without scores
zlist | start end limit | names of the sorted sets in (start, end], ascending
zrlist | start end limit | names of the sorted sets from start (excluded) down to end, descending
zcount | name score_start score_end | number of members with scores in [score_start, score_end] ("" = unbounded)
zsum | name score_start score_end | sum of the scores in [score_start, score_end]
zavg | name score_start score_end | average of the scores in [score_start, score_end]
zremrangebyrank | name start end | delete members ranked start..end (inclusive, negatives from the end); replies the number deleted
zremrangebyscore | name score_start score_end | delete members with scores in [score_start, score_end]; replies the number deleted
zpop_front | name limit | remove and reply up to limit members with the lowest scores
zpop_back | name limit | remove and reply up to limit members with the highest scores
multi_zset | name member score [member score ...] | set several scores; replies the number of new members
multi_zget | name member [member ...] | member/score pairs of the members that exist
multi_zdel | name member [member ...] | delete several members; replies the number deleted
multi_zexists | name member [member ...] | member/1-or-0 pairs for every member given
multi_zsize | name [name ...] | name/size pairs
zfix | name | repair the index and stored size of a sorted set
redis_zrange | name start stop | Redis ZRANGE: member/score pairs ranked start..stop (negatives from the end)
redis_zrrange | name start stop | Redis ZREVRANGE: as redis_zrange, by descending score
qpush | name item [item ...] | append items to queue name; replies the new size
qpush_back | name item [item ...] | append items to the back; replies the new size
qpush_front | name item [item ...] | prepend items one by one to the front; replies the new size
qpop | name [size=1] | remove and reply up to size items from the front
qpop_front | name [size=1] | remove and reply up to size items from the front
qpop_back | name [size=1] | remove and reply up to size items from the back
qtrim_front | name [size=1] | remove up to size items from the front; replies the number removed
qtrim_back | name [size=1] | remove up to size items from the back; replies the number removed
qfront | name | the first item; not_found if the queue is empty
qback | name | the last item; not_found if the queue is empty
qsize | name | number of items
qget | name index | the item at index (negatives from the end); not_found if out of range
qset | name index item | replace the item at index; error if out of range
qslice | name begin end | items begin..end (inclusive, negatives from the end)
qrange | name offset limit | up to limit items from offset (limit -1 = to the end)
qclear | name | delete the whole queue; replies the number of items deleted
qfix | name | repair the stored size, front and back of a queue
qlist | start end limit | names of the queues in (start, end], ascending
qrlist | start end limit | names of the queues from start (excluded) down to end, descending
flushdb | | delete all data (the shell asks first; refused when replication is in use)
clear_binlog | | delete every binlog record
compact | | compact the whole database (may take long)
dbsize | | approximate size of the data on disk, in bytes
info | [cmd|range|leveldb] | server status: version, links, calls, binlog, replication; cmd = per-command counters
slowlog | get [count=10]|len|reset | requests slower than server.slowlog_timeout (ssdbpy): id, time, microseconds, client, argc, args per entry
version | | the server's version
ping | | replies ok
auth | password | authenticate this connection
slaveof | id host port [auth [last_seq [last_key]]] | start replicating from a master now (not saved to the config)
dump | [start [end [limit]]] | stream every key/value (used by ssdb-dump)
sync140 | [last_seq [last_key [type]]] | the replication stream (used by slaves)
ssdbpy_mirror | node_id proto | offer a convergent mirror link (used by ssdbpy mirror slaves; ssdbpy)
ssdbpy_clock | | this node's id and a fresh clock stamp, on a node with mirror links (ssdbpy)
ssdbpy_replica | proto | offer an aligned sync link (used by ssdbpy slaves attached with SLAVEOF; ssdbpy)
digest | [all|kv|hash|zset|queue [start end]] | hash of user data and TTL deadlines, key count, first and last name, names in (start, end] (ssdbpy)
digest_keys | kv|hash|zset|queue start end limit | per-key hashes of the first keys in (start, end] (ssdbpy)
get_key_range | | the kv key range this server serves
get_kv_range | | the kv key range this server serves
set_kv_range | start end | set the kv key range this server serves
ignore_key_range | | this connection ignores the key range from now on
list_allow_ip | | the ip prefixes allowed to connect
add_allow_ip | ip_prefix | allow connections from ip_prefix
del_allow_ip | ip_prefix | remove an allowed ip prefix
list_deny_ip | | the ip prefixes denied
add_deny_ip | ip_prefix | deny connections from ip_prefix
del_deny_ip | ip_prefix | remove a denied ip prefix
export | [-i] out_file | (shell) write every key to out_file as set/hset/zset/qpush lines; -i asks for ranges
import | in_file | (shell) send the lines of a file written by export
help | [command] | (shell) this help, or the arguments and meaning of a command
"""


def _load() -> dict[str, tuple[str, str]]:
    table = {}
    for line in _TABLE.strip().splitlines():
        name, rest = line.split("|", 1)
        args, summary = rest.rsplit("|", 1)
        table[name.strip()] = (args.strip(), summary.strip())
    return table


USAGE: dict[str, tuple[str, str]] = _load()


def describe(name: str) -> str | None:
    """``"get key\\n    the value of key; ..."``, or None for an unknown command."""
    entry = USAGE.get(name.lower())
    if entry is None:
        return None
    args, summary = entry
    return f"{name.lower()} {args}".rstrip() + f"\n    {summary}\n"
