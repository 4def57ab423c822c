"""Exception tree and every reply/message string of ssdbpy.

Imports nothing from ssdbpy.  Command handlers raise these; the dispatcher turns
an :class:`SSDBError` into its reply blocks (status first, optional message).
"""

from __future__ import annotations

# --- status words (first block of every SSDB reply) -------------------------
OK = b"ok"
NOT_FOUND = b"not_found"
ERROR = b"error"
FAIL = b"fail"
CLIENT_ERROR = b"client_error"
NOAUTH = b"noauth"
OUT_OF_RANGE = b"out_of_range"

# --- message strings ---------------------------------------------------------
MSG_WRONG_ARGS = b"wrong number of arguments"
MSG_UNKNOWN_COMMAND = b"Unknown Command: "
MSG_FORBIDDEN_COMMAND = b"Forbidden Command: "
#: a client write on a replica with server.replica_read_only (Redis's text; RESP renders it ``-READONLY …``)
MSG_READONLY_REPLICA = b"READONLY You can't write against a read only replica."
MSG_AUTH_REQUIRED = b"authentication required."
MSG_INVALID_PASSWORD = b"invalid password"
MSG_NOT_INTEGER = b"value is not an integer or out of range"
MSG_BIT_NOT_INTEGER = b"bit is not an integer or out of range"
MSG_OFFSET_RANGE = b"offset is out of range [0, 1073741824]"
MSG_INDEX_RANGE = b"index out of range"
MSG_LOCALHOST_ONLY = b"this command is only available from localhost"
MSG_FLUSHDB_REPL = b"flushdb is not allowed when replication is in use!"
MSG_QUEUE_FULL = b"queue is full"
MSG_KEY_TOO_LONG = b"key too long"
MSG_DIGEST_TYPE = b"type must be all, kv, hash, zset or queue"
# HELLO (an ssdbpy addition for RESP3 clients): Redis's own texts, which clients match on
MSG_HELLO_NOPROTO = b"sorry, this protocol version is not supported"
MSG_HELLO_WRONGPASS = b"invalid username-password pair or user is disabled."
MSG_HELLO_NOAUTH = (
    b"HELLO must be called with the client already authenticated, otherwise the "
    b"HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
    b"select the RESP protocol version at the same time"
)
MSG_HELLO_PROTOVER = b"Protocol version is not an integer or out of range"
MSG_HELLO_SYNTAX = b"Syntax error in HELLO option '%s'"


class SSDBError(Exception):
    """An error reply: ``[status]`` or ``[status, message]``."""

    status: bytes = ERROR

    def __init__(self, message: bytes | None = None) -> None:
        super().__init__(message)
        self.message = message

    def blocks(self) -> list[bytes]:
        if self.message is None:
            return [self.status]
        return [self.status, self.message]


class ServerError(SSDBError):
    """``["error", ...]``: invalid value or storage failure."""

    status = ERROR


class ClientError(SSDBError):
    """``["client_error", ...]``: a malformed request."""

    status = CLIENT_ERROR


class NoAuthError(SSDBError):
    status = NOAUTH


class OutOfRangeError(SSDBError):
    """``["out_of_range"]``: key outside the configured kv range."""

    status = OUT_OF_RANGE


class NotFound(SSDBError):
    """``["not_found"]`` raised from deep inside a handler."""

    status = NOT_FOUND


def wrong_args() -> ClientError:
    return ClientError(MSG_WRONG_ARGS)


class ProtocolError(Exception):
    """A framing error: the server drops the connection without a reply."""


class ConfigError(Exception):
    """A malformed or invalid configuration file."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        if line is not None:
            message = f"line {line}: {message}"
        super().__init__(message)


class StorageError(Exception):
    """The storage layer could not open or use a database."""


class WriteFailed(ServerError):
    """``["error"]``: LevelDB did not write a batch (disk full, read-only filesystem).

    SSDB answers a failed LevelDB write with the bare status ``error``; the
    cause goes to the log (once per episode), not to the client.
    """
