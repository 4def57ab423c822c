"""The ssdb-cli read-eval-print loop (tools.md §1.2-1.5).

Behaves as SSDB 1.9.8's shell: the prompt and every decoration on stderr,
data on stdout, words split like a shell and decoded with ``string-escape``,
the command word lowercased, the same built-ins and reconnects.  Beyond it:
``exit`` quits too, Ctrl-C abandons the line or the running command instead
of killing the shell, ``:escape auto`` (the default on a terminal) escapes
only binary values, lines typing a password stay out of the history, and a
missing password is pointed out, ``help <command>`` describes a command,
and when stdin is not a terminal (or for a one-shot command) the session
keeps an exit status and keeps stdout aligned: a reply without data
(``not_found``, an error) prints an empty line on stdout, as redis-cli does
for nil, so the Nth single-value command prints the Nth line.
"""

from __future__ import annotations

import shlex
import time
from typing import BinaryIO, Callable, TextIO

from ssdbpy.cli import escape, flushdb, render, transfer, usage
from ssdbpy.cli.lineinput import PipeInput
from ssdbpy.cli.link import Link

WELCOME = ("ssdb (cli) - ssdb command line tool.\n"
           "Copyright (c) 2012-2016 ssdb.io\n"
           "\n"
           "'h' or 'help' for help, 'q' to quit.\n"
           "\n")

HELP = """
# display ssdb-server status
\tinfo
# escape/do not escape response data
\t: escape yes|no|auto
# export/import
\texport [-i] out_file
\t\t-i\tinteractive mode
\timport in_file
# delete data (asks for confirmation)
\tflushdb [kv|hash|zset|list]

binary data: type "\\x00" (quoted) for a NUL byte; ':escape yes' shows
values escaped the same way.
keys: Tab completes command names, Up/Down walk the history.

type 'help <command>' for the arguments and meaning of a command

press 'q' and Enter to quit.

"""

#: exit statuses of ssdb-cli (SSDB's always exits 0)
EXIT_OK = 0
EXIT_ERROR_REPLY = 1  # a command replied an error (piped or one-shot mode)
EXIT_USAGE = 2
EXIT_CONNECTION = 3  # cannot connect, connection lost for good, authentication failed

AUTH_HINT = "hint: type 'auth <password>', or start ssdb-cli with -a <password>\n"


