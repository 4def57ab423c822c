"""ssdbpy.config.parser: the TAB-indented tree (config.md §1)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdbpy.config.parser import Node, atof, atoi, load, parse
from ssdbpy.errors import ConfigError

pytestmark = pytest.mark.timeout(30)

SAMPLE = (
    "work_dir = ./var\n"
    "pidfile = ./var/ssdb.pid\n"
    "\n"
    "server:\n"
    "\tip: 127.0.0.1\n"
    "\tport: 8888\n"
    "\t#allow: 127.0.0.1\n"
    "\n"
    "replication:\n"
    "\tbinlog: yes\n"
    "\t\tcapacity: 100\n"
    "\tslaveof:\n"
    "\t\t#id: svc_2\n"
    "logger:\n"
    "\trotate:\n"
    "\t\tsize: 1000000000\n"
)


def test_sample_tree() -> None:
    root = parse(SAMPLE)
    assert [c.key for c in root.children] == [
        "work_dir",
        "pidfile",
        "server",
        "replication",
        "logger",
    ]
    assert root.get_str("work_dir") == "./var"
    assert root.get_int("server.port") == 8888
    assert root.get_str("server.ip") == "127.0.0.1"
    assert root.get("server.allow") is None
    binlog = root.get("replication.binlog")
    assert binlog is not None and binlog.value == "yes" and binlog.line == 10
    assert root.get_int("replication.binlog.capacity") == 100
    assert root.get_int("replication/binlog/capacity") == 100
    assert root.get_int("logger.rotate.size") == 1_000_000_000
    slaveof = root.get("replication.slaveof")
    assert slaveof is not None and slaveof.value == "" and slaveof.children == []


def test_line_numbers() -> None:
    root = parse(SAMPLE)
    server = root.get("server")
    assert server is not None and server.line == 4
    assert [c.line for c in server.children] == [5, 6]


def test_crlf_and_missing_final_newline() -> None:
    # SSDB would turn the last line into "port: 1888"; ssdbpy does not.
    root = parse("server:\r\n\tport: 18886")
    assert root.get_int("server.port") == 18886
    root = parse("server:\r\n\tport: 18886\r\n")
    assert root.get_str("server.port") == "18886"


def test_equals_and_colon_separators_and_trimming() -> None:
    root = parse("a = 1\nb:2\nc  :  x: y = z  \n")
    assert root.get_str("a") == "1"
    assert root.get_str("b") == "2"
    assert root.get_str("c") == "x: y = z"


def test_first_separator_wins() -> None:
    root = parse("a=b:c\nd:e=f\n")
    assert root.get_str("a") == "b:c"
    assert root.get_str("d") == "e=f"


def test_no_end_of_line_comments() -> None:
    assert parse("port: 8888 # x\n").get_str("port") == "8888 # x"


def test_comments_and_blank_lines() -> None:
    root = parse("# top\n\n   \n\t\n\t\t# deep comment\na: 1\n\t# child comment\n\tb: 2\n")
    assert root.get_str("a.b") == "2"
    assert len(root.children) == 1


def test_comment_lines_do_not_count_for_indentation() -> None:
    # a comment indented deeper than allowed is still just a comment
    root = parse("a: 1\n\t\t\t# note\n\tb: 2\n")
    assert root.get_str("a.b") == "2"


def test_last_sibling_wins() -> None:
    root = parse("server:\n\tport: 1\n\tport: 2\nserver:\n\tip: x\n")
    # the LAST server block is used, which has no port
    assert root.get("server.port") is None
    assert root.get_str("server.ip") == "x"
    root = parse("a: 1\na: 2\n")
    assert root.get_str("a") == "2"


def test_children_named_in_file_order() -> None:
    root = parse("server:\n\tauth: a\n\tport: 1\n\tauth: b\n\tauth: c\n")
    assert [n.value for n in root.children_named("server.auth")] == ["a", "b", "c"]
    assert [n.line for n in root.children_named("server.auth")] == [2, 4, 5]
    assert root.children_named("server.allow") == []
    assert root.children_named("nothing.auth") == []
    assert [n.value for n in parse("x: 1\nx: 2\n").children_named("x")] == ["1", "2"]


def test_node_with_value_and_children() -> None:
    root = parse("binlog: yes\n\tcapacity: 5\n")
    node = root.get("binlog")
    assert node is not None and node.value == "yes"
    assert node.get_int("capacity") == 5


def test_dedent_multiple_levels() -> None:
    root = parse("a:\n\tb:\n\t\tc: 1\nd: 2\n")
    assert root.get_int("a.b.c") == 1
    assert root.get_int("d") == 2


def test_defaults_only_when_absent() -> None:
    root = parse("a:\nb: junk\n")
    assert root.get_str("a", "dflt") == ""
    assert root.get_str("missing", "dflt") == "dflt"
    assert root.get_int("missing", 7) == 7
    assert root.get_int("a", 7) == 0
    assert root.get_int("b", 7) == 0
    assert root.get_float("missing", 1.5) == 1.5


@pytest.mark.parametrize(
    "text,expected",
    [
        ("123", 123),
        ("  42abc", 42),
        ("-5", -5),
        ("+7", 7),
        ("abc", 0),
        ("", 0),
        ("1e3", 1),
        ("\t9", 9),
        ("- 5", 0),
    ],
)
def test_atoi(text: str, expected: int) -> None:
    assert atoi(text) == expected


@pytest.mark.parametrize(
    "text,expected",
    [("5", 5.0), ("2.5ms", 2.5), (".5", 0.5), ("1e2", 100.0), ("x", 0.0), ("-1.", -1.0)],
)
def test_atof(text: str, expected: float) -> None:
    assert atof(text) == expected


def _error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(text)
    return info.value


def test_space_indentation_is_an_error() -> None:
    e = _error("server:\n    port: 8888\n")
    assert e.line == 2
    assert "whitespace" in str(e) and "TAB" in str(e)
    assert str(e).startswith("line 2:")


def test_space_after_tabs_is_an_error() -> None:
    e = _error("server:\n\t ip: x\n")
    assert e.line == 2


def test_indent_too_deep() -> None:
    e = _error("server:\n\t\tport: 1\n")
    assert e.line == 2 and "indent" in str(e)
    e = _error("a: 1\n\tb: 2\n\t\t\tc: 3\n")
    assert e.line == 3
    e = _error("\tport: 1\n")
    assert e.line == 1


def test_line_without_separator() -> None:
    e = _error("server:\n\tport 8888\n")
    assert e.line == 2 and "key: value" in str(e)


def test_empty_key() -> None:
    assert _error("a: 1\n: 2\n").line == 2


def test_error_line_counts_blank_and_comment_lines() -> None:
    assert _error("# c\n\n\nbad line\n").line == 4


def test_load(tmp_path) -> None:
    p = tmp_path / "x.conf"
    p.write_bytes(b"\xef\xbb\xbfserver:\r\n\tport: 1\r\n")
    assert load(p).get_int("server.port") == 1
    p.write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(ConfigError) as info:
        load(str(p))
    assert info.value.line == 2
    with pytest.raises(OSError):
        load(tmp_path / "missing.conf")


# --- property: a generated tree rendered to text parses back to itself -------

_keys = st.from_regex(r"[a-z_][a-z0-9_.]{0,8}", fullmatch=True).filter(
    lambda k: "." not in k
)
_values = st.from_regex(r"([!-~]([ -~]*[!-~])?)?", fullmatch=True)


def _trees(depth: int) -> st.SearchStrategy[list[tuple[str, str, list]]]:
    if depth == 0:
        return st.lists(st.tuples(_keys, _values, st.just([])), max_size=4)
    return st.lists(st.tuples(_keys, _values, _trees(depth - 1)), max_size=4)


def _render(tree: list, indent: int, sep: str, eol: str) -> str:
    out = []
    for key, value, children in tree:
        out.append("\t" * indent + key + sep + value + eol)
        out.append(_render(children, indent + 1, sep, eol))
    return "".join(out)


def _shape(node: Node) -> list:
    return [(c.key, c.value, _shape(c)) for c in node.children]


@given(_trees(3), st.sampled_from([": ", "=", " = ", ":"]), st.sampled_from(["\n", "\r\n"]),
       st.booleans())
def test_render_parse_round_trip(tree: list, sep: str, eol: str, final_newline: bool) -> None:
    text = _render(tree, 0, sep, eol)
    if not final_newline and text.endswith(eol):
        text = text[: -len(eol)]
    assert _shape(parse(text)) == tree
