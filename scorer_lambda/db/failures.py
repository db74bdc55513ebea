"""What a database error means for the connection and for a scoring run (production contract P1.3, P1.4)."""

from __future__ import annotations

import psycopg

from ..errors import DatabaseFailure

# SQLSTATE classes after which the session's state is unknown: connection exception, invalid SQL statement name
# (a prepared statement the client believes in is gone), operator intervention (terminated, shutting down).
_UNSAFE_SQLSTATE_PREFIXES = ("08", "26", "57P")


def database_error(exc: BaseException) -> psycopg.Error | None:
    """The psycopg error behind ``exc`` (unwrapping ``DatabaseFailure``), if any."""
    cause = exc.cause if isinstance(exc, DatabaseFailure) else exc
    return cause if isinstance(cause, psycopg.Error) else None


def is_session_unsafe(exc: BaseException) -> bool:
    """Whether the kept connection must be closed after this error (P1.3).

    Errors without a SQLSTATE are raised by the client itself (lost connection, pipeline aborted or out of step):
    the protocol state is unknown.
    """
    error = database_error(exc)
    if error is None:
        return False
    sqlstate = error.sqlstate or ""
    if sqlstate.startswith(_UNSAFE_SQLSTATE_PREFIXES):
        return True
    return not sqlstate and isinstance(error, psycopg.OperationalError | psycopg.InterfaceError)


def is_data_failure(exc: psycopg.Error) -> bool:
    """A failure of the data being written (a value a column or constraint rejects): a scoring failure (§5.6).

    Everything else (lock and statement timeouts, deadlocks, lost connections, server faults) is operational and
    must never be stored as a score (P1.4).
    """
    return isinstance(exc, psycopg.DataError | psycopg.IntegrityError)
