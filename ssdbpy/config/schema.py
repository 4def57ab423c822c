"""The keys a config file may hold, and strict readers for their values.

Pure (no IO). :func:`check_keys` walks a parsed tree and refuses any key
that neither ssdbpy nor SSDB reads; the ``_value`` readers refuse values that
SSDB would silently turn into something else (``readonly: true`` into *no*,
``cache_size: lots`` into 16 MB, ``level: verbose`` into ``debug``). Every
refusal is a :class:`ConfigError` carrying the line number, the key path, the
value and what is allowed.

The key table is the union of what SSDB 1.9.8's source reads
(``src/net/server.cpp``, ``src/serv.cpp``, ``src/ssdb/options.cpp``,
``src/util/app.cpp``), every key of every ``ssdb.conf``/``ssdb_slave.conf``
SSDB has shipped since 1.0 (so an existing SSDB file keeps starting), and
ssdbpy's own ``server.client_output_buffer_limit`` and ``server.slowlog_max_len``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping

from ssdbpy.config.parser import Node
from ssdbpy.errors import ConfigError

#: A schema: key -> schema of its children ({} = a leaf, no children allowed)
Schema = Mapping[str, "Schema"]

LEAF: Schema = {}

SCHEMA: Schema = {
    "work_dir": LEAF,
    "pidfile": LEAF,
    "server": {
        "ip": LEAF,
        "port": LEAF,
        "auth": LEAF,
        "allow": LEAF,
        "deny": LEAF,
        "readonly": LEAF,
        "slowlog_timeout": LEAF,
        "slowlog_max_len": LEAF,
        "client_output_buffer_limit": LEAF,
        "replica_read_only": LEAF,
        "replica_priority": LEAF,
    },
    "replication": {
        "binlog": {"capacity": LEAF},
        "sync_speed": LEAF,
        "slaveof": {
            "id": LEAF,
            "type": LEAF,
            "ip": LEAF,
            "host": LEAF,
            "port": LEAF,
            "auth": LEAF,
            "recv_timeout": LEAF,
        },
        "role": LEAF,
    },
    "logger": {
        "level": LEAF,
        "output": LEAF,
        "rotate": {"size": LEAF},
    },
    "leveldb": {
        "cache_size": LEAF,
        "block_size": LEAF,
        "write_buffer_size": LEAF,
        "max_open_files": LEAF,
        "compaction_speed": LEAF,
        "compression": LEAF,
    },
}

#: keys SSDB once read and 1.9.8 ignores: accepted with a warning
DEPRECATED = {
    "replication.role": "ignored: SSDB 1.9.8 and ssdbpy have no roles "
    "(a slave is a server with a replication.slaveof block)",
}

#: keys that may appear several times, every occurrence counting
REPEATABLE = {"server.auth", "server.allow", "server.deny", "replication.slaveof"}

TRUE_WORDS = ("yes", "true", "on", "1")
FALSE_WORDS = ("no", "false", "off", "0")
BOOL_ALLOWED = "yes/no, true/false, on/off or 1/0 (case-insensitive)"


def _all_paths(schema: Schema, prefix: str = "") -> list[str]:
    paths = []
    for key, sub in schema.items():
        path = f"{prefix}.{key}" if prefix else key
        paths.append(path)
        paths += _all_paths(sub, path)
    return paths


ALL_PATHS = _all_paths(SCHEMA)


def suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _unknown(node: Node, path: str, allowed: Schema) -> ConfigError:
    parent = path.rpartition(".")[0]
    where = f"under {parent}:" if parent else "at the top level"
    if not allowed:
        return ConfigError(
            f"unknown key {path!r} ({node.key}: {node.value!r}): "
            f"{parent} takes no nested keys",
            node.line,
        )
    hint = suggest(node.key, list(allowed))
    if not hint:  # right name, wrong place (a lost or extra TAB)?
        elsewhere = [p for p in ALL_PATHS if p.rpartition(".")[2] == node.key]
        if elsewhere:
            hint = f"; {node.key!r} belongs at {' or '.join(elsewhere)} (check the TAB indentation)"
    return ConfigError(
        f"unknown key {path!r} ({node.key}: {node.value!r}){hint}; "
        f"allowed {where} {', '.join(allowed)}",
        node.line,
    )


def check_keys(root: Node, warnings: list[str]) -> None:
    """Refuse unknown keys; note deprecated and repeated single keys in ``warnings``."""
    _check(root, "", SCHEMA, warnings)


def _check(node: Node, prefix: str, schema: Schema, warnings: list[str]) -> None:
    seen: dict[str, int] = {}
    for child in node.children:
        path = f"{prefix}.{child.key}" if prefix else child.key
        if child.key not in schema:
            raise _unknown(child, path, schema)
        if path in DEPRECATED:
            warnings.append(f"line {child.line}: {path} {DEPRECATED[path]}")
        if path not in REPEATABLE and child.key in seen:
            warnings.append(
                f"line {child.line}: {path} given again (first at line {seen[child.key]}); "
                "the last one is used"
            )
        seen.setdefault(child.key, child.line)
        _check(child, path, schema[child.key], warnings)


# ---- strict value readers ---------------------------------------------------

def bad_value(node: Node, path: str, allowed: str) -> ConfigError:
    return ConfigError(f"invalid value {node.value!r} for {path}: expected {allowed}", node.line)


# ``prefix`` is prepended to ``path`` in messages, for lookups relative to a
# block (``replication.slaveof.`` + ``type``).

def read_bool(root: Node, path: str, default: bool, prefix: str = "") -> bool:
    """yes/no, true/false, on/off, 1/0 in any case; anything else (even empty) refused."""
    node = root.get(path)
    if node is None:
        return default
    word = node.value.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise bad_value(node, prefix + path, BOOL_ALLOWED)


_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def read_int(root: Node, path: str, default: int, unit: str = "", prefix: str = "") -> int:
    """A decimal integer (optional sign); junk such as ``lots`` or ``1GB`` refused."""
    node = root.get(path)
    if node is None:
        return default
    if not _INT.fullmatch(node.value):
        what = f"an integer ({unit}, without a unit suffix)" if unit else "an integer"
        raise bad_value(node, prefix + path, what)
    return int(node.value)


def read_float(root: Node, path: str, default: float, unit: str = "", prefix: str = "") -> float:
    node = root.get(path)
    if node is None:
        return default
    if not _FLOAT.fullmatch(node.value):
        raise bad_value(node, prefix + path, f"a number ({unit})" if unit else "a number")
    return float(node.value)


def read_choice(root: Node, path: str, default: str, choices: tuple[str, ...], prefix: str = "") -> str:
    """One of ``choices`` (case-insensitive, returned lowercased); a near miss gets a hint."""
    node = root.get(path)
    if node is None:
        return default
    word = node.value.lower()
    if word in choices:
        return word
    raise ConfigError(
        f"invalid value {node.value!r} for {prefix}{path}: expected one of {', '.join(choices)}"
        f"{suggest(word, choices)}",
        node.line,
    )
