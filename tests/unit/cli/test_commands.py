"""The command names ssdb-cli completes are the server's."""

from __future__ import annotations

from ssdbpy.cli import commands


def test_the_119_commands_of_ssdb():
    assert len(commands.SERVER_COMMANDS) == 119


def test_every_registered_command_is_known():
    from ssdbpy.commands import all  # noqa: F401 - registers the handlers
    from ssdbpy.replication import master  # noqa: F401 - registers the replication commands
    from ssdbpy.commands.registry import COMMANDS

    assert {k.decode() for k in COMMANDS} <= set(commands.SERVER_COMMANDS) | set(commands.SSDBPY_COMMANDS)
    assert set(commands.SSDBPY_COMMANDS) <= {k.decode() for k in COMMANDS} - set(commands.SERVER_COMMANDS)


def test_complete():
    assert commands.complete("hget") == ["hget", "hgetall"]
    assert commands.complete("MULTI_G") == ["multi_get"]
    assert commands.complete("exi") == ["exists", "exit"]
    assert commands.complete("nope") == []


def test_every_command_has_a_usage_line():
    from ssdbpy.cli import usage

    assert set(usage.USAGE) == set(commands.ALL) - {"quit", "exit", ":escape"}
    for name, (args, summary) in usage.USAGE.items():
        assert summary, name
        assert usage.describe(name.upper()) == f"{name} {args}".rstrip() + f"\n    {summary}\n"
    assert usage.describe("nosuch") is None
