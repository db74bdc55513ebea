"""Communities with their scorer configuration and customization overlay (scoring contract §4.2, §5.2, §7.1)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg

from ...models import Community, ScorerConfig
from ..pending import Pending, run

# Columns of a community row joined to its scorer through account_community.scorer_id (never the community id).
# Whether a customization exists is all a community read needs: the overlay itself (a larger query, costly to plan
# on every request without prepared statements) is read inside the scoring run, only for customized communities.
COMMUNITY_COLUMNS = """
       c.id, c.scorer_id, c.human_points_program, s.type,
       COALESCE(b.weights, w.weights), COALESCE(b.threshold, w.threshold),
       (b.scorer_ptr_id IS NOT NULL OR w.scorer_ptr_id IS NOT NULL),
       EXISTS (SELECT 1 FROM account_customization cu WHERE cu.scorer_id = c.id)
"""
# The overlay lists allow lists first, then custom credentials, each by ascending id; numeric(7,4)::text equals
# Python's str(Decimal) for these values ("1.5000").
_OVERLAY = """
SELECT o.key, o.weight FROM (
    SELECT 'AllowList#' || l.name AS key, a.weight::text AS weight, 0 AS kind, a.id
      FROM account_customization cu
      JOIN account_allowlist a ON a.customization_id = cu.id
      JOIN account_addresslist l ON l.id = a.address_list_id
     WHERE cu.scorer_id = %(community_id)s
    UNION ALL
    SELECT r.provider_id, cc.weight::text, 1, cc.id
      FROM account_customization cu
      JOIN account_customcredential cc ON cc.customization_id = cu.id
      JOIN account_customcredentialruleset r ON r.id = cc.ruleset_id
     WHERE cu.scorer_id = %(community_id)s) o
 ORDER BY o.kind, o.id
"""
COMMUNITY_JOINS = """
  LEFT JOIN scorer_weighted_scorer s ON s.id = c.scorer_id
  LEFT JOIN scorer_weighted_binaryweightedscorer b ON s.type = 'WEIGHTED_BINARY' AND b.scorer_ptr_id = s.id
  LEFT JOIN scorer_weighted_weightedscorer w ON s.type = 'WEIGHTED' AND w.scorer_ptr_id = s.id
"""
COMMUNITY_WIDTH = 8

_BY_ID = f"SELECT {COMMUNITY_COLUMNS} FROM account_community c {COMMUNITY_JOINS} WHERE c.id = %(community_id)s"


def community_from_row(row: tuple[Any, ...]) -> Community | None:
    """Map the COMMUNITY_COLUMNS slice of a row; None when the community id column is NULL."""
    community_id, scorer_id, in_program, scorer_type, weights, threshold, has_typed_row, customized = row
    if community_id is None:
        return None
    return Community(
        id=community_id,
        scorer_id=scorer_id,
        human_points_program=bool(in_program),
        scorer=ScorerConfig(type=scorer_type, weights=weights,
                            threshold=Decimal(threshold) if threshold is not None else None,
                            has_typed_row=bool(has_typed_row)),
        has_customization=bool(customized),
    )


def get_community(conn: psycopg.Connection[Any], *, community_id: int) -> Pending[Community | None]:
    def parse(cursor: psycopg.Cursor[Any]) -> Community | None:
        row = cursor.fetchone()
        return None if row is None else community_from_row(row)

    return run(conn, _BY_ID, {"community_id": community_id}, parse)


def load_overlay(conn: psycopg.Connection[Any], *, community_id: int) -> Pending[tuple[tuple[str, str], ...]]:
    """The customization overlay as (key, weight string) in application order (§7.1)."""
    return run(conn, _OVERLAY, {"community_id": community_id},
               lambda cursor: tuple((str(key), str(weight)) for key, weight in cursor.fetchall()))
