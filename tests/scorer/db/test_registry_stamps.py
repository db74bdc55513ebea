"""Scored stamps are copied from the cache rows they were read from (scoring contract §5.7)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from scorer_lambda.db.queries.registry_stamps import replace_stamps
from scorer_lambda.local import seed
from scorer_lambda.models import Candidate

ADDRESS = "0x" + "ab" * 20


@pytest.fixture
def passport(db: psycopg.Connection[Any]) -> int:
    seed.insert_account(db, account_id=1, address="0x" + "1" * 40, user_id=1)
    seed.insert_scorer(db, scorer_id=2, weights={"A": 1}, threshold="1")
    seed.insert_community(db, community_id=3, account_id=1, scorer_id=2)
    return db.execute("INSERT INTO registry_passport (address, community_id) VALUES (%s, 3) RETURNING id",
                      (ADDRESS,)).fetchone()[0]


def _cached(db: psycopg.Connection[Any], provider: str, stamp: dict[str, Any]) -> Candidate:
    row_id = seed.insert_cache_row(db, address=ADDRESS, provider=provider, stamp=stamp)
    updated_at, text = db.execute("SELECT updated_at, stamp::text FROM ceramic_cache_ceramiccache WHERE id = %s",
                                  (row_id,)).fetchone()
    return Candidate(provider, json.loads(text), text, (row_id, updated_at))


def _copy(db: psycopg.Connection[Any], passport: int, stamps: list[Candidate]) -> Any:
    with db.transaction():
        copied = replace_stamps(db, passport_id=passport, stamps=stamps)
        return None if copied is None else copied.result()


def test_kept_stamps_are_the_cached_jsonb_values_in_kept_order(db: psycopg.Connection[Any], passport: int) -> None:
    first = _cached(db, "Zeta", {"n": 1.10, "s": "1.10 as text", "big": 12345678901234567890.5})
    second = _cached(db, "Alpha", {"b": [1, "x"]})
    assert _copy(db, passport, [first, second]) == 2
    stored = db.execute("SELECT s.provider, s.credential = c.stamp, s.credential::text FROM registry_stamp s"
                        " JOIN ceramic_cache_ceramiccache c ON c.provider = s.provider"
                        " WHERE s.passport_id = %s ORDER BY s.id", (passport,)).fetchall()
    assert [(provider, same) for provider, same, _ in stored] == [("Zeta", True), ("Alpha", True)]
    assert [text for _, _, text in stored] == [first.document, second.document], "the cached value exactly"


def test_the_copy_replaces_earlier_rows_and_counts_only_rows_still_as_read(db: psycopg.Connection[Any],
                                                                          passport: int) -> None:
    kept = _cached(db, "Google", {"a": 1})
    assert _copy(db, passport, [kept]) == 1
    db.execute("UPDATE ceramic_cache_ceramiccache SET updated_at = updated_at + interval '1 second'")
    assert _copy(db, passport, [kept]) == 0, "a row changed since it was read is not copied"
    assert db.execute("SELECT count(*) FROM registry_stamp WHERE passport_id = %s", (passport,)).fetchone() == (0,)
    assert _copy(db, passport, []) is None


def test_a_stamp_not_read_from_the_cache_is_refused(db: psycopg.Connection[Any], passport: int) -> None:
    with pytest.raises(ValueError, match="not read from the cache"):
        _copy(db, passport, [Candidate("Google", {"a": 1})])
