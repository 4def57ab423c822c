"""ssdbpy.log: SSDB's line format, levels, outputs and rotation (config.md §4)."""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator

import pytest

from ssdbpy import log as ssdb_log
from ssdbpy.config.settings import LoggerSettings
from ssdbpy.log import (
    FATAL,
    TRACE,
    SSDBFormatter,
    SSDBLogHandler,
    close_logging,
    level_tag,
    setup_logging,
)

pytestmark = pytest.mark.timeout(30)

LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(TRACE|DEBUG|INFO |WARN |ERROR|FATAL)\] "
    r"test_log\.py\(\d+\): (.*)$"
)

logger = logging.getLogger("ssdbpy.test")


@pytest.fixture(autouse=True)
def _cleanup() -> Iterator[None]:
    yield
    close_logging()


def _lines(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        assert m, line
        out.append((m.group(1), m.group(2)))
    return out


def test_level_tags() -> None:
    assert level_tag(TRACE) == "[TRACE] "
    assert level_tag(logging.DEBUG) == "[DEBUG] "
    assert level_tag(logging.INFO) == "[INFO ] "
    assert level_tag(logging.WARNING) == "[WARN ] "
    assert level_tag(logging.ERROR) == "[ERROR] "
    assert level_tag(FATAL) == "[FATAL] "
    assert all(len(level_tag(n)) == 8 for n in range(0, 70))


def test_formatter_layout() -> None:
    record = logging.LogRecord("ssdbpy", logging.INFO, "/x/server.py", 46, "ssdb-server %s", ("1.9.8",), None)
    record.created = 1_700_000_000.275
    record.msecs = 275.0
    text = SSDBFormatter().format(record)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.275 \[INFO \] server\.py\(46\): ssdb-server 1\.9\.8",
        text,
    ), text


def test_long_messages_are_cut() -> None:
    record = logging.LogRecord("ssdbpy", logging.INFO, "a.py", 1, "x" * 10000, (), None)
    text = SSDBFormatter().format(record)
    assert len(text) < 4200


@pytest.mark.parametrize(
    "level,expected",
    [
        ("trace", ["TRACE", "DEBUG", "INFO ", "WARN ", "ERROR", "FATAL"]),
        ("debug", ["DEBUG", "INFO ", "WARN ", "ERROR", "FATAL"]),
        ("info", ["INFO ", "WARN ", "ERROR", "FATAL"]),
        ("warn", ["WARN ", "ERROR", "FATAL"]),
        ("error", ["ERROR", "FATAL"]),
        ("fatal", ["FATAL"]),
        ("none", []),
    ],
)
def test_level_filtering(level: str, expected: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggerSettings(level=level, output="stdout"))
    logger.log(TRACE, "t")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")
    logger.log(FATAL, "f")
    assert [tag for tag, _ in _lines(capsys.readouterr().out)] == expected


def test_stderr_output(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggerSettings(level="info", output="stderr"))
    logger.info("hello %d", 5)
    out = capsys.readouterr()
    assert out.out == ""
    assert _lines(out.err) == [("INFO ", "hello 5")]


