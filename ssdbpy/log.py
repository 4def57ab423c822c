"""Logging in SSDB's line format (config.md §4), on top of the stdlib.

Every ssdbpy module logs through ``logging.getLogger("ssdbpy")`` or a child
(``ssdbpy.server``, ...). :func:`setup_logging` installs one
:class:`SSDBLogHandler` on the ``ssdbpy`` logger::

    2026-11-22 05:35:05.275 [INFO ] server.py(46): ssdb-server 1.9.8

Levels: ``trace`` (custom level 5), ``debug``, ``info``, ``warn``, ``error``,
``fatal`` (= logging.CRITICAL) and ``none`` (nothing is written).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from ssdbpy.config.settings import LoggerSettings

TRACE = 5
FATAL = logging.CRITICAL
NONE = logging.CRITICAL + 10
logging.addLevelName(TRACE, "TRACE")

#: config.md level name → Python logging level
LEVELS: dict[str, int] = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "fatal": FATAL,
    "none": NONE,
}

# (threshold, tag) from the most severe down; a record gets the first tag whose threshold it reaches
_TAGS: tuple[tuple[int, str], ...] = (
    (logging.CRITICAL, "[FATAL] "),
    (logging.ERROR, "[ERROR] "),
    (logging.WARNING, "[WARN ] "),
    (logging.INFO, "[INFO ] "),
    (logging.DEBUG, "[DEBUG] "),
    (0, "[TRACE] "),
)

#: messages are cut to this many characters (SSDB cuts at about 4 KB)
MAX_MESSAGE = 4000

ROOT_LOGGER = "ssdbpy"


def level_tag(levelno: int) -> str:
    """The 8-character tag for a logging level, e.g. ``"[WARN ] "``."""
    for threshold, tag in _TAGS:
        if levelno >= threshold:
            return tag
    return _TAGS[-1][1]


class SSDBFormatter(logging.Formatter):
    """``YYYY-MM-DD HH:MM:SS.mmm [LEVEL] file.py(line): message`` in local time."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if len(msg) > MAX_MESSAGE:
            msg = msg[:MAX_MESSAGE]
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            msg = f"{msg}\n{record.exc_text}"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        return (
            f"{stamp}.{int(record.msecs):03d} {level_tag(record.levelno)}"
            f"{record.filename}({record.lineno}): {msg}"
        )


class SSDBLogHandler(logging.Handler):
    """Writes formatted lines to stdout, stderr or a file (appended, size-rotated).

    ``output`` is ``"stdout"``, ``"stderr"`` or a file path. For a file,
    the bytes written (counting the size it had when opened) are tracked;
    once they exceed ``rotate_size`` (> 0) the file is renamed to
    ``<output>.YYYYMMDD-HHMMSS`` and a new one is opened. The standard
    streams are looked up at each write, so redirections (daemon mode,
    test capture) are honoured.
    """

    def __init__(self, output: str = "stdout", rotate_size: int = 0) -> None:
        super().__init__()
        self.output = output
        self.rotate_size = rotate_size
        self._file: IO[bytes] | None = None
        self._written = 0
        self.setFormatter(SSDBFormatter())
        if output not in ("stdout", "stderr"):
            self._open()

    def _open(self) -> None:
        self._file = open(self.output, "ab")
        self._written = self._file.tell()

    def rotated_name(self, when: float | None = None) -> str:
        """Name a rotated file gets; a ``.N`` suffix avoids clobbering one from the same second."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        name = f"{self.output}.{stamp}"
        n = 1
        candidate = name
        while os.path.exists(candidate):
            candidate = f"{name}.{n}"
            n += 1
        return candidate

    def _rotate(self) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        os.rename(self.output, self.rotated_name())
        self._open()

    def reopen(self) -> bool:
        """Open ``output`` again (after logrotate moved it); False for stdout/stderr.

        The new file is opened before the old one is closed: if it cannot be
        opened (OSError raised), logging goes on into the old one.
        """
        if self._file is None:
            return False
        new = open(self.output, "ab")
        self.acquire()
        try:
            old, self._file = self._file, new
            self._written = new.tell()
        finally:
            self.release()
        old.close()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record) + "\n"
            if self._file is not None:
                data = line.encode("utf-8", "backslashreplace")
                self._file.write(data)
                self._file.flush()
                self._written += len(data)
                if 0 < self.rotate_size < self._written:
                    self._rotate()
                return
            stream = sys.stdout if self.output == "stdout" else sys.stderr
            if stream is not None:
                stream.write(line)
                stream.flush()
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.acquire()
        try:
            if self._file is not None:
                self._file.close()
                self._file = None
        finally:
            self.release()
        super().close()


def setup_logging(logger_settings: LoggerSettings) -> None:
    """Route the ``ssdbpy`` logger to the configured output and level.

    Replaces a handler installed by an earlier call. Raises OSError when
    the log file cannot be opened.
    """
    handler = SSDBLogHandler(logger_settings.output, logger_settings.rotate_size)
    logger = logging.getLogger(ROOT_LOGGER)
    close_logging()
    logger.addHandler(handler)
    logger.setLevel(LEVELS.get(logger_settings.level.lower(), logging.DEBUG))
    logger.propagate = False


def reopen_logging() -> str | None:
    """Reopen the log file of :func:`setup_logging` (SIGHUP); its path, or None when
    logging goes to stdout/stderr. OSError when the file cannot be opened."""
    for h in logging.getLogger(ROOT_LOGGER).handlers:
        if isinstance(h, SSDBLogHandler) and h.reopen():
            return h.output
    return None


def close_logging() -> None:
    """Undo :func:`setup_logging`: close its handler, restore level and propagation."""
    logger = logging.getLogger(ROOT_LOGGER)
    for h in list(logger.handlers):
        if isinstance(h, SSDBLogHandler):
            logger.removeHandler(h)
            h.close()
    logger.setLevel(logging.NOTSET)
    logger.propagate = True
