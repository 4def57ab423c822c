"""Importing this module registers every command module in the command table."""

from ssdbpy.commands import digest, hash, kv, queue, sys, zset  # noqa: F401
