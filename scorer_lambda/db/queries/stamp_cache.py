"""The stamp cache, ``ceramic_cache_ceramiccache``: reads of a scoring run and the bulk writes (§5.3, §9)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ...domain.stamp_items import NewStamp
from ...models import CachedStamp, CacheRow
from ..pending import Executor, Pending, first_column, nothing, run

_LIVE_NOT_REVOKED = """
 c.address = %(address)s AND c.deleted_at IS NULL
 AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
"""
# Revoked rows are dropped here rather than by an anti-join: the scalar sub-select costs the planner and executor
# less on every request (nothing is prepared), and revocations are rare.
_CANDIDATE_ROWS = """
SELECT c.id, c.provider, c.stamp::text, c.updated_at,
       (SELECT true FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
  FROM ceramic_cache_ceramiccache c WHERE c.address = %(address)s AND c.deleted_at IS NULL
"""
_STAMP_LIST = f"""
SELECT c.id, c.address, c.provider, c.stamp FROM ceramic_cache_ceramiccache c
 WHERE {_LIVE_NOT_REVOKED} AND (%(type)s::int IS NULL OR c.type = %(type)s::int)
 ORDER BY c.id
"""


def load_cache_rows(conn: Executor, *, address: str) -> Pending[list[CacheRow]]:
    """Live, non-revoked rows of every type (A2 of the scoring run)."""
    return run(conn, _CANDIDATE_ROWS, {"address": address}, _cache_rows)


def _cache_rows(cursor: psycopg.Cursor[Any]) -> list[CacheRow]:
    # The stamp comes as text and is parsed here, so its canonical text is kept for the signature memo.
    return [CacheRow(row_id, provider, json.loads(text), updated_at, text)
            for row_id, provider, text, updated_at, revoked in cursor.fetchall() if not revoked]


def load_stamp_list(conn: Executor, *, address: str,
                    type_1_only: bool = True) -> Pending[list[CachedStamp]]:
    """The stamp list of an address, ``id`` ascending; the type-1 list unless told otherwise."""
    return run(conn, _STAMP_LIST, {"address": address, "type": 1 if type_1_only else None},
               lambda cursor: [CachedStamp(*row) for row in cursor.fetchall()])


# --- writes (the cache write transaction of §9) -------------------------------------------------------------------

_INSERT = """
INSERT INTO ceramic_cache_ceramiccache
       (type, address, provider, stamp, proof_value, created_at, updated_at, deleted_at, compose_db_save_status,
        compose_db_stream_id, issuance_date, expiration_date, source_app, source_scorer_id)
SELECT 1, %(address)s, t.item ->> 'provider', t.item -> 'stamp', t.item ->> 'proof_value', %(now)s, %(now)s, NULL,
       'pending', '', (t.item ->> 'issuance_date')::timestamptz, (t.item ->> 'expiration_date')::timestamptz,
       %(source_app)s, %(source_scorer_id)s
  FROM jsonb_array_elements(%(items)s) WITH ORDINALITY AS t(item, n)
 ORDER BY t.n
"""


def lock_address(conn: Executor, *, address: str) -> Pending[None]:
    """Serialise concurrent cache writes for one address (its own advisory key space)."""
    return run(conn, "SELECT pg_advisory_xact_lock(hashtext('ceramic_cache'), hashtext(%(address)s))",
               {"address": address}, nothing)


def soft_delete_stamps(conn: Executor, *, address: str, providers: Sequence[str], now: datetime,
                       type_1_only: bool) -> Pending[list[int]]:
    """Mark the live rows of these providers deleted; returns their ids."""
    return run(conn, """
        UPDATE ceramic_cache_ceramiccache SET updated_at = %(now)s, deleted_at = %(now)s
         WHERE address = %(address)s AND provider = ANY(%(providers)s::text[]) AND deleted_at IS NULL
           AND (NOT %(type_1_only)s OR type = 1)
        RETURNING id""",
        {"now": now, "address": address, "providers": list(providers), "type_1_only": type_1_only}, first_column)


def insert_stamps(conn: Executor, *, address: str, stamps: Sequence[NewStamp], now: datetime,
                  source_app: int | None, source_scorer_id: int | None) -> Pending[None]:
    """One row per stamp, all NOT NULL columns supplied (no column has a database default)."""
    items = [{"provider": s.provider, "stamp": s.stamp, "proof_value": s.proof_value,
              "issuance_date": _utc_text(s.issuance_date), "expiration_date": _utc_text(s.expiration_date)}
             for s in stamps]
    return run(conn, _INSERT, {"address": address, "now": now, "items": Jsonb(items), "source_app": source_app,
                               "source_scorer_id": source_scorer_id}, nothing)


def _utc_text(value: datetime | None) -> str | None:
    """The same instant in UTC: offsets Python accepts (``+05:30:15``, ``+05:00:00.5``) PostgreSQL cannot parse."""
    return value.astimezone(UTC).isoformat() if value is not None else None
