"""Which cache rows a scoring run scored, re-checked under the passport lock (production contract P5)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg

from ...models import CacheRow
from ..pending import Executor, Pending, run

Snapshot = tuple[tuple[int, datetime], ...]

# The live, non-revoked rows of an address as (id, updated_at) pairs, in id order; compared inside the statement that
# depends on it, so the check and the write see the same committed state.
SNAPSHOT_MATCHES = """
(SELECT coalesce(array_agg(c.id ORDER BY c.id), '{}') = %(snapshot_ids)s::bigint[]
        AND coalesce(array_agg(c.updated_at ORDER BY c.id), '{}') = %(snapshot_updated)s::timestamptz[]
   FROM ceramic_cache_ceramiccache c
  WHERE c.address = %(address)s AND c.deleted_at IS NULL
    AND NOT EXISTS (SELECT 1 FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id))
"""


# As the candidate rows are read (stamp_cache): revoked rows are dropped here, and the pairs sorted as snapshot() does.
_CURRENT = """
SELECT c.id, c.updated_at, (SELECT true FROM ceramic_cache_revocation r WHERE r.ceramic_cache_id = c.id)
  FROM ceramic_cache_ceramiccache c
 WHERE c.address = %(address)s AND c.deleted_at IS NULL
"""


def snapshot(rows: Sequence[CacheRow]) -> Snapshot:
    return tuple(sorted((row.id, row.updated_at) for row in rows))


def load_snapshot(conn: Executor, *, address: str) -> Pending[Snapshot]:
    """The identity of the live rows only (no stamp bodies): cheap enough to read on every run."""
    return run(conn, _CURRENT, {"address": address}, _live_pairs)


def _live_pairs(cursor: psycopg.Cursor[Any]) -> Snapshot:
    return tuple(sorted((row_id, updated_at) for row_id, updated_at, revoked in cursor.fetchall() if not revoked))


def snapshot_params(rows: Sequence[CacheRow]) -> dict[str, Any]:
    pairs = snapshot(rows)
    return {"snapshot_ids": [pair[0] for pair in pairs], "snapshot_updated": [pair[1] for pair in pairs]}
