"""How ssdb-cli classifies and prints each reply kind (tools.md §1.4, §1.7)."""

from __future__ import annotations

import pytest

from ssdbpy.cli import render
from ssdbpy.cli.render import ERR, OUT, Escaper, interpret


def show(cmd: bytes, resp: list[bytes] | None, args: list[bytes] | None = None, mode: str = "no"):
    r = interpret(cmd, args or [], resp)
    frags = render.render(cmd, r, 0.0012, Escaper(mode))
    return (b"".join(d for s, d in frags if s == OUT).decode("latin-1"),
            b"".join(d for s, d in frags if s == ERR).decode("latin-1"))


T = "(0.001 sec)\n"


def test_errors_and_not_found():
    assert show(b"get", [b"not_found"]) == ("", "not_found\n" + T)
    assert show(b"foo", [b"client_error", b"Unknown Command: foo"]) == ("", "client_error: Unknown Command: foo\n" + T)
    assert show(b"set", [b"error"]) == ("", "error\n" + T)
    assert show(b"get", None) == ("", "disconnected: Connection closed\n" + T)


@pytest.mark.parametrize("cmd", [b"ping", b"set", b"setx", b"auth", b"compact", b"add_allow_ip", b"zdel"])
def test_commands_printed_as_ok(cmd):
    assert show(cmd, [b"ok", b"1"]) == ("ok\n", T)


def test_values():
    assert show(b"get", [b"ok", b"1"]) == ("1\n", T)
    assert show(b"incr", [b"ok", b"10"]) == ("10\n", T)
    assert show(b"exists", [b"ok", b"0"]) == ("0\n", T)
    assert show(b"zavg", [b"ok", b"-nan"]) == ("nan\n", T)
    assert show(b"zavg", [b"ok", b"2"]) == ("2.0\n", T)
    assert show(b"zavg", [b"ok", b"0.1"]) == ("0.1\n", T)
    assert show(b"multi_set", [b"ok", b"2"]) == ("2\n", T)
    assert show(b"qpush", [b"ok"]) == ("None\n", T)  # a bare ok of an int-or-bare command


def test_shape_mismatch_is_invalid_response():
    assert show(b"get", [b"ok", b"a", b"b"]) == ("", "server_error: Invalid response\n" + T)
    assert show(b"incr", [b"ok", b"1.5"]) == ("", "server_error: Invalid response\n" + T)
    assert show(b"scan", [b"ok", b"a"]) == ("", "server_error: Invalid response\n" + T)


def test_list():
    out, err = show(b"keys", [b"ok", b"a", b"bb"])
    assert out == "                a\n               bb\n"
    assert err == "              key\n-----------------\n2 result(s) (0.001 sec)\n"


def test_maps():
    out, err = show(b"scan", [b"ok", b"a", b"1", b"b", b"2"])
    assert out == "  a              : 1\n  b              : 2\n"
    assert err == "key             value\n-------------------------\n2 result(s) (0.001 sec)\n"
    out, _ = show(b"zscan", [b"ok", b"m", b"5", b"n", b"x"])
    assert out == "  m              : 5\n  n              : -1\n"  # non-integer scores read as -1


def test_qpop_kind_depends_on_size():
    assert show(b"qpop", [b"ok", b"a"], [b"q"]) == ("a\n", T)
    assert show(b"qpop", [b"ok", b"a", b"b"], [b"q", b"2"])[0] == "                a\n                b\n"


def test_info():
    out, err = show(b"info", [b"ok", b"ssdb-server", b"version", b"1.9.8", b"binlogs", b"a\nb"])
    assert out == "version\n\t1.9.8\nbinlogs\n\ta\n\tb\n"
    assert err == "5 result(s) (0.001 sec)\n"


def test_escaping_modes():
    resp = [b"ok", b"a\x00\n"]
    assert show(b"get", resp, mode="no")[0] == "a\x00\n\n"
    assert show(b"get", resp, mode="yes")[0] == "a\\x00\\n\n"
    assert show(b"get", resp, mode="auto")[0] == "a\\x00\\n\n"
    assert show(b"get", [b"ok", b"it's"], mode="auto")[0] == "it's\n"
    assert show(b"get", [b"ok", b"it's"], mode="yes")[0] == "it\\'s\n"
    out, _ = show(b"hgetall", [b"ok", b"\x01", b"v"], mode="auto")
    assert out == "  \\x01           : v\n"


def test_py2_float_str():
    assert render.py2_str(1e16) == b"1e+16"
    assert render.py2_str(-3.0) == b"-3.0"
    assert render.py2_str(1 / 3) == b"0.333333333333"
    assert render.py2_str(float("inf")) == b"inf"


def test_wrong_number_of_arguments_names_the_usage():
    from ssdbpy.cli.render import interpret, render

    r = interpret(b"hset", [b"h"], [b"client_error", b"wrong number of arguments"])
    assert render(b"hset", r, 0.5) == [
        ("err", b"client_error: wrong number of arguments\n"), ("err", b"usage: hset name field value\n"),
        ("err", b"(0.500 sec)\n")]
    # other errors, and commands the table does not know, print as SSDB's shell does
    r = interpret(b"hset", [b"h"], [b"client_error", b"key too long"])
    assert render(b"hset", r, 0.5) == [("err", b"client_error: key too long\n"), ("err", b"(0.500 sec)\n")]
    r = interpret(b"nosuch", [], [b"client_error", b"wrong number of arguments"])
    assert [f for f in render(b"nosuch", r, 0.5) if f[1].startswith(b"usage")] == []
