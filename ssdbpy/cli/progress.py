"""A one-line live progress display for terminals (silent elsewhere)."""

from __future__ import annotations

import time
from typing import TextIO


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"  # pragma: no cover


class Progress:
    """``update(count, nbytes)`` redraws ``\\r  N keys  X MB  R keys/s`` at most
    ``hz`` times a second when ``stream`` is a terminal; ``finish()`` ends the line."""

    def __init__(self, stream: TextIO, *, enabled: bool | None = None, hz: float = 10.0,
                 clock=time.monotonic) -> None:
        self.stream = stream
        if enabled is None:
            try:
                enabled = stream.isatty()
            except (AttributeError, ValueError):
                enabled = False
        self.enabled = enabled
        self.clock = clock
        self.start = clock()
        self._interval = 1.0 / hz
        self._next = 0.0
        self._drawn = False
        self.count = 0
        self.nbytes = 0

    def line(self) -> str:
        elapsed = max(self.clock() - self.start, 1e-9)
        rate = self.count / elapsed
        return (f"  {self.count:,} keys  {human_bytes(self.nbytes)}  "
                f"{rate:,.0f} keys/s  {human_bytes(self.nbytes / elapsed)}/s")

    def update(self, count: int, nbytes: int) -> None:
        self.count = count
        self.nbytes = nbytes
        if not self.enabled:
            return
        now = self.clock()
        if now < self._next:
            return
        self._next = now + self._interval
        self.stream.write("\r" + self.line() + "\x1b[K")
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\r" + self.line() + "\x1b[K\n")
            self.stream.flush()
