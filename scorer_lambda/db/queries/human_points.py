"""Human points rows written by a passing scoring run and read by E6 (scoring contract §8)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..pending import Executor, Pending, nothing, run, scalar

_INSERT = ("INSERT INTO registry_humanpoints (address, action, timestamp, tx_hash, chain_id, provider)")
_ON_CONFLICT = " ON CONFLICT ON CONSTRAINT unique_human_points_constraint DO NOTHING"


def insert_qualified_community(conn: Executor, *, address: str, community_id: int) -> Pending[None]:
    return run(conn, "INSERT INTO registry_humanpointscommunityqualifiedusers (address, community_id)"
               " VALUES (%(address)s::varchar, %(community_id)s) ON CONFLICT (address, community_id) DO NOTHING",
               {"address": address, "community_id": community_id}, nothing)


def insert_stamp_actions(conn: Executor, *, address: str, now: datetime,
                         human_keys: Sequence[tuple[str, str]], actions: Sequence[str]) -> Pending[None]:
    """HKY rows (only for providers without one yet) and provider actions, in one statement."""
    rows = [("HKY", tx_hash, provider) for provider, tx_hash in human_keys] + [(a, "", "") for a in actions]
    return run(conn, _INSERT + """
        SELECT %(address)s::varchar, t.action, %(now)s::timestamptz, t.tx_hash, 0, t.provider
          FROM unnest(%(actions)s::text[], %(tx_hashes)s::text[], %(providers)s::text[]) WITH ORDINALITY
               AS t(action, tx_hash, provider, n)
         WHERE t.action <> 'HKY' OR NOT EXISTS (
               SELECT 1 FROM registry_humanpoints h
                WHERE h.address = %(address)s::varchar AND h.action = 'HKY' AND h.provider = t.provider)
         ORDER BY t.n""" + _ON_CONFLICT,
        {"address": address, "now": now, "actions": [r[0] for r in rows], "tx_hashes": [r[1] for r in rows],
         "providers": [r[2] for r in rows]}, nothing)


def insert_scoring_bonus(conn: Executor, *, address: str, now: datetime,
                         min_communities: int) -> Pending[None]:
    return run(conn, _INSERT + """
        SELECT %(address)s::varchar, 'SCB', %(now)s::timestamptz, '', 0, ''
         WHERE (SELECT count(*) FROM registry_humanpointscommunityqualifiedusers q
                 WHERE q.address = %(address)s::varchar) >= %(min)s
           AND NOT EXISTS (SELECT 1 FROM registry_humanpoints h
                            WHERE h.address = %(address)s::varchar AND h.action = 'SCB')"""
        + _ON_CONFLICT, {"address": address, "now": now, "min": min_communities}, nothing)


def insert_list_awards(conn: Executor, *, address: str, now: datetime,
                       awards: Sequence[tuple[str, str, int | None]]) -> Pending[None]:
    """Awards for address-list members: (list name, action, cap on all rows of that action or None)."""
    return run(conn, _INSERT + """
        SELECT %(address)s::varchar, t.action, %(now)s::timestamptz, '', 0, ''
          FROM unnest(%(lists)s::text[], %(actions)s::text[], %(caps)s::int[]) AS t(list_name, action, cap)
         WHERE EXISTS (SELECT 1 FROM account_addresslist l JOIN account_addresslistmember m ON m.list_id = l.id
                        WHERE l.name = t.list_name AND m.address = %(address)s::varchar)
           AND NOT EXISTS (SELECT 1 FROM registry_humanpoints h
                            WHERE h.address = %(address)s::varchar AND h.action = t.action)
           AND (t.cap IS NULL OR (SELECT count(*) FROM registry_humanpoints h WHERE h.action = t.action) < t.cap)"""
        + _ON_CONFLICT,
        {"address": address, "now": now, "lists": [a[0] for a in awards], "actions": [a[1] for a in awards],
         "caps": [a[2] for a in awards]}, nothing)


def load_points(conn: Executor, *, address: str) -> Pending[list[tuple[str, int, int, int]]]:
    return run(conn, """
        SELECT hp.action, hp.chain_id, SUM(hpc.points)::bigint, MAX(COALESCE(hpm.multiplier, 1))
          FROM registry_humanpoints hp
          JOIN registry_humanpointsconfig hpc ON hpc.action = hp.action AND hpc.active = true
          LEFT JOIN registry_humanpointsmultiplier hpm ON hpm.address = hp.address
         WHERE hp.address = %(address)s::varchar AND hp.action <> 'HIM'
         GROUP BY hp.address, hp.action, hp.chain_id""",
        {"address": address}, lambda cursor: [tuple(row) for row in cursor.fetchall()])


def exists_qualified(conn: Executor, *, address: str) -> Pending[bool]:
    return run(conn, "SELECT EXISTS (SELECT 1 FROM registry_humanpointscommunityqualifiedusers"
               " WHERE address = %(address)s::varchar)", {"address": address}, lambda cursor: bool(scalar(cursor)))


def load_active_config(conn: Executor) -> Pending[list[tuple[str, int]]]:
    return run(conn, "SELECT action, points FROM registry_humanpointsconfig WHERE active = true ORDER BY id", None,
               lambda cursor: [tuple(row) for row in cursor.fetchall()])
