"""Reads of the stamp cache, ``ceramic_cache_ceramiccache`` (scoring contract §5.3, §9)."""

from __future__ import annotations

from typing import Any

import psycopg

from ...models import CachedStamp, CacheRow
from ..pending import Pending, run

_LIVE_NOT_REVOKED = """
 c.address = %(address)s AND c.deleted_at IS NULL
 AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
"""
_CANDIDATE_ROWS = f"""
SELECT c.id, c.provider, c.stamp, c.updated_at FROM ceramic_cache_ceramiccache c WHERE {_LIVE_NOT_REVOKED}
"""
_STAMP_LIST = f"""
SELECT c.id, c.address, c.provider, c.stamp FROM ceramic_cache_ceramiccache c
 WHERE {_LIVE_NOT_REVOKED} AND (%(type)s::int IS NULL OR c.type = %(type)s::int)
 ORDER BY c.id
"""


def load_cache_rows(conn: psycopg.Connection[Any], *, address: str) -> Pending[list[CacheRow]]:
    """Live, non-revoked rows of every type (A2 of the scoring run)."""
    return run(conn, _CANDIDATE_ROWS, {"address": address},
               lambda cursor: [CacheRow(*row) for row in cursor.fetchall()])


def load_stamp_list(conn: psycopg.Connection[Any], *, address: str,
                    type_1_only: bool = True) -> Pending[list[CachedStamp]]:
    """The stamp list of an address, ``id`` ascending; the type-1 list unless told otherwise."""
    return run(conn, _STAMP_LIST, {"address": address, "type": 1 if type_1_only else None},
               lambda cursor: [CachedStamp(*row) for row in cursor.fetchall()])
