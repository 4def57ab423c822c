"""Reading the shell's input lines: a pipe, or a terminal with line editing.

SSDB's shell writes its prompt to stderr so that stdout carries only data.
On a terminal, :class:`TerminalInput` adds GNU readline editing, a persistent
history (``~/.ssdb-cli_history``, or ``$SSDB_CLI_HISTFILE``) and tab completion
of command names; readline draws on the C ``stdout``, so while a line is read
fd 1 is pointed at stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import BinaryIO, Callable, Iterator, TextIO

HISTORY_LENGTH = 1000


def default_histfile() -> str:
    return os.environ.get("SSDB_CLI_HISTFILE") or os.path.join(os.path.expanduser("~"), ".ssdb-cli_history")


class PipeInput:
    """Lines from a non-terminal stdin; the prompt goes to stderr (nothing is echoed)."""

    interactive = False

    def __init__(self, stdin: BinaryIO, err: TextIO) -> None:
        self.stdin = stdin
        self.err = err

    def read_line(self, prompt: str) -> bytes | None:
        """The next line without its line ending, or None at end of input."""
        self.err.write(prompt)
        self.err.flush()
        line = self.stdin.readline()
        if not line:
            return None
        if line.endswith(b"\n"):
            line = line[:-1]
        return line

    def read_answer(self, out: TextIO, prompt: str) -> bytes:
        """A plain answer (flushdb's confirmation, export -i ranges); the prompt goes to stdout."""
        out.write(prompt)
        out.flush()
        return self.stdin.readline().rstrip(b"\r\n")

    def forget_last(self) -> None:
        pass

    def close(self) -> None:
        pass


class TerminalInput(PipeInput):
    interactive = True

    def __init__(self, stdin: BinaryIO, err: TextIO, words: Callable[[str], list[str]],
                 histfile: str | None = None) -> None:
        super().__init__(stdin, err)
        import readline

        self.readline = readline
        self.histfile = histfile if histfile is not None else default_histfile()
        self.words = words
        readline.set_completer_delims(" \t\n\"'")
        readline.set_completer(self._complete)
        readline.parse_and_bind("tab: complete")
        readline.set_history_length(HISTORY_LENGTH)
        if self.histfile and os.path.isfile(self.histfile):
            try:
                readline.read_history_file(self.histfile)
            except OSError:
                pass

    def _complete(self, text: str, state: int) -> str | None:
        rl = self.readline
        if rl.get_line_buffer()[: rl.get_begidx()].strip():
            return None  # only the command word is completed
        matches = self.words(text)
        if state >= len(matches):
            return None
        return matches[state] + " " if len(matches) == 1 else matches[state]

    @contextlib.contextmanager
    def _stdout_is_stderr(self) -> Iterator[None]:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)

    def read_line(self, prompt: str) -> bytes | None:
        self.err.flush()
        with self._stdout_is_stderr():
            try:
                line = input(prompt)
            except EOFError:
                self.err.write("\n")
                return None
        return line.encode("utf-8", "surrogateescape")

    def forget_last(self) -> None:
        """Drop the last history entry (a typed password must not reach the history file)."""
        n = self.readline.get_current_history_length()
        if n:
            self.readline.remove_history_item(n - 1)

    def close(self) -> None:
        if self.histfile:
            try:
                self.readline.set_history_length(HISTORY_LENGTH)
                self.readline.write_history_file(self.histfile)
            except OSError:
                pass


def open_input(stdin: BinaryIO, err: TextIO, words: Callable[[str], list[str]]) -> PipeInput:
    try:
        tty = stdin.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        try:
            return TerminalInput(stdin, err, words)
        except ImportError:  # no readline on this Python
            pass
    return PipeInput(stdin, err)
