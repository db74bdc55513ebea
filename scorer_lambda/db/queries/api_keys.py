"""Partner API keys, looked up by prefix together with the community they may read (§4.1, §4.2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from ...models import Community
from ..pending import Executor, Pending, nothing, run
from .communities import COMMUNITY_WIDTH, community_columns, community_from_row


@dataclass(frozen=True)
class ApiKeyRow:
    id: str
    hashed_key: str
    hashed_key_sha256: str | None
    account_id: int
    rate_limit: str | None
    embed_rate_limit: str | None


_KEY_COLUMNS = "k.id, k.hashed_key, k.hashed_key_sha256, k.account_id, k.rate_limit, k.embed_rate_limit"
_LIVE_KEY = "k.prefix = %(prefix)s AND NOT k.revoked AND (k.expiry_date IS NULL OR k.expiry_date > %(now)s)"

# A matching external_scorer_id wins over a matching id; both only within the key's account.
_KEY_WITH_COMMUNITY = f"""
SELECT {_KEY_COLUMNS}, {community_columns("sc")}
  FROM account_accountapikey k
  LEFT JOIN LATERAL (
       SELECT c.id, c.scorer_id, c.human_points_program
         FROM account_community c
        WHERE c.account_id = k.account_id
          AND (c.external_scorer_id = %(external_id)s OR c.id = %(community_id)s)
        ORDER BY CASE WHEN c.external_scorer_id = %(external_id)s THEN 0 ELSE 1 END
        LIMIT 1) sc ON TRUE
 WHERE {_LIVE_KEY}
"""
_KEY_ONLY = f"SELECT {_KEY_COLUMNS} FROM account_accountapikey k WHERE {_LIVE_KEY}"


def _key_from_row(row: tuple[Any, ...]) -> ApiKeyRow:
    return ApiKeyRow(*row[:6])


def get_api_key(conn: Executor, *, prefix: str, now: datetime) -> Pending[ApiKeyRow | None]:
    def parse(cursor: psycopg.Cursor[Any]) -> ApiKeyRow | None:
        row = cursor.fetchone()
        return None if row is None else _key_from_row(row)

    return run(conn, _KEY_ONLY, {"prefix": prefix, "now": now}, parse)


def get_api_key_with_community(
    conn: Executor, *, prefix: str, now: datetime, external_id: str | None, community_id: int | None
) -> Pending[tuple[ApiKeyRow, Community | None] | None]:
    def parse(cursor: psycopg.Cursor[Any]) -> tuple[ApiKeyRow, Community | None] | None:
        row = cursor.fetchone()
        if row is None:
            return None
        return _key_from_row(row), community_from_row(row[6 : 6 + COMMUNITY_WIDTH])

    params = {"prefix": prefix, "now": now, "external_id": external_id, "community_id": community_id}
    return run(conn, _KEY_WITH_COMMUNITY, params, parse)


def update_key_sha256(conn: Executor, *, key_id: str, hashed_key_sha256: str) -> Pending[None]:
    return run(conn, "UPDATE account_accountapikey SET hashed_key_sha256 = %(h)s WHERE id = %(id)s",
               {"h": hashed_key_sha256, "id": key_id}, nothing)
