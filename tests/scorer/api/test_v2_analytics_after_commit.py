"""E1's analytics row goes out in the scoring run's COMMIT round trip; neither side's failure is the other's."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
import pytest

from scorer_lambda.local.demo import DemoSeed

from ..harness import Scorer
from .v2_support import analytics, call_e1, key_headers, score_row

C = 3


def test_a_scored_request_records_its_row_with_the_commit(e1: Scorer, w_pinned: DemoSeed,
                                                         db: psycopg.Connection[Any]) -> None:
    e1.db.meter.reset()
    reply = call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    assert reply.status == 200 and reply.body["error"] is None
    assert e1.db.meter.round_trips == 5, "connect, key + rows, phase B reads, the writes, COMMIT with the row"
    (row,) = analytics(db)
    assert (row["status_code"], row["error"]) == (200, None)
    assert row["response"] == reply.raw["body"], "the row holds the answer as sent"


def test_a_failing_analytics_row_after_the_commit_keeps_the_score(e1: Scorer, w_pinned: DemoSeed,
                                                                 db: psycopg.Connection[Any],
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    db.execute("ALTER TABLE account_accountapikeyanalytics ADD CONSTRAINT no_200 CHECK (status_code <> 200)")
    with caplog.at_level(logging.WARNING, logger="scorer_lambda.api.v2"):
        reply = call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    assert reply.status == 200 and reply.body["passing_score"] is True, "the run committed before the row failed"
    assert score_row(db, w_pinned.address_a, C)["status"] == "DONE"
    assert analytics(db) == []
    (warning,) = [r for r in caplog.records if r.getMessage() == "analytics write failed"]
    assert (warning.error_class, warning.sqlstate) == ("CheckViolation", "23514")
    db.execute("ALTER TABLE account_accountapikeyanalytics DROP CONSTRAINT no_200")
    again = call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    assert again.status == 200 and len(analytics(db)) == 1, "the next request on the same connection as usual"


def test_a_failing_commit_answers_500_and_records_that(e1: Scorer, w_pinned: DemoSeed,
                                                       db: psycopg.Connection[Any]) -> None:
    # A deferred check that fails at COMMIT, after every statement of the run succeeded.
    db.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS"
               " $$ BEGIN RAISE EXCEPTION 'refused at commit' USING ERRCODE = 'serialization_failure'; END $$")
    db.execute("CREATE CONSTRAINT TRIGGER refuse_scu AFTER INSERT ON registry_event DEFERRABLE INITIALLY DEFERRED"
               " FOR EACH ROW EXECUTE FUNCTION refuse()")
    reply = call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (500, {"error": "DB Error: OperationalError"})
    assert score_row(db, w_pinned.address_a, C) is None, "nothing of the run committed"
    (row,) = analytics(db)
    assert (row["status_code"], row["error"]) == (500, "DB Error: OperationalError"), "recorded the usual way"