class Shell:
    def __init__(self, link: Link, reader: PipeInput, out: BinaryIO, err: TextIO, *,
                 escape_mode: str = "no", clock: Callable[[], float] = time.perf_counter,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.link = link
        self.reader = reader
        self.out = out  # binary: data may be any bytes
        self.err = err
        self.repr_data = render.Escaper(escape_mode)
        self.clock = clock
        self.sleep = sleep
        self.prompt = f"ssdb {link.host}:{link.port}> "
        #: the exit status so far (piped and one-shot mode)
        self.status = EXIT_OK
        self.scripted = not reader.interactive

    # --- output ---------------------------------------------------------------------------
    def write(self, fragments: list[render.Fragment]) -> None:
        last = None
        for stream, data in fragments:
            if stream != last and last is not None:
                (self.out if last == render.OUT else self.err).flush()
            if stream == render.OUT:
                self.out.write(data)
            else:
                self.err.write(data.decode("utf-8", "replace"))
            last = stream
        self.out.flush()
        self.err.flush()

    def text_out(self) -> "_TextOut":
        return _TextOut(self.out)

    # --- session --------------------------------------------------------------------------
    def show_version(self, at_start: bool = False) -> bool:
        """Print ``ssdb-server 1.9.8``; False if the shell should end (start-up only)."""
        r = self.link.call(b"info")
        if r.ok and isinstance(r.data, list) and len(r.data) > 2:
            self.err.write(f"{r.data[0].decode()} {r.data[2].decode()}\n\n")
        else:
            msg = r.code + (b": " + r.message if r.message else b"")
            self.err.write(msg.decode("utf-8", "replace") + "\n")
            if r.code == b"noauth":
                self.err.write(AUTH_HINT + "\n")
            elif at_start:
                self.err.flush()
                return False
        self.err.flush()
        return True

    def run(self) -> int:
        try:
            while True:
                try:
                    line = self.reader.read_line(self.prompt)
                except KeyboardInterrupt:
                    self.err.write("^C\n")
                    continue
                if line is None:
                    break
                try:
                    if not self.handle(line):
                        break
                except KeyboardInterrupt:
                    self.interrupted()
        finally:
            self.reader.close()
            self.link.close()
        return self.status if self.scripted else EXIT_OK

    def run_once(self, words: list[bytes]) -> int:
        """Run one command given as words (a one-shot ``ssdb-cli -p 8888 get k``); its status."""
        self.scripted = True
        try:
            self.handle_words(words)
        finally:
            self.link.close()
        return self.status

    def fail(self, status: int) -> None:
        """Note a failure for the exit status (the worst one wins)."""
        self.status = max(self.status, status)

    def line_failed(self, message: str) -> None:
        """A line the shell could not run: the message on stderr, and in a script an
        empty stdout line in place of its reply."""
        self.err.write(message)
        self.err.flush()
        self.fail(EXIT_ERROR_REPLY)
        if self.scripted:
            self.out.write(b"\n")
            self.out.flush()

    def interrupted(self) -> None:
        """A command was abandoned: its reply may still come, so start a fresh connection."""
        self.out.flush()
        self.err.write("\n(interrupted)\n")
        self.err.flush()
        try:
            self.link.connect()
            self.link.authenticate()
        except OSError:
            self.link.close()

    # --- one line ---------------------------------------------------------------------------
    def handle(self, line: bytes) -> bool:
        """Run one input line; False to end the session."""
        if line == b"":
            return True
        line = line.strip()
        if line in (b"q", b"quit", b"exit"):
            self.err.write("bye.\n")
            self.err.flush()
            return False
        try:
            words = [w.encode("latin-1") for w in shlex.split(line.decode("latin-1"))]
        except ValueError as exc:
            self.line_failed(f"error: {exc}\n")
            return True
        if not words:
            return True
        if words[0].lower() == b"auth":
            self.reader.forget_last()
        return self.handle_words(words)

    def handle_words(self, words: list[bytes]) -> bool:
        """Run one command given as words (escapes such as ``\\x00`` still to decode)."""
        try:
            ps = [escape.decode(w) for w in words]
        except ValueError as exc:
            self.line_failed(f"error: {exc}\n")
            return True
        if ps[0].lower() in (b"h", b"help"):
            self.help(ps[1:])
            return True
        cmd = ps[0].lower()
        if cmd.startswith(b":"):
            self.setting([cmd[1:], *ps[1:]])
            return True
        args = ps[1:]
        if cmd == b"v":
            self.show_version()
            return True
        if cmd == b"auth":
            if not args:
                self.line_failed("Usage: auth password\n")
                return True
            self.link.password = args[0]
        if cmd in (b"export", b"import", b"flushdb"):
            self.procedure(cmd, args)
            return True
        return self.command(cmd, args)

    def help(self, args: list[bytes]) -> None:
        """``help``: the shell's help; ``help <command>``: that command's arguments and meaning."""
        if not args:
            self.out.write(HELP.encode())
            self.out.flush()
            return
        name = args[0].decode("latin-1")
        text = usage.describe(name)
        if text is None:
            self.line_failed(f"unknown command: {name} (type 'help' for the shell's help)\n")
            return
        self.out.write(text.encode())
        self.out.flush()

    def setting(self, args: list[bytes]) -> None:
        op = args[0] if args else b""
        if op != b"escape":
            self.err.write("Bad setting!\n")
            self.fail(EXIT_ERROR_REPLY)
            return
        yn = args[1] if len(args) > 1 else b"yes"
        if yn == b"yes":
            self.repr_data.mode = "yes"
            self.err.write("  Escape response\n")
        elif yn in (b"no", b"none"):
            self.repr_data.mode = "no"
            self.err.write("  No escape response\n")
        elif yn == b"auto":
            self.repr_data.mode = "auto"
            self.err.write("  Escape binary response\n")
        else:
            self.err.write("  Usage: escape yes|no|auto\n")
            self.fail(EXIT_ERROR_REPLY)
        self.err.flush()

    def ensure_link(self) -> bool:
        """Reconnect (with SSDB's retry lines) if the connection was lost."""
        if self.link.connected:
            return True
        return self.link.request_with_retry(self.err, b"ping", [], self.sleep) is not None

    def procedure(self, cmd: bytes, args: list[bytes]) -> None:
        out = self.text_out()
        try:
            if cmd == b"export":
                if self.ensure_link():
                    transfer.export(self.link, args, out, self.err, self._ask)
            elif cmd == b"import":
                if self.ensure_link() and transfer.import_file(self.link, args, out, self.err):
                    self.fail(EXIT_ERROR_REPLY)
            else:
                resp = self.link.request_with_retry(self.err, b"ping", [], self.sleep)
                if resp is None:
                    raise flushdb.FlushdbError("error")
                if resp[0] != b"ok":
                    raise flushdb.FlushdbError((resp[1] if len(resp) > 1 else resp[0]).decode("utf-8", "replace"))
                t0 = self.clock()
                flushdb.flushdb(self.link, args[0] if args else b"", out, self._ask)
                self.err.write(render.timing(self.clock() - t0).decode())
        except (transfer.TransferError, flushdb.FlushdbError, OSError) as exc:
            self.err.write(f"error! - {exc}\n")
            self.fail(EXIT_ERROR_REPLY)
        out.flush()
        self.err.flush()

    def _ask(self, prompt: str) -> bytes:
        return self.reader.read_answer(self.text_out(), prompt)

    def command(self, cmd: bytes, args: list[bytes]) -> bool:
        """Send one command and print its reply; False when a script should stop."""
        t0 = self.clock()
        resp = self.link.request_with_retry(self.err, cmd, args, self.sleep)
        if resp is None:
            self.err.write("error!\n")
            self.err.flush()
            self.fail(EXIT_CONNECTION)
            return not self.scripted  # a script stops: the server is gone
        elapsed = self.clock() - t0
        r = render.interpret(cmd, args, resp)
        fragments = render.render(cmd, r, elapsed, self.repr_data)
        if not r.ok:
            self.fail(EXIT_CONNECTION if r.code == b"noauth" else
                      EXIT_OK if r.code == b"not_found" else EXIT_ERROR_REPLY)
            if self.scripted:  # keep stdout aligned: one (empty) line for this reply
                fragments.insert(0, (render.OUT, b"\n"))
        self.write(fragments)
        if r.code == b"noauth" and self.reader.interactive:
            self.err.write(AUTH_HINT)
            self.err.flush()
        return True


class _TextOut:
    """str writes onto the binary stdout (for the procedures' progress lines)."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def write(self, s: str) -> int:
        self._out.write(s.encode("utf-8", "surrogateescape"))
        return len(s)

    def flush(self) -> None:
        self._out.flush()

    def isatty(self) -> bool:
        return False
