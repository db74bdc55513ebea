"""E1 — ``GET /v2/stamps/{scorer_id}/score/{address}`` (scoring contract §9.1, §4.1–§4.4)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ..auth.api_keys import check_key, key_prefix, read_api_key
from ..context import AppContext
from ..db import tx
from ..db.pending import Batch, Pending
from ..db.queries import analytics, api_keys, stamp_cache
from ..db.queries.api_keys import ApiKeyRow
from ..domain.addresses import lenient_address
from ..errors import (
    GENERIC_ERROR,
    INVALID_ADDRESS,
    INVALID_API_KEY,
    NO_SCORER,
    RATE_LIMITED,
    ApiError,
    Surface,
    default_error,
    error_response,
    response_for_exception,
)
from ..models import CacheRow, Community
from ..request import AlbRequest, InvalidBody
from ..response import Response
from ..settings import Settings
from . import common

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScorerRef:
    """How ``{scorer_id}`` is looked up: by external id text and, when it is an integer, by community id."""

    external_id: str | None
    community_id: int | None


def resolve_scorer_ref(raw: str, settings: Settings) -> ScorerRef:
    """§4.2 step 1: a negative integer stands for the demo scorer (none configured: nothing matches)."""
    try:
        value = int(raw)
    except ValueError:
        return ScorerRef(raw, None)
    if value >= 0:
        return ScorerRef(raw, value)
    demo = settings.demo_api_scorer_id
    if demo is None:
        return ScorerRef(None, None)
    try:
        return ScorerRef(demo, int(demo))
    except ValueError:
        return ScorerRef(demo, None)


def get_score(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    settings = ctx.settings
    key = read_api_key(request, settings)
    if key is None:
        raise ApiError(401, INVALID_API_KEY)
    now = ctx.clock()
    ref = resolve_scorer_ref(params["scorer_id"], settings)
    address = lenient_address(params["address"])

    def read(conn: psycopg.Connection[Any]) -> tuple[tuple[ApiKeyRow, Community | None] | None, list[CacheRow]]:
        # One round trip: the key with the community it may read, and the address's cache rows.
        with Batch(conn) as batch:
            found = api_keys.get_api_key_with_community(batch, prefix=key_prefix(key), now=now,
                                                        external_id=ref.external_id, community_id=ref.community_id)
            rows = stamp_cache.load_cache_rows(batch, address=address) if address else None
        return found.result(), rows.result() if rows else []

    found, rows = ctx.db.first_read(read)
    if found is None:
        raise ApiError(401, INVALID_API_KEY)
    key_row, community = found
    check = check_key(key, key_row)
    if not check.is_valid:
        raise ApiError(401, INVALID_API_KEY)

    payload: Any = None
    analytics_hook: _AnalyticsAfterCommit | None = None
    # §9.1 order: authenticate → rate limit → body → community → address. The community row came with the key in
    # the same round trip, but it is not looked at before this decision: a limited key gets 429 whatever the
    # scorer id, address or body (and every one of its requests counts, rejected ones too).
    limiter = ctx.rate_limiter
    if limiter is not None and limiter.is_limited(key_prefix(key), key_row.rate_limit, now):
        response = error_response(Surface.V2, 429, RATE_LIMITED.format(form=settings.rate_limiting_form))
        analytics_error: str | None = ""  # §4.4: '' for 429; the body was never parsed, so payload stays NULL
    else:
        try:
            payload = request.json_body
            if settings.api_analytics:
                analytics_hook = _AnalyticsAfterCommit(request, key_row, payload, now)
            response = _score(ctx, community=community, address=address, rows=rows, now=now,
                              after_commit=analytics_hook)
        except InvalidBody as exc:
            response = default_error(Surface.V2, exc)
        except Exception as exc:
            ctx.db.note_failure(exc)
            response = response_for_exception(Surface.V2, exc) or _unexpected(exc)
        analytics_error = None if response.status == 200 else next(iter(response.body.values()))

    if check.upgrade_sha256:
        common.upgrade_key_hash(ctx, key_row.id, check.upgrade_sha256)
    if analytics_hook is not None and analytics_hook.response is response:
        analytics_hook.log_if_dropped()  # the row went out with the run's COMMIT
    elif settings.api_analytics:
        _record_analytics(ctx, request, key_row, payload, response, analytics_error, now)
    return response


def _score(ctx: AppContext, *, community: Community | None, address: str | None, rows: list[CacheRow],
           now: datetime, after_commit: _AnalyticsAfterCommit | None) -> Response:
    if community is None:
        raise ApiError(404, NO_SCORER)
    if address is None:
        raise ApiError(400, INVALID_ADDRESS)
    if not community.scorer.is_valid:
        raise ApiError(500, GENERIC_ERROR)
    answer = common.score(ctx, community, address, rows, now, after_commit=after_commit)
    if after_commit is not None and after_commit.response is not None:
        return after_commit.response  # the committed run's answer, as recorded with it
    return Response(200, answer)


class _AnalyticsAfterCommit:
    """The analytics row of a scored request, sent in the scoring run's COMMIT round trip (one round trip less).

    Called only when the run reaches COMMIT; if the COMMIT then fails, the request answers 500 and its row is
    written the usual way instead.
    """

    def __init__(self, request: AlbRequest, key_row: ApiKeyRow, payload: Any, now: datetime) -> None:
        self._request, self._key_row, self._payload, self._now = request, key_row, payload, now
        self.response: Response | None = None
        self._written: Pending[None] | None = None
        self._batch: Batch | None = None

    def __call__(self, batch: Batch, answer: dict[str, Any]) -> None:
        self.response = Response(200, answer)
        self._batch = batch
        self._written = _queue_analytics(batch, self._request, self._key_row, self._payload, self.response, None,
                                         self._now)

    def log_if_dropped(self) -> None:
        if self._written is not None and not self._written.has_succeeded():
            error = self._batch.error if self._batch is not None else None
            logger.warning("analytics write failed", extra={"error_class": type(error).__name__,
                                                            "sqlstate": getattr(error, "sqlstate", None)})


def _unexpected(exc: Exception) -> Response:
    logger.error("unexpected failure", exc_info=exc)
    return default_error(Surface.V2, exc)


def _record_analytics(ctx: AppContext, request: AlbRequest, key_row: ApiKeyRow, payload: Any, response: Response,
                      error: str | None, now: datetime) -> None:
    """One row per authenticated E1 request; failures are logged and swallowed (§4.4)."""
    try:
        conn = ctx.db.connection()
    except psycopg.Error as exc:
        ctx.db.note_failure(exc)
        logger.warning("analytics write failed", extra={"error_class": type(exc).__name__})
        return
    try:
        with Batch(conn) as batch:
            _queue_analytics(batch, request, key_row, payload, response, error, now)
    except psycopg.Error as exc:
        # Dropped like any failed telemetry write (§4.4, P4), e.g. a path longer than the column.
        ctx.db.note_failure(exc)
        logger.warning("analytics write failed", extra={"error_class": type(exc).__name__, "sqlstate": exc.sqlstate})
    finally:
        tx.ensure_idle(conn)


def _queue_analytics(batch: Batch, request: AlbRequest, key_row: ApiKeyRow, payload: Any, response: Response,
                     error: str | None, now: datetime) -> Pending[None]:
    """The row's own transaction; the returned COMMIT tells whether all of it ran.

    Best-effort telemetry: its commit does not wait for the WAL flush (a crash may lose the last rows, never corrupt
    them), so the request does not pay a second disk sync.
    """
    tx.begin(batch)
    tx.relax_durability(batch)
    analytics.insert_analytics(batch, api_key_id=key_row.id, path=request.path, query_params=request.query,
                               headers=request.masked_headers(), payload=payload, response_text=response.body_text,
                               error=error, status_code=response.status, created_at=now)
    return tx.commit(batch)
