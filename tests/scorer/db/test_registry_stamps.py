"""The scored stamps are written from the cache's stored text, as the same jsonb values (scoring contract §5.7)."""

from __future__ import annotations

import json
from typing import Any

import psycopg

from scorer_lambda.db.queries.registry_stamps import replace_stamps, stamps_document
from scorer_lambda.local import seed
from scorer_lambda.models import Candidate


def test_the_document_is_json_of_the_pairs_whether_or_not_the_stored_text_is_known() -> None:
    credential = {"issuer": "did:key:z", "proof": {"n": 1.5}, "credentialSubject": {"provider": 'Say "hi" ✓'}}
    text = json.dumps(credential, separators=(",", ":"))
    stamps = [Candidate('Q"uote\\d ✓', credential, text), Candidate("Plain", credential)]
    assert json.loads(stamps_document(stamps)) == [['Q"uote\\d ✓', credential], ["Plain", credential]]
    assert stamps_document([]) == "[]"


def test_rows_hold_the_cached_jsonb_value_in_order(db: psycopg.Connection[Any]) -> None:
    seed.insert_account(db, account_id=1, address="0x" + "1" * 40, user_id=1)
    seed.insert_scorer(db, scorer_id=2, weights={"A": 1}, threshold="1")
    seed.insert_community(db, community_id=3, account_id=1, scorer_id=2)
    passport = db.execute("INSERT INTO registry_passport (address, community_id) VALUES ('0xab', 3) RETURNING id"
                          ).fetchone()[0]
    # As read from the cache: the database's own rendering of the stored jsonb, and the parsed object.
    stored = ['{"b": [1, "x"], "a": "1.10 as text", "n": 1.10}', '{"big": 12345678901234567890.5}']
    rendered = [db.execute("SELECT %s::jsonb::text", (text,)).fetchone()[0] for text in stored]
    stamps = [Candidate(f"P{i}", json.loads(text), text) for i, text in enumerate(rendered)]
    with db.transaction():
        for pending in replace_stamps(db, passport_id=passport, stamps=stamps):
            pending.result()
    rows = db.execute("SELECT provider, credential = %s::jsonb AND credential = %s::jsonb, credential::text"
                      " FROM registry_stamp WHERE passport_id = %s ORDER BY id",
                      (stored[0], json.dumps(stamps[0].credential), passport)).fetchall()
    assert [row[0] for row in rows] == ["P0", "P1"]
    assert rows[0][1], "equal to the cached value and to the value serialised again from the parsed object"
    assert [row[2] for row in rows] == rendered
