"""Passport and score rows of a scoring run (scoring contract §5.5–§5.7, §9.6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ...models import CacheRow
from ..pending import Executor, Pending, nothing, run, scalar
from .cache_snapshot import SNAPSHOT_MATCHES, snapshot_params

_PASSPORT = "SELECT id FROM registry_passport WHERE address = %(address)s AND community_id = %(community_id)s"


@dataclass(frozen=True)
class ScoreRow:
    id: int
    passport_id: int
    score: Decimal | None
    status: str | None
    error: str | None
    last_score_timestamp: datetime | None
    evidence: Any
    stamp_scores: Any
    stamps: Any
    expiration_date: datetime | None


_SCORE_COLUMNS = ("s.id, s.passport_id, s.score, s.status, s.error, s.last_score_timestamp, s.evidence, "
                  "s.stamp_scores, s.stamps, s.expiration_date")


def insert_passport(conn: Executor, *, address: str, community_id: int) -> Pending[None]:
    return run(conn, "INSERT INTO registry_passport (address, community_id) VALUES (%(address)s, %(community_id)s)"
               " ON CONFLICT (address, community_id) DO NOTHING",
               {"address": address, "community_id": community_id}, nothing)


def lock_passport(conn: Executor, *, address: str, community_id: int) -> Pending[int]:
    """The row lock serialises concurrent scoring runs of one (address, community)."""
    return run(conn, _PASSPORT + " FOR UPDATE", {"address": address, "community_id": community_id}, scalar)


def insert_score(conn: Executor, *, address: str, community_id: int) -> Pending[None]:
    """Create the PROCESSING row if the passport has none; every other column stays NULL."""
    return run(conn, f"INSERT INTO registry_score (passport_id, status) SELECT id, 'PROCESSING' FROM ({_PASSPORT}) p"
               " ON CONFLICT (passport_id) DO NOTHING",
               {"address": address, "community_id": community_id}, nothing)


def get_score_id(conn: Executor, *, address: str, community_id: int) -> Pending[int]:
    return run(conn, f"SELECT s.id FROM registry_score s WHERE s.passport_id = ({_PASSPORT})",
               {"address": address, "community_id": community_id}, scalar)


def update_score_done(conn: Executor, *, score_id: int, score: Decimal, timestamp: datetime,
                      evidence: dict[str, Any], stamp_scores: dict[str, float], stamps: dict[str, Any],
                      expiration: datetime | None) -> Pending[None]:
    return run(conn, """
        UPDATE registry_score SET score = %(score)s, status = 'DONE', last_score_timestamp = %(ts)s,
               evidence = %(evidence)s, error = NULL, stamp_scores = %(stamp_scores)s, stamps = %(stamps)s,
               expiration_date = %(expiration)s
         WHERE id = %(id)s""",
        {"score": score, "ts": timestamp, "evidence": Jsonb(evidence), "stamp_scores": Jsonb(stamp_scores),
         "stamps": Jsonb(stamps), "expiration": expiration, "id": score_id}, nothing)


def update_score_error(conn: Executor, *, address: str, community_id: int, message: str,
                       scored_rows: Sequence[CacheRow]) -> Pending[ScoreRow | None]:
    """Write the ERROR state of §5.6 and return the row it leaves, unless the address's live cache rows are no
    longer ``scored_rows`` (P5: then nothing is updated and the result is None)."""
    return run(conn, f"""
        UPDATE registry_score s SET score = NULL, status = 'ERROR', last_score_timestamp = NULL,
               expiration_date = NULL, evidence = NULL, error = %(message)s, stamp_scores = NULL, stamps = NULL
         WHERE s.passport_id = ({_PASSPORT}) AND {SNAPSHOT_MATCHES}
        RETURNING {_SCORE_COLUMNS}""",
        {"message": message, "address": address, "community_id": community_id, **snapshot_params(scored_rows)},
        _score_row)


def get_score(conn: Executor, *, address: str, community_id: int) -> Pending[ScoreRow | None]:
    return run(conn, f"""
        SELECT {_SCORE_COLUMNS} FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id
         WHERE p.address = %(address)s AND p.community_id = %(community_id)s""",
        {"address": address, "community_id": community_id}, _score_row)


def exists_score(conn: Executor, *, address: str, community_id: int) -> Pending[bool]:
    return run(conn, """
        SELECT EXISTS (SELECT 1 FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id
                        WHERE p.address = %(address)s AND p.community_id = %(community_id)s)""",
        {"address": address, "community_id": community_id}, lambda cursor: bool(scalar(cursor)))


def _score_row(cursor: psycopg.Cursor[Any]) -> ScoreRow | None:
    row = cursor.fetchone()
    return None if row is None else ScoreRow(*row)
