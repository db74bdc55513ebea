"""E9–E11 — the internal embed routes behind the VPC load balancer (scoring contract §9.9–§9.11)."""

from __future__ import annotations

from typing import Any, TypeVar

import psycopg

from ..auth.api_keys import check_key, key_prefix, read_api_key
from ..cache_writes import CacheWrite, write_cache
from ..context import AppContext
from ..db.pending import Batch
from ..db.queries import api_keys, communities, stamp_cache
from ..domain.addresses import lenient_address, strict_address
from ..domain.stamp_items import (
    TooManyStamps,
    check_count,
    embed_providers,
    new_stamps_for_embed,
    parse_embed_body,
    parse_int,
)
from ..errors import (
    COMMUNITY_QUERY_MISSING,
    GENERIC_ERROR,
    INVALID_ADDRESS,
    INVALID_API_KEY,
    INVALID_SCORER_ID,
    MISSING_API_KEY,
    TOO_MANY_STAMPS,
    ApiError,
)
from ..models import CachedStamp, CacheRow, Community
from ..request import AlbRequest
from ..response import JSON_ONLY_HEADERS, Response
from . import common

T = TypeVar("T")
SOURCE_APP_EMBED = 2


def add_stamps(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E9: validate everything, write the stamps, re-score in ``scorer_id`` (no ownership check)."""
    scorer_id, stamps = common.client_error(lambda: parse_embed_body(request.json_body))
    if scorer_id < 0:
        scorer_id = parse_int(ctx.settings.demo_api_scorer_id)
    address = strict_address(params["address"])
    if address is None:
        raise ApiError(400, INVALID_ADDRESS)
    providers = common.client_error(lambda: embed_providers(stamps))
    try:
        check_count(stamps, ctx.settings.max_bulk_cache_size)
    except TooManyStamps:
        raise ApiError(422, TOO_MANY_STAMPS) from None
    new = common.client_error(lambda: new_stamps_for_embed(stamps, providers))
    community = common.load_community(ctx, scorer_id) if scorer_id is not None else None
    if community is None:
        raise ApiError(400, COMMUNITY_QUERY_MISSING)
    if not community.scorer.is_valid:
        raise ApiError(400, GENERIC_ERROR)

    now = ctx.clock()
    change = CacheWrite(address, providers, new, delete_type_1_only=True, source_app=SOURCE_APP_EMBED,
                        source_scorer_id=scorer_id)
    state = write_cache(ctx.db.connection(), change, now=now)
    score = common.score(ctx, community, address, state.rows, now)
    return Response(200, {"success": True, "stamps": common.stamps_json(state.stamp_list), "score": score},
                    dict(JSON_ONLY_HEADERS))


def validate_api_key(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E10: the key's embed rate limit; no analytics, no rate limiting."""
    key = read_api_key(request, ctx.settings)
    if key is None:
        raise ApiError(400, MISSING_API_KEY)
    now = ctx.clock()

    def read(conn: psycopg.Connection[Any]) -> api_keys.ApiKeyRow | None:
        return api_keys.get_api_key(conn, prefix=key_prefix(key), now=now).result()

    row = ctx.db.first_read(read)
    check = check_key(key, row) if row is not None else None
    if row is None or check is None or not check.is_valid:
        raise ApiError(401, INVALID_API_KEY)
    if check.upgrade_sha256:
        common.upgrade_key_hash(ctx, row.id, check.upgrade_sha256)
    return Response(200, {"embed_rate_limit": row.embed_rate_limit}, dict(JSON_ONLY_HEADERS))


def get_score(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
    """E11: score ``address`` in community ``scorer_id`` and return it with the type-1 stamp list."""
    raw = params["scorer_id"]
    try:
        community_id: int | None = int(raw)
    except ValueError:
        raise ApiError(400, f"Field 'id' expected a number but got '{raw}'.") from None
    if community_id is not None and community_id < 0:
        community_id = parse_int(ctx.settings.demo_api_scorer_id)
    address = lenient_address(params["address"])

    def read(conn: psycopg.Connection[Any]) -> tuple[Community | None, list[CacheRow], list[CachedStamp]]:
        with Batch(conn) as batch:
            community = communities.get_community(batch, community_id=community_id)
            rows = stamp_cache.load_cache_rows(batch, address=address) if address else None
            listed = stamp_cache.load_stamp_list(batch, address=address) if address else None
        return community.result(), rows.result() if rows else [], listed.result() if listed else []

    if community_id is None:
        raise ApiError(400, INVALID_SCORER_ID)
    community, rows, listed = ctx.db.first_read(read)
    if community is None:
        raise ApiError(400, INVALID_SCORER_ID)
    if address is None:
        raise ApiError(400, INVALID_ADDRESS)
    if not community.scorer.is_valid:
        raise ApiError(400, GENERIC_ERROR)
    score = common.score(ctx, community, address, rows, ctx.clock())
    return Response(200, {"success": True, "stamps": common.stamps_json(listed), "score": score},
                    dict(JSON_ONLY_HEADERS))
