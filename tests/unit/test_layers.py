"""The dependency arrows of CONVENTIONS.md, checked on the import statements."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[2] / "ssdbpy"

#: package -> module prefixes it must never import
FORBIDDEN = {
    "errors": ["ssdbpy.", "gevent", "plyvel"],
    "cnum": ["ssdbpy.", "gevent", "plyvel"],
    "protocol": ["gevent", "plyvel", "ssdbpy.storage", "ssdbpy.db", "ssdbpy.commands", "ssdbpy.server",
                 "ssdbpy.replication", "ssdbpy.apps", "socket"],
    "config": ["gevent", "plyvel", "ssdbpy.storage", "ssdbpy.db", "ssdbpy.commands", "ssdbpy.server",
               "ssdbpy.replication", "ssdbpy.protocol"],
    "storage": ["gevent", "ssdbpy.db", "ssdbpy.commands", "ssdbpy.server", "ssdbpy.replication", "ssdbpy.apps"],
    "db": ["gevent", "plyvel", "ssdbpy.commands", "ssdbpy.server", "ssdbpy.replication", "ssdbpy.apps"],
    "commands": ["gevent", "plyvel", "ssdbpy.server", "ssdbpy.replication", "ssdbpy.apps"],
    "info": ["gevent", "plyvel", "ssdbpy.server", "ssdbpy.replication"],
    "slowlog": ["gevent", "plyvel", "ssdbpy.storage", "ssdbpy.db", "ssdbpy.commands", "ssdbpy.server",
                "ssdbpy.replication", "ssdbpy.apps", "socket"],
    "server": ["plyvel", "ssdbpy.replication", "ssdbpy.apps"],
    "replication": ["plyvel", "ssdbpy.server", "ssdbpy.apps"],
}


def imports_of(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_dependency_arrows():
    bad = []
    for layer, forbidden in FORBIDDEN.items():
        files = [PKG / f"{layer}.py"] if (PKG / f"{layer}.py").exists() else sorted((PKG / layer).rglob("*.py"))
        assert files, layer
        for f in files:
            for name in imports_of(f):
                if any(name == p.rstrip(".") or name.startswith(p if p.endswith(".") else p + ".") or name == p
                       for p in forbidden):
                    bad.append(f"{f.relative_to(PKG)} imports {name}")
    assert not bad, "\n".join(bad)


def test_only_storage_imports_plyvel():
    users = [f.relative_to(PKG) for f in PKG.rglob("*.py") if "plyvel" in imports_of(f)]
    assert all(str(u).startswith("storage/") for u in users), users
