"""Error types and the one place that turns them into responses (scoring contract §2.4)."""

from __future__ import annotations

from enum import Enum

from .response import RESPONSE_HEADERS, Response

INVALID_API_KEY = "Invalid API Key."
RATE_LIMITED = "You have been rate limited! Use this form to request a rate limit elevation: {form}"
NO_SCORER = "No scorer matches the given criteria."
INVALID_ADDRESS = "Invalid address."
GENERIC_ERROR = "An error has occurred"
INVALID_TOKEN = "Given token not valid for any token type"  # noqa: S105 (an error message)
TOO_MANY_STAMPS = "You have submitted too many stamps."
NO_STAMP_TO_DELETE = "Unable to find stamp to delete."
BAD_REQUEST = "Bad request"
COMMUNITY_MISCONFIGURED = (
    "Community matching the configured scorer id does not exist! This is probably a misconfiguration!"
)
UNABLE_TO_GET_SCORE = "Unable to get score for provided scorer."
SCORER_ID_NOT_SET = "Scorer ID not set"
COMMUNITY_QUERY_MISSING = "Community matching query does not exist."
INVALID_SCORER_ID = "Invalid scorer_id"
MISSING_API_KEY = "x-api-key"
NOT_FOUND = "Not Found"

# PEP 249 exception classes, in the order the contract lists them for "DB Error: <Class>".
_PEP249_NAMES = (
    "InterfaceError",
    "DataError",
    "OperationalError",
    "IntegrityError",
    "InternalError",
    "ProgrammingError",
    "NotSupportedError",
)


class Surface(Enum):
    V2 = "v2"
    CERAMIC = "ceramic"
    EMBED = "embed"


class ApiError(Exception):
    """An HTTP error with an exact message; the surface decides the body shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def db_error_class_name(exc: BaseException) -> str | None:
    """The PEP 249 class a database exception belongs to, found by walking its MRO."""
    for klass in type(exc).__mro__:
        if klass.__name__ in _PEP249_NAMES and klass.__module__.startswith("psycopg"):
            return klass.__name__
    return None


class DatabaseFailure(Exception):
    """A database failure that is not a scoring failure (B1, B2, B7, COMMIT, the ERROR write): HTTP 500."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


def error_response(surface: Surface, status: int, message: str, cause: BaseException | None = None) -> Response:
    key = "detail" if surface is Surface.EMBED else "error"
    return Response(status, {key: message}, dict(RESPONSE_HEADERS), cause=cause)


def default_error(surface: Surface, cause: BaseException | None = None) -> Response:
    """Unexpected failures: 500 on the V2 surface, 400 on the ceramic and embed surfaces (§2.4)."""
    return error_response(surface, 500 if surface is Surface.V2 else 400, GENERIC_ERROR, cause)


def response_for_exception(surface: Surface, exc: BaseException) -> Response | None:
    """The response for an expected error type, or None when the caller must log and use the default."""
    if isinstance(exc, ApiError):
        return error_response(surface, exc.status, exc.message, exc)
    cause = exc.cause if isinstance(exc, DatabaseFailure) else exc
    name = db_error_class_name(cause)
    if name is not None:
        return error_response(surface, 500, f"DB Error: {name}", cause)
    return None


def failure_fields(cause: BaseException | None) -> dict[str, str | None]:
    """The log fields of a failed request: the exception's class and, for database errors, the SQLSTATE (never the
    message, which may carry SQL values)."""
    if cause is None:
        return {}
    return {"error_class": type(cause).__name__, "sqlstate": getattr(cause, "sqlstate", None)}
