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


def rewrite_slaveof(text: str, masters: list[dict[str, str]]) -> str:
    """``text`` with its ``type: sync`` slaveof blocks replaced by one block per entry of ``masters``.

    Each entry maps slaveof keys (id, type, ip, port, auth) to values.  Only the
    key lines of the replaced blocks go; comments, blank lines, TABs and the
    ``type: mirror`` blocks stay.  The new blocks end the ``replication:``
    block (which is added at the end of the file if there is none).
    """
    lines = text.split("\n")
    drop: set[int] = set()
    repl_at = repl_end = None
    top = None  # the depth-0 key of the current block
    kind_at: dict[int, str] = {}  # line of a replication.slaveof key -> its type
    owner = None  # the slaveof line the current depth >= 2 lines belong to
    for i, line in enumerate(lines):
        depth = len(line) - len(line.lstrip("\t"))
        body = line[depth:]
        if not body.strip() or body.startswith("#"):
            continue
        key = re.split(r"[ \t:=]", body, maxsplit=1)[0]
        if depth == 0:
            top, owner = key, None
            if key == "replication" and repl_at is None:
                repl_at = i
            continue
        if top != "replication":
            continue
        repl_end = i
        if depth == 1:
            owner = i if key == "slaveof" else None
            if owner is not None:
                kind_at[i] = "sync"
                drop.add(i)
        elif owner is not None:
            drop.add(i)
            m = _LINE.match(line)
            if depth == 2 and m is not None and key == "type":
                kind_at[owner] = m.group(4).strip()
    for at, kind in kind_at.items():  # mirror blocks stay: their lines are not dropped
        if kind == "mirror":
            k = at
            drop.discard(k)
            k += 1
            while k < len(lines):
                ln = lines[k]
                d = len(ln) - len(ln.lstrip("\t"))
                if ln[d:].strip() and not ln[d:].startswith("#") and d < 2:
                    break
                drop.discard(k)
                k += 1
    new: list[str] = []
    for m in masters:
        new.append("\tslaveof:")
        new += [f"\t\t{k}: {v}" for k, v in m.items() if v]
    if repl_at is None:
        out = [ln for k, ln in enumerate(lines) if k not in drop]
        if out and out[-1] == "":
            out[-1:] = ["replication:"] + new + [""]
        else:
            out += ["replication:"] + new
        return "\n".join(out)
    at = repl_end if repl_end is not None else repl_at
    out = []
    for k, ln in enumerate(lines):
        if k not in drop:
            out.append(ln)
        if k == at:
            out += new
    return "\n".join(out)
