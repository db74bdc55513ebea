"""E2–E8 — the ceramic-cache routes used by the Passport app (scoring contract §9.2–§9.8)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg

from ..auth.jwt import JwtPrincipal, authenticate
from ..cache_writes import CacheWrite, write_cache
from ..context import AppContext
from ..db.pending import Batch
from ..db.queries import communities, human_points, scores, stamp_cache
from ..domain import human_points as points_domain
from ..domain.addresses import lenient_address
from ..domain.score_object import score_object
from ..domain.stamp_items import (
    BulkItem,
    TooManyStamps,
    check_count,
    new_stamps_for_patch,
    new_stamps_for_post,
    parse_bulk_items,
    parse_int,
)
from ..errors import (
    BAD_REQUEST,
    COMMUNITY_MISCONFIGURED,
    GENERIC_ERROR,
    INVALID_ADDRESS,
    NO_STAMP_TO_DELETE,
    SCORER_ID_NOT_SET,
    TOO_MANY_STAMPS,
    UNABLE_TO_GET_SCORE,
    ApiError,
    DatabaseFailure,
)
from ..models import CachedStamp, Community
from ..request import AlbRequest
from ..response import Response
from . import common

T = TypeVar("T")
SOURCE_APP_PASSPORT = 1
WEIGHTS_CACHE_SECONDS = 60.0
_weights_cache: dict[int, tuple[float, Any]] = {}


# --- E2, E3, E4: bulk stamp writes --------------------------------------------------------------------------------

def add_stamps(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    principal, items = _bulk_request(ctx, request)
    stamps = common.client_error(lambda: new_stamps_for_post(items))
    address, community = _write_target(ctx, principal)
    change = CacheWrite(address, [s.provider for s in stamps], stamps, delete_type_1_only=True,
                        source_app=SOURCE_APP_PASSPORT)
    return _write_and_score(ctx, change, community, status=201)


def patch_stamps(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    principal, items = _bulk_request(ctx, request)
    stamps = common.client_error(lambda: new_stamps_for_patch(items))
    address, community = _write_target(ctx, principal)
    change = CacheWrite(address, [item.provider for item in items], stamps, delete_type_1_only=False)
    return _write_and_score(ctx, change, community, status=200)


def delete_stamps(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    principal, items = _bulk_request(ctx, request)
    address, community = _write_target(ctx, principal)
    change = CacheWrite(address, [item.provider for item in items], (), delete_type_1_only=False)
    now = ctx.clock()
    state = write_cache(ctx.db.connection(), change, now=now, type_1_list=False)
    if not state.deleted_ids:  # nothing matched: nothing was changed, and nothing is scored
        raise ApiError(404, NO_STAMP_TO_DELETE)
    score = common.score(ctx, community, address, state.rows, now)
    return Response(200, {"success": True, "stamps": common.stamps_json(state.stamp_list), "score": score})


def _bulk_request(ctx: AppContext, request: AlbRequest) -> tuple[JwtPrincipal, list[BulkItem]]:
    """Checks 1–3 of §9.2: token, body shape, item count."""
    principal = authenticate(request, ctx.settings)
    items = common.client_error(lambda: parse_bulk_items(request.json_body))
    try:
        check_count(items, ctx.settings.max_bulk_cache_size)
    except TooManyStamps:
        raise ApiError(422, TOO_MANY_STAMPS) from None
    return principal, items


def _write_target(ctx: AppContext, principal: JwtPrincipal) -> tuple[str, Community]:
    """Checks 5–6 of §9.2: the token's address, then the scoring community and its scorer."""
    address = _valid_address(principal)
    return address, _require_scorer(_scoring_community(ctx, None))


def _write_and_score(ctx: AppContext, change: CacheWrite, community: Community, *, status: int) -> Response:
    now = ctx.clock()
    state = write_cache(ctx.db.connection(), change, now=now)
    score = common.score(ctx, community, change.address, state.rows, now)
    return Response(status, {"success": True, "stamps": common.stamps_json(state.stamp_list), "score": score})


# --- E5, E6: scores -----------------------------------------------------------------------------------------------