def test_does_not_propagate_to_root(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(LoggerSettings(level="info", output="stdout"))
    assert logging.getLogger("ssdbpy").propagate is False
    logger.info("only once")
    assert len(_lines(capsys.readouterr().out)) == 1


def test_file_output_appends(tmp_path) -> None:
    path = tmp_path / "log.txt"
    path.write_text("old line\n")
    setup_logging(LoggerSettings(level="debug", output=str(path)))
    logger.debug("first")
    logger.info("second \u00e9")
    close_logging()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("old line\n")
    assert _lines(text.split("\n", 1)[1]) == [("DEBUG", "first"), ("INFO ", "second \u00e9")]


def test_setup_twice_replaces_handler(tmp_path) -> None:
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    setup_logging(LoggerSettings(level="info", output=str(a)))
    setup_logging(LoggerSettings(level="info", output=str(b)))
    logger.info("x")
    close_logging()
    assert a.read_text() == ""
    assert len(_lines(b.read_text())) == 1


def test_unopenable_file_raises(tmp_path) -> None:
    with pytest.raises(OSError):
        setup_logging(LoggerSettings(output=str(tmp_path / "no" / "such" / "dir.log")))


def test_rotation(tmp_path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"p" * 50 + b"\n")  # counts toward the size
    setup_logging(LoggerSettings(level="info", output=str(path), rotate_size=100))
    logger.info("a" * 20)  # 51 + ~60 > 100 -> rotate after this line
    logger.info("b")
    close_logging()
    rotated = sorted(p.name for p in tmp_path.iterdir() if p.name != "log.txt")
    assert len(rotated) == 1
    assert re.fullmatch(r"log\.txt\.\d{8}-\d{6}", rotated[0])
    old = (tmp_path / rotated[0]).read_text()
    assert old.startswith("p" * 50) and "a" * 20 in old
    assert _lines(path.read_text()) == [("INFO ", "b")]


def test_rotation_same_second_does_not_clobber(tmp_path) -> None:
    path = tmp_path / "log.txt"
    setup_logging(LoggerSettings(level="info", output=str(path), rotate_size=10))
    for i in range(3):
        logger.info("line %d", i)
    close_logging()
    files = sorted(os.listdir(tmp_path))
    assert len(files) == 4  # three rotated + a fresh empty current one
    contents = "".join((tmp_path / f).read_text() for f in files)
    assert all(f"line {i}" in contents for i in range(3))


def test_no_rotation_when_size_zero(tmp_path) -> None:
    path = tmp_path / "log.txt"
    setup_logging(LoggerSettings(level="info", output=str(path), rotate_size=0))
    for i in range(50):
        logger.info("line %d", i)
    close_logging()
    assert os.listdir(tmp_path) == ["log.txt"]


def test_handler_standalone_stdout(capsys) -> None:
    handler = SSDBLogHandler("stdout")
    lg = logging.getLogger("ssdbpy_standalone_test")
    lg.propagate = False
    lg.addHandler(handler)
    lg.setLevel(logging.INFO)
    try:
        lg.warning("careful")
    finally:
        lg.removeHandler(handler)
        handler.close()
    out = capsys.readouterr().out
    assert re.search(r"\[WARN \] test_log\.py\(\d+\): careful$", out.strip())


def test_exception_text_included(capsys) -> None:
    setup_logging(LoggerSettings(level="info", output="stdout"))
    try:
        raise ValueError("boom")
    except ValueError:
        logger.error("failed", exc_info=True)
    out = capsys.readouterr().out
    assert "[ERROR] " in out and "ValueError: boom" in out


def test_levels_table() -> None:
    assert ssdb_log.LEVELS["warn"] == logging.WARNING
    assert ssdb_log.LEVELS["trace"] < logging.DEBUG
    assert ssdb_log.LEVELS["none"] > logging.CRITICAL


def test_close_logging_restores_defaults() -> None:
    setup_logging(LoggerSettings(level="none", output="stdout"))
    close_logging()
    root = logging.getLogger("ssdbpy")
    assert root.level == logging.NOTSET and root.propagate is True
    assert not any(isinstance(h, SSDBLogHandler) for h in root.handlers)


def test_reopen_after_the_file_was_moved(tmp_path) -> None:
    from ssdbpy.log import SSDBLogHandler

    path = tmp_path / "log.txt"
    h = SSDBLogHandler(str(path))
    try:
        rec = logging.LogRecord("ssdbpy", logging.INFO, "x.py", 1, "before", None, None)
        h.emit(rec)
        path.rename(tmp_path / "log.txt.1")
        assert h.reopen() is True
        h.emit(logging.LogRecord("ssdbpy", logging.INFO, "x.py", 1, "after", None, None))
        assert "after" in path.read_text() and "before" not in path.read_text()
        assert "after" not in (tmp_path / "log.txt.1").read_text()
    finally:
        h.close()
    assert SSDBLogHandler("stderr").reopen() is False
