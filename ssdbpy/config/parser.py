"""Parser for SSDB's TAB-indented configuration tree (config.md §1).

Pure: :func:`parse` does no IO; :func:`load` only reads the file.

Grammar, per line (line numbers are 1-based):

* empty or whitespace-only lines are ignored;
* indentation is the number of leading TAB characters; after them ``#``
  starts a comment line, any other whitespace character is an error;
* a line may be indented at most one level deeper than the previous key
  line; it becomes a child of the nearest shallower key line;
* key and value are split at the first ``:`` or ``=`` and trimmed.

Unlike SSDB 1.9.8 the last character of a line is *not* dropped
unconditionally: CRLF endings and a missing final newline both work.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from ssdbpy.errors import ConfigError

_PATH_SEP = re.compile(r"[./]")
_KV_SEP = re.compile(r"[:=]")
_ATOI = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_ATOF = re.compile(
    r"[ \t\n\v\f\r]*([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
)


def atoi(text: str) -> int:
    """C ``atoi``/``strtoll``: leading integer after optional space, junk ignored, none → 0."""
    m = _ATOI.match(text)
    return int(m.group(1)) if m else 0


def atof(text: str) -> float:
    """C ``atof`` (decimal forms only): leading number, junk ignored, none → 0.0."""
    m = _ATOF.match(text)
    return float(m.group(1)) if m else 0.0


def _split_path(path: str) -> list[str]:
    return [p for p in _PATH_SEP.split(path) if p]


@dataclass(eq=False)
class Node:
    """One ``key: value`` line and the lines nested under it.

    The root node returned by :func:`parse` has an empty key and line 0.
    """

    key: str
    value: str = ""
    line: int = 0
    children: list[Node] = field(default_factory=list)

    def child(self, key: str) -> Node | None:
        """The LAST direct child called ``key`` (SSDB semantics), or None."""
        for node in reversed(self.children):
            if node.key == key:
                return node
        return None

    def get(self, path: str) -> Node | None:
        """Node at a dotted (or ``/``-separated) path, taking the last sibling at each level."""
        node: Node | None = self
        for part in _split_path(path):
            assert node is not None
            node = node.child(part)
            if node is None:
                return None
        return node

    def get_str(self, path: str, default: str = "") -> str:
        """Value at ``path``; ``default`` only when the node is absent (an empty value is "")."""
        node = self.get(path)
        return default if node is None else node.value

    def get_int(self, path: str, default: int = 0) -> int:
        """``atoi`` of the value at ``path``; ``default`` when the node is absent."""
        node = self.get(path)
        return default if node is None else atoi(node.value)

    def get_float(self, path: str, default: float = 0.0) -> float:
        """``atof`` of the value at ``path``; ``default`` when the node is absent."""
        node = self.get(path)
        return default if node is None else atof(node.value)

    def children_named(self, path: str) -> list[Node]:
        """Every child called like the last path component, in file order.

        ``children_named("server.auth")`` → all ``auth`` lines of the last
        ``server`` block. Used for the repeatable options.
        """
        parts = _split_path(path)
        if not parts:
            return []
        parent = self.get(".".join(parts[:-1]))
        if parent is None:
            return []
        return [c for c in parent.children if c.key == parts[-1]]


def parse(text: str) -> Node:
    """Parse config text into a tree; raise :class:`ConfigError` (with line) on syntax errors."""
    root = Node("", "", 0)
    # stack[d] is the node whose children are indented d TABs
    stack: list[Node] = [root]
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line.strip():
            continue
        rest = line.lstrip("\t")
        indent = len(line) - len(rest)
        first = rest[0]
        if first == "#":
            continue
        if first.isspace():
            raise ConfigError(
                f"unexpected whitespace char {first!r} after the indentation "
                "(indent with TAB characters only, never spaces)",
                lineno,
            )
        if indent > len(stack) - 1:
            raise ConfigError(
                f"invalid indent: {indent} TAB(s), but at most {len(stack) - 1} allowed "
                "here (one level deeper than the previous line)",
                lineno,
            )
        m = _KV_SEP.search(rest)
        if m is None:
            raise ConfigError(
                f"expected 'key: value' or 'key = value', got {rest.strip()!r}", lineno
            )
        key = rest[: m.start()].strip()
        if not key:
            raise ConfigError(f"missing key before {m.group()!r}", lineno)
        node = Node(key, rest[m.end():].strip(), lineno)
        del stack[indent + 1:]
        stack[indent].children.append(node)
        stack.append(node)
    return root


def load(path: str | os.PathLike[str]) -> Node:
    """Read and parse a config file (UTF-8, optional BOM). OSError propagates."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError("file is not valid UTF-8", line) from None
    return parse(text)
