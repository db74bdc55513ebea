"""Communities with their scorer configuration and customization overlay (scoring contract §4.2, §5.2, §7.1)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg

from ...models import Community, ScorerConfig
from ..pending import Executor, Pending, run


# The columns of a community row and its scorer configuration, read through account_community.scorer_id (never the
# community id). Scalar sub-selects rather than joins: without prepared statements every request plans its queries,
# and the planner settles these independent sub-selects in well under half the time it spends ordering the same
# tables as joins; each typed scorer row comes as one text array [weights, threshold] (one sub-select per table).
# Both typed rows are read; the one matching the scorer's type is used (below). Whether a customization exists is
# all a community read needs: the overlay itself is read inside the scoring run, only for customized communities.
def community_columns(community: str) -> str:
    """The COMMUNITY_WIDTH columns of ``community_from_row`` for the community row aliased ``community``."""
    return f"""
       {community}.id, {community}.scorer_id, {community}.human_points_program,
       (SELECT s.type FROM scorer_weighted_scorer s WHERE s.id = {community}.scorer_id),
       (SELECT ARRAY[b.weights::text, b.threshold::text] FROM scorer_weighted_binaryweightedscorer b
         WHERE b.scorer_ptr_id = {community}.scorer_id),
       (SELECT ARRAY[w.weights::text, w.threshold::text] FROM scorer_weighted_weightedscorer w
         WHERE w.scorer_ptr_id = {community}.scorer_id),
       EXISTS (SELECT 1 FROM account_customization cu WHERE cu.scorer_id = {community}.id)
"""


COMMUNITY_WIDTH = 7
_TYPED_ROW = {"WEIGHTED_BINARY": 0, "WEIGHTED": 1}  # which typed scorer table holds the scorer's configuration

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
_BY_ID = f"SELECT {community_columns('c')} FROM account_community c WHERE c.id = %(community_id)s"


def community_from_row(row: tuple[Any, ...]) -> Community | None:
    """Map the ``community_columns`` slice of a row; None when the community id column is NULL."""
    community_id, scorer_id, in_program, scorer_type, *typed_rows, customized = row
    if community_id is None:
        return None
    # Only the typed row of the scorer's own type counts (a row of the other type is ignored, as by a join on type).
    which = _TYPED_ROW.get(scorer_type)
    typed = None if which is None else typed_rows[which]
    has_typed_row = typed is not None
    weights_text, threshold = typed if typed is not None else (None, None)
    weights = None if weights_text is None else json.loads(weights_text)
    return Community(
        id=community_id,
        scorer_id=scorer_id,
        human_points_program=bool(in_program),
        scorer=ScorerConfig(type=scorer_type, weights=weights,
                            threshold=Decimal(threshold) if threshold is not None else None,
                            has_typed_row=bool(has_typed_row)),
        has_customization=bool(customized),
    )


def get_community(conn: Executor, *, community_id: int) -> Pending[Community | None]:
    def parse(cursor: psycopg.Cursor[Any]) -> Community | None:
        row = cursor.fetchone()
        return None if row is None else community_from_row(row)

    return run(conn, _BY_ID, {"community_id": community_id}, parse)


def load_overlay(conn: Executor, *, community_id: int) -> Pending[tuple[tuple[str, str], ...]]:
    """The customization overlay as (key, weight string) in application order (§7.1)."""
    return run(conn, _OVERLAY, {"community_id": community_id},
               lambda cursor: tuple((str(key), str(weight)) for key, weight in cursor.fetchall()))
