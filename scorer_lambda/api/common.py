"""Steps shared by the ceramic-cache and embed handlers: community lookup and the scoring run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import psycopg

from ..context import AppContext
from ..db.pending import Batch
from ..db.queries import api_keys, communities, stamp_cache
from ..domain.stamp_items import InvalidPayload
from ..errors import GENERIC_ERROR, ApiError
from ..metrics import ScoringMeasures
from ..models import CachedStamp, CacheRow, Community
from ..pipeline import AfterCommit, run_scoring
from ..request import InvalidBody

T = TypeVar("T")
logger = logging.getLogger(__name__)


def load_community(ctx: AppContext, community_id: int) -> Community | None:
    def read(conn: psycopg.Connection[Any]) -> Community | None:
        return communities.get_community(conn, community_id=community_id).result()

    return ctx.db.first_read(read)


def load_community_and_rows(ctx: AppContext, community_id: int,
                            address: str | None) -> tuple[Community | None, list[CacheRow]]:
    def read(conn: psycopg.Connection[Any]) -> tuple[Community | None, list[CacheRow]]:
        with Batch(conn) as batch:
            community = communities.get_community(batch, community_id=community_id)
            rows = stamp_cache.load_cache_rows(batch, address=address) if address else None
        return community.result(), rows.result() if rows else []

    return ctx.db.first_read(read)


def load_rows(ctx: AppContext, address: str) -> list[CacheRow]:
    """The candidate rows of a scoring run."""
    return stamp_cache.load_cache_rows(ctx.db.connection(), address=address).result()


def score(ctx: AppContext, community: Community, address: str, rows: Sequence[CacheRow],
          now: datetime, after_commit: AfterCommit | None = None) -> dict[str, Any]:
    ctx.scoring = ScoringMeasures()  # read by the request line (P10)
    return run_scoring(ctx.db.connection(), ctx.settings, ctx.verifier, community=community, address=address,
                       rows=rows, now=now, measures=ctx.scoring, after_commit=after_commit)


def stamps_json(stamps: Sequence[CachedStamp]) -> list[dict[str, Any]]:
    return [stamp.to_json() for stamp in stamps]


def client_error(step: Callable[[], T]) -> T:
    """Run a parsing step; malformed input is the client's mistake: 400 ``An error has occurred``."""
    try:
        return step()
    except (InvalidBody, InvalidPayload):
        raise ApiError(400, GENERIC_ERROR) from None


def upgrade_key_hash(ctx: AppContext, key_id: str, hashed: str) -> None:
    """Store the fast hash after a PBKDF2 check; an optimisation only, so a failure is logged (§12 #12)."""
    try:
        api_keys.update_key_sha256(ctx.db.connection(), key_id=key_id, hashed_key_sha256=hashed)
    except psycopg.Error as exc:
        ctx.db.note_failure(exc)
        logger.warning("api key hash upgrade failed", extra={"error_class": type(exc).__name__})