def rescore(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E5: the token's address is scored; the path address is ignored."""
    principal = authenticate(request, ctx.settings)
    body = common.client_error(lambda: request.json_body)
    if not isinstance(body, dict):
        raise ApiError(400, GENERIC_ERROR)
    alternate = body.get("alternate_scorer_id")
    alternate_id = parse_int(alternate) if alternate is not None else None
    if alternate is not None and alternate_id is None:
        raise ApiError(400, GENERIC_ERROR)
    community_id = _scoring_community_id(ctx, alternate_id or None)
    address = lenient_address(principal.address)
    # One round trip for the community and, when the address is valid, its cache rows; errors keep §9.5's order.
    found, rows = common.load_community_and_rows(ctx, community_id, address)
    community = _existing(found)
    if address is None:
        raise ApiError(400, INVALID_ADDRESS)
    _require_scorer(community)
    return Response(200, common.score(ctx, community, address, rows, ctx.clock()))


def get_score(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E6: the stored score unless missing or expired; points on the stored path when enabled (§9.6)."""
    settings = ctx.settings
    principal = authenticate(request, settings)
    address = _valid_address(principal)
    raw_id = request.query.get("alternate_scorer_id") or settings.ceramic_cache_scorer_id
    community_id = parse_int(raw_id)
    if community_id is None:
        raise ApiError(400, UNABLE_TO_GET_SCORE)
    want_points = settings.human_points_enabled

    def read(conn: psycopg.Connection[Any]) -> tuple[Community | None, scores.ScoreRow | None, Any]:
        with Batch(conn) as batch:
            community = communities.get_community(batch, community_id=community_id)
            stored = scores.get_score(batch, address=address, community_id=community_id)
            points = (human_points.load_points(batch, address=address), human_points.exists_qualified(
                batch, address=address), human_points.load_active_config(batch)) if want_points else None
        return community.result(), stored.result(), tuple(p.result() for p in points) if points else None

    community, stored, points = ctx.db.first_read(read)
    if community is None:
        raise ApiError(404, COMMUNITY_MISCONFIGURED)
    if not community.scorer.is_valid:
        raise ApiError(400, UNABLE_TO_GET_SCORE)
    now = ctx.clock()
    if stored is None or (stored.expiration_date is not None and stored.expiration_date < now):
        try:
            rows = common.load_rows(ctx, address)
            return Response(200, common.score(ctx, community, address, rows, now))
        except (DatabaseFailure, psycopg.Error) as exc:
            ctx.db.note_failure(exc)
            raise ApiError(400, UNABLE_TO_GET_SCORE) from None
    return Response(200, _stored_score(address, stored, points if community.human_points_program else None))


def _stored_score(address: str, stored: scores.ScoreRow, points: Any) -> dict[str, Any]:
    points_data = possible = None
    if points is not None:
        rows, is_eligible, config = points
        points_data = points_domain.points_data(rows, is_eligible=is_eligible)
        possible = points_domain.possible_points_data(config, multiplier=points_data["multiplier"])
    return score_object(address=address, evidence=stored.evidence,
                        last_score_timestamp=_utc(stored.last_score_timestamp), expiration=_utc(stored.expiration_date),
                        error=stored.error, stamps=stored.stamps, points_data=points_data,
                        possible_points_data=possible)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


# --- E7, E8: weights and the stamp list ---------------------------------------------------------------------------

def get_weights(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E7: the scorer's weights exactly as stored, cached in-process for up to 60 s."""
    raw = ctx.settings.ceramic_cache_scorer_id
    failure = ApiError(500, f"Unable to retrieve configured scorer! settings.CERAMIC_CACHE_SCORER_ID={raw}")
    community_id = parse_int(raw)
    if community_id is None:
        raise failure
    cached = _weights_cache.get(community_id)
    if cached is not None and time.monotonic() - cached[0] < WEIGHTS_CACHE_SECONDS:
        return Response(200, cached[1])
    try:
        community = common.load_community(ctx, community_id)
    except (DatabaseFailure, psycopg.Error) as exc:
        ctx.db.note_failure(exc)
        raise failure from None
    if community is None or not community.scorer.is_valid:
        raise failure
    _weights_cache[community_id] = (time.monotonic(), community.scorer.weights)
    return Response(200, community.scorer.weights)


def get_stamps(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E8: the type-1 stamp list; scores the address first when it has no score in the scoring community."""
    raw_address = request.query.get("address")
    if raw_address is None:
        raise ApiError(400, BAD_REQUEST)
    address = raw_address.lower()
    raw_id = ctx.settings.ceramic_cache_scorer_id
    community_id = parse_int(raw_id) if raw_id else None
    if raw_id and community_id is None:
        raise ApiError(400, GENERIC_ERROR)

    def read(conn: psycopg.Connection[Any]) -> tuple[list[CachedStamp], bool]:
        with Batch(conn) as batch:
            listed = stamp_cache.load_stamp_list(batch, address=address)
            scored = (scores.exists_score(batch, address=address, community_id=community_id)
                      if community_id is not None else None)
        return listed.result(), scored.result() if scored else True

    listed, has_score = ctx.db.first_read(read)
    if not has_score and community_id is not None:  # scored exactly as E5 would; the result is discarded
        community = _scoring_community(ctx, community_id)
        if lenient_address(address) != address:
            raise ApiError(400, INVALID_ADDRESS)
        _require_scorer(community)
        rows = common.load_rows(ctx, address)
        common.score(ctx, community, address, rows, ctx.clock())
    return Response(200, {"success": True, "stamps": common.stamps_json(listed)})


# --- helpers ------------------------------------------------------------------------------------------------------

def _scoring_community_id(ctx: AppContext, community_id: int | None) -> int:
    """The target community id of E2–E5/E8: an explicit id, else ``CERAMIC_CACHE_SCORER_ID``."""
    if community_id is not None:
        return community_id
    raw = ctx.settings.ceramic_cache_scorer_id
    if raw == "":
        raise ApiError(500, SCORER_ID_NOT_SET)
    parsed = parse_int(raw)
    if parsed is None:
        raise ApiError(400, GENERIC_ERROR)
    return parsed


def _scoring_community(ctx: AppContext, community_id: int | None) -> Community:
    """The target community of E2–E5/E8; it must exist."""
    return _existing(common.load_community(ctx, _scoring_community_id(ctx, community_id)))


def _existing(community: Community | None) -> Community:
    if community is None:
        raise ApiError(400, GENERIC_ERROR)
    return community


def _require_scorer(community: Community) -> Community:
    """A misconfigured scorer fails before anything is written (§5.2)."""
    if not community.scorer.is_valid:
        raise ApiError(400, GENERIC_ERROR)
    return community


def _valid_address(principal: JwtPrincipal) -> str:
    address = lenient_address(principal.address)
    if address is None:
        raise ApiError(400, INVALID_ADDRESS)
    return address
