"""CONFIG REWRITE's edit of ssdb.conf (pure: text in, text out).

:func:`rewrite` sets each changed key to its new value in place: the line
keeps its TABs, its key spelling and its separator; comments, blank lines and
every other line stay as they are.  A key the file does not have is added as
the last child of its parent block (``server:``), or with a new parent block
at the end of the file.  Keys are dotted paths (``server.slowlog_timeout``).
"""

from __future__ import annotations

import re

_LINE = re.compile(r"^(\t*)([^\t#:=][^:=]*?)([ \t]*[:=][ \t]*)(.*?)([ \t]*)(\r?)$")
_KEY_ONLY = re.compile(r"^(\t*)([^\t#:=][^:=]*?)[ \t]*(\r?)$")


def _path_parts(key: str) -> list[str]:
    return [p for p in re.split(r"[./]", key) if p]


def rewrite(text: str, changes: dict[str, str]) -> str:
    """``text`` with every key of ``changes`` (dotted path → value) set; see the module docstring."""
    lines = text.split("\n")
    stack: list[str] = []  # the key path of the current line's ancestors
    block_end: dict[str, int] = {}  # dotted parent path → index of the last line inside it
    done: set[str] = set()
    for i, line in enumerate(lines):
        depth = len(line) - len(line.lstrip("\t"))
        body = line[depth:]
        if not body.strip() or body.startswith("#"):
            continue
        m = _LINE.match(line) or _KEY_ONLY.match(line)
        if m is None:
            continue
        key = m.group(2).strip()
        del stack[depth:]
        path = ".".join(stack + _path_parts(key))
        for d in range(len(stack)):
            block_end[".".join(stack[: d + 1])] = i
        if path in changes and path not in done and m.re is _LINE:
            lines[i] = m.group(1) + m.group(2) + m.group(3) + changes[path] + m.group(6)
            done.add(path)
        stack.append(key)
        block_end.setdefault(path, i)
    appended: list[str] = []
    inserts: list[tuple[int, str]] = []
    for path, value in changes.items():
        if path in done:
            continue
        parts = path.split(".")
        parent = ".".join(parts[:-1])
        if parent and parent in block_end:
            inserts.append((block_end[parent], "\t" * (len(parts) - 1) + f"{parts[-1]}: {value}"))
        elif parent:
            appended += [f"{parts[0]}:"] + ["\t" * (len(parts) - 1) + f"{parts[-1]}: {value}"]
        else:
            appended.append(f"{path}: {value}")
    for at, new in reversed(sorted(inserts, key=lambda x: x[0])):  # stable: same block, given order
        lines.insert(at + 1, new)
    if appended:
        if lines and lines[-1] == "":
            lines[-1:] = appended + [""]
        else:
            lines += appended
    return "\n".join(lines)
