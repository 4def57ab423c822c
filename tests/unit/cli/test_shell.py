"""The shell's line handling and reconnects, with a scripted link (no sockets)."""

from __future__ import annotations

import io

from ssdbpy.cli.lineinput import PipeInput
from ssdbpy.cli.link import Link
from ssdbpy.cli.shell import Shell


class FakeLink(Link):
    def __init__(self, replies=None, up: bool = True, reconnects=None) -> None:
        super().__init__("127.0.0.1", 8888)
        self.sent: list[tuple[bytes, ...]] = []
        self.replies = replies or {}
        self.up = up
        self.reconnects = list(reconnects or [])  # outcome of each connect(): True = success
        self.client = object() if up else None  # type: ignore[assignment]

    def connect(self) -> None:
        ok = self.reconnects.pop(0) if self.reconnects else True
        if not ok:
            raise ConnectionRefusedError(111, "Connection refused")
        self.client = object()  # type: ignore[assignment]
        self.up = True

    def close(self) -> None:
        self.client = None

    def request(self, *args: bytes):
        if self.client is None or not self.up:
            self.client = None
            return None
        self.sent.append(args)
        reply = self.replies.get(args[0], [b"ok"])
        return reply(args) if callable(reply) else reply


def run(lines: str, link: FakeLink | None = None, mode: str = "no"):
    link = link or FakeLink()
    out, err = io.BytesIO(), io.StringIO()
    reader = PipeInput(io.BytesIO(lines.encode("latin-1")), err)
    sleeps: list[float] = []
    Shell(link, reader, out, err, escape_mode=mode, clock=lambda: 0.0, sleep=sleeps.append).run()
    return link, out.getvalue(), err.getvalue(), sleeps


def test_words_are_split_decoded_and_lowercased():
    link, _, _, _ = run('SET "a key" \'\\x00\\n\' x\\ y "q\\"uote"\n')
    assert link.sent == [(b"set", b"a key", b"\x00\n", b"x y", b'q"uote')]


def test_blank_lines_and_quit_words():
    link, _, err, _ = run("\n   \nping\nexit\nping\n")
    assert link.sent == [(b"ping",)]
    assert err.endswith("bye.\n")


def test_auth_password_is_remembered_for_reconnects():
    link = FakeLink(replies={b"auth": [b"ok", b"1"]})
    run("auth s3cret\n", link)
    assert link.password == b"s3cret" and link.sent == [(b"auth", b"s3cret")]


def test_reconnect_lines_and_retry():
    link = FakeLink(up=False, reconnects=[False, True], replies={b"get": [b"ok", b"1"]})
    link.password = b"pw"
    _, out, err, sleeps = run("get a\n", link)
    assert "[1/5] reconnecting to server... Connect error: [Errno 111] Connection refused\n" in err
    assert "[2/5] reconnecting to server... done.\n" in err
    assert link.sent == [(b"auth", b"pw"), (b"get", b"a")]
    assert sleeps == [0, 1]
    assert out == b"1\n"


def test_give_up_after_five_attempts():
    link = FakeLink(up=False, reconnects=[False] * 5)
    _, out, err, sleeps = run("get a\n", link)
    assert sleeps == [0, 1, 2, 3, 3, 3]
    assert err.count("reconnecting to server... Connect error") == 5
    assert "cannot connect to server, give up...\nerror!\n" in err
    assert out == b""


def test_settings_and_version():
    link = FakeLink(replies={b"info": [b"ok", b"ssdb-server", b"version", b"1.9.8"], b"get": [b"ok", b"\x01"]})
    _, out, err, _ = run(":escape\nget a\n:escape none\nget a\n:bogus\nv\n", link)
    assert out == b"\\x01\n\x01\n"
    assert "  Escape response\n" in err and "  No escape response\n" in err and "Bad setting!\n" in err
    assert "ssdb-server 1.9.8\n\n" in err


def test_flushdb_ping_failure_is_reported():
    link = FakeLink(replies={b"ping": [b"noauth", b"authentication required."]})
    _, _, err, _ = run("flushdb\n", link)
    assert "error! - authentication required.\n" in err
