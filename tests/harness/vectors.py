"""Load the recorded SSDB 1.9.8 transcripts (tests/data/vectors, format in tests/data/README.md)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests.harness.server import DATA

VECTORS = DATA / "vectors"
COMPAT_DOC = Path(__file__).resolve().parents[2] / "docs" / "compat.md"

_ESC = re.compile(r"\\\\|\\x([0-9a-f]{2})")


def unescape(s: str) -> bytes:
    """``\\\\`` is one backslash, ``\\xNN`` is byte NN, everything else is itself."""
    out = bytearray()
    pos = 0
    for m in _ESC.finditer(s):
        out += s[pos : m.start()].encode("latin-1")
        out += b"\\" if m.group(1) is None else bytes((int(m.group(1), 16),))
        pos = m.end()
    out += s[pos:].encode("latin-1")
    return bytes(out)


@dataclass
class Vector:
    file: str
    line: int
    conn: str
    send: list[bytes] | None = None
    send_raw: bytes | None = None
    expect: list | None = None
    expect_raw: bytes | None = None
    nresp: int | None = None
    kind: str | None = None
    note: str = ""
    raw: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def load(path: Path) -> tuple[dict, list[Vector]]:
    config: dict = {}
    out: list[Vector] = []
    for lineno, text in enumerate(path.read_text().splitlines(), 1):
        if not text.strip():
            continue
        d = json.loads(text)
        if "config" in d:
            config = d["config"]
            continue
        v = Vector(path.name, lineno, d.get("conn", "main"), raw=d, note=d.get("note", ""))
        if "send" in d:
            v.send = [unescape(a) for a in d["send"]]
        if "send_raw" in d:
            v.send_raw = unescape(d["send_raw"])
        if "expect_raw" in d:
            v.expect_raw = unescape(d["expect_raw"])
        if "expect" in d:
            if "nresp" in d:
                v.expect = [[unescape(b) for b in pkt] for pkt in d["expect"]]
            else:
                v.expect = [unescape(b) for b in d["expect"]]
        v.nresp = d.get("nresp")
        v.kind = d.get("expect_kind")
        out.append(v)
    return config, out


def deliberate_fixes() -> set[str]:
    """Vector ids (``file.jsonl:line``) that docs/compat.md lists as deliberate differences."""
    if not COMPAT_DOC.exists():
        return set()
    return set(re.findall(r"`(\w+\.jsonl:\d+)`", COMPAT_DOC.read_text()))
