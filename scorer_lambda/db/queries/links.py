"""Nullifier ownership rows, ``registry_hashscorerlink`` (scoring contract §6.3, §6.4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ...domain.dedup import LinkWrite
from ...models import Link
from ..pending import Executor, Pending, first_column, nothing, run, scalar

# One advisory lock per (community, nullifier), taken in ascending key order: requests that share a nullifier
# run one after the other (serial outcomes, §6.4), the others in parallel, and sorted acquisition cannot deadlock.
_LOCK = """
SELECT pg_advisory_xact_lock(k) FROM (
    SELECT DISTINCT hashtextextended(%(community_id)s::text || ':' || h, 0) AS k FROM unnest(%(hashes)s::text[]) AS h
) locks ORDER BY k
"""
_INSERT = """
INSERT INTO registry_hashscorerlink (hash, address, community_id, expires_at)
SELECT t.hash, t.address, %(community_id)s, t.expires_at
  FROM unnest(%(hashes)s::text[], %(addresses)s::text[], %(expires)s::timestamptz[]) AS t(hash, address, expires_at)
 ORDER BY t.hash
    ON CONFLICT (hash, community_id) DO NOTHING
"""
# Conditional: a row reclaimed by someone else since it was read is not overwritten (0 rows -> retry).
_UPDATE = """
UPDATE registry_hashscorerlink l SET address = %(address)s, expires_at = t.expires_at
  FROM unnest(%(ids)s::bigint[], %(expires)s::timestamptz[]) AS t(id, expires_at)
 WHERE l.id = t.id AND (l.address = %(address)s OR l.expires_at <= %(now)s)
RETURNING l.id
"""


def lock_nullifiers(conn: Executor, *, community_id: int, hashes: Sequence[str]) -> Pending[None]:
    return run(conn, _LOCK, {"community_id": community_id, "hashes": list(hashes)}, nothing)


def load_links(conn: Executor, *, community_id: int, hashes: Sequence[str]) -> Pending[list[Link]]:
    return run(conn, "SELECT id, hash, address, expires_at FROM registry_hashscorerlink"
               " WHERE community_id = %(community_id)s AND hash = ANY(%(hashes)s::text[])",
               {"community_id": community_id, "hashes": list(hashes)},
               lambda cursor: [Link(*row) for row in cursor.fetchall()])


def insert_links(conn: Executor, *, community_id: int,
                 links: Sequence[LinkWrite]) -> Pending[list[str]]:
    """Insert in hash order; returns the hashes actually inserted (a conflict means someone else won)."""
    params = {"community_id": community_id, "hashes": [w.hash for w in links],
              "addresses": [w.address for w in links], "expires": [w.expires_at for w in links]}
    return run(conn, _INSERT + " RETURNING hash", params, first_column)


def update_links(conn: Executor, *, address: str, now: datetime,
                 links: Sequence[LinkWrite]) -> Pending[list[int]]:
    params = {"address": address, "now": now, "ids": [w.link_id for w in links],
              "expires": [w.expires_at for w in links]}
    return run(conn, _UPDATE, params, first_column)


def count_owned(conn: Executor, *, address: str, community_id: int,
                hashes: Sequence[str]) -> Pending[int]:
    """The self-check of §6.4: how many of these hashes the address owns now."""
    return run(conn, "SELECT count(*) FROM registry_hashscorerlink WHERE address = %(address)s"
               " AND community_id = %(community_id)s AND hash = ANY(%(hashes)s::text[])",
               {"address": address, "community_id": community_id, "hashes": list(hashes)}, scalar)
