"""E1 runs that fail midway: nothing half-written (§5.1, §5.6, §12 #6) and database failures as 500 (§2.4)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_cache_row, insert_community, insert_scorer
from scorer_lambda.local.signing import StampSigner

from ..harness import Scorer
from .conftest import MakeScorer
from .v2_support import (
    NOW,
    Clock,
    add_stamp,
    address,
    analytics,
    call_e1,
    e1_path,
    events,
    issue,
    key_headers,
    links,
    score_row,
    stamp_providers,
    write_counts,
)

C = 3
A = "0x" + "a" * 40
HOLDER = address(0x4D)
ERROR_VALUE_COLUMNS = ("score", "last_score_timestamp", "expiration_date", "evidence", "stamp_scores", "stamps")


def _insert_link_c4(db: psycopg.Connection[Any], *, hash: str, address: str, expires: Any) -> None:
    db.execute("INSERT INTO registry_hashscorerlink (hash, address, expires_at, community_id) VALUES (%s, %s, %s, 4)",
               (hash, address, expires))


def _assert_error_row(db: psycopg.Connection[Any], addr: str, community: int, message: str, route: str) -> None:
    score = score_row(db, addr, community)
    assert score is not None, f"{route}: score row"
    assert (score["status"], score["error"]) == ("ERROR", message), f"{route}: ERROR state"
    assert [score[k] for k in ERROR_VALUE_COLUMNS] == [None] * 6, f"{route}: value columns NULL"


def test_e1_failure_after_link_writes_rolls_the_whole_run_back(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                               clock: Clock, db: psycopg.Connection[Any],
                                                               signer: StampSigner) -> None:
    # Human points are written after links, registry_stamp rows and LDP events (§5.1 B6). An HKY tx_hash longer than
    # varchar(100) makes that write fail, so everything the attempt wrote before it must vanish with it.
    insert_scorer(db, scorer_id=8, weights={"Google": 0.525, "Ens": 0.208}, threshold="0.5")
    insert_community(db, community_id=4, account_id=w_pinned.account_id, scorer_id=8, human_points_program=True)
    scorer = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, HUMAN_POINTS_WRITE_ENABLED="true")
    _insert_link_c4(db, hash="v0.0.0:other", address=address(0x99), expires=NOW + timedelta(days=9))
    add_stamp(db, signer, HOLDER, "Google", ["v0.0.0:m-g"], expires=NOW + timedelta(days=30))
    route = f"E1 {e1_path(4, HOLDER)}"
    assert call_e1(scorer, 4, HOLDER, headers=key_headers(w_pinned)).body["error"] is None, f"{route}: first run"
    before = {"links": links(db, 4), "stamps": stamp_providers(db, HOLDER, 4), "counts": write_counts(db)}
    assert before["stamps"] == ["Google"] and before["counts"]["registry_humanpoints"] == 1, "fixture: first run"

    add_stamp(db, signer, HOLDER, "Ens", ["v0.0.0:m-e", "v1:" + "e" * 120])
    add_stamp(db, signer, HOLDER, "Discord", ["v0.0.0:other", "v0.0.0:backfill-me"])
    clock.now = NOW + timedelta(minutes=1)
    reply = call_e1(scorer, 4, HOLDER, headers=key_headers(w_pinned))
    route = f"{route} with an HKY tx_hash too long"
    assert reply.status == 200, f"{route}: a scoring failure is not an HTTP error"
    message = reply.body["error"]
    assert isinstance(message, str) and message.startswith("value too long for type character varying(100)"), route
    _assert_error_row(db, HOLDER, 4, message, route)
    assert links(db, 4) == before["links"], f"{route}: no link written or refreshed (no v0.0.0:m-e, no backfill)"
    assert stamp_providers(db, HOLDER, 4) == ["Google"], f"{route}: the earlier registry_stamp rows stay"
    assert write_counts(db) == before["counts"], f"{route}: no event, stamp or human-points row from the failed run"
    assert events(db, "LDP", HOLDER) == [], f"{route}: no LDP event"
    assert len(events(db, "SCU", HOLDER)) == 1, f"{route}: only the first run's SCU event"


def test_e1_non_numeric_weight_fails_the_run_and_keeps_earlier_rows(e1: Scorer, w_pinned: DemoSeed,
                                                                    db: psycopg.Connection[Any]) -> None:
    route = f"E1 {e1_path(C, A)}"
    assert call_e1(e1, C, A, headers=key_headers(w_pinned)).body["error"] is None, f"{route}: first run"
    before_links = links(db, C)
    db.execute("UPDATE scorer_weighted_binaryweightedscorer SET weights = %s WHERE scorer_ptr_id = 7",
               (Jsonb({"Google": 0.525, "Ens": "not-a-number", "Discord": 0.516}),))
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert reply.status == 200, route
    assert reply.body["error"] == "[<class 'decimal.ConversionSyntax'>]", f"{route}: str() of the Decimal error"
    assert (reply.body["score"], reply.body["threshold"], reply.body["stamps"]) == ("0.00000", "20.00000", {}), route
    _assert_error_row(db, A, C, "[<class 'decimal.ConversionSyntax'>]", route)
    assert stamp_providers(db, A, C) == ["Discord", "Ens", "Google"], f"{route}: previous registry_stamp rows stay"
    assert links(db, C) == before_links, route
    assert len(events(db, "SCU", A)) == 1, f"{route}: no SCU event for the failed run"


def test_e1_null_weights_fail_only_when_a_stamp_is_kept(e1: Scorer, w_pinned: DemoSeed,
                                                        db: psycopg.Connection[Any]) -> None:
    db.execute("UPDATE scorer_weighted_binaryweightedscorer SET weights = NULL WHERE scorer_ptr_id = 7")
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert reply.status == 200 and reply.body["error"], f"E1 {e1_path(C, A)} with NULL weights: scoring failure"
    assert links(db, C) == {}, f"E1 {e1_path(C, A)} with NULL weights: no link"
    empty = address(0xE0)
    reply = call_e1(e1, C, empty, headers=key_headers(w_pinned))
    assert (reply.body["error"], reply.body["score"]) == (None, "0.00000"), \
        f"E1 {e1_path(C, empty)} with NULL weights and no stamps"


def test_e1_failing_scu_event_insert_returns_db_error_and_writes_nothing(e1: Scorer, w_pinned: DemoSeed,
                                                                         db: psycopg.Connection[Any]) -> None:
    db.execute("ALTER TABLE registry_event ADD CONSTRAINT no_scu CHECK (action <> 'SCU')")
    before = write_counts(db)
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, A)} with the SCU insert failing (B7)"
    assert (reply.status, reply.body) == (500, {"error": "DB Error: IntegrityError"}), route
    assert write_counts(db) == before, f"{route}: the phase-B transaction rolled back"
    (row,) = analytics(db)
    assert (row["status_code"], row["error"]) == (500, "DB Error: IntegrityError"), f"{route}: analytics"


def test_e1_failing_score_update_returns_db_error(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any]) -> None:
    db.execute("ALTER TABLE registry_score ADD CONSTRAINT no_done CHECK (status <> 'DONE')")
    before = write_counts(db)
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, A)} with the score update failing (B7)"
    assert (reply.status, reply.body) == (500, {"error": "DB Error: IntegrityError"}), route
    assert write_counts(db) == before, f"{route}: nothing written"


def test_e1_failing_error_state_write_returns_db_error(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                       signer: StampSigner) -> None:
    stamp = issue(signer, HOLDER, "Google")
    stamp["expirationDate"] = "not-a-date"
    insert_cache_row(db, address=HOLDER, provider="Google", stamp=stamp, created_at=NOW)
    db.execute("ALTER TABLE registry_score ADD CONSTRAINT no_error CHECK (status <> 'ERROR')")
    reply = call_e1(e1, C, HOLDER, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, HOLDER)} with the ERROR write failing"
    assert (reply.status, reply.body) == (500, {"error": "DB Error: IntegrityError"}), route
    assert score_row(db, HOLDER, C) is None, f"{route}: the error transaction rolled back"


def test_e1_human_points_failure_without_links_is_a_scoring_failure(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                                     clock: Clock, db: psycopg.Connection[Any],
                                                                     signer: StampSigner) -> None:
    # Only a v1 nullifier with the flag off: no link takes part, yet the HKY write (B6) still fails.
    insert_scorer(db, scorer_id=8, weights={"Google": 1}, threshold="0.5")
    insert_community(db, community_id=4, account_id=w_pinned.account_id, scorer_id=8, human_points_program=True)
    scorer = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, HUMAN_POINTS_WRITE_ENABLED="yes")
    add_stamp(db, signer, HOLDER, "Google", ["v1:" + "g" * 120])
    reply = call_e1(scorer, 4, HOLDER, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(4, HOLDER)} with a failing B6 and no links"
    assert reply.status == 200, f"{route}: B3–B6 failures are scoring failures (§5.6), not DB errors"
    message = reply.body["error"]
    assert isinstance(message, str) and message.startswith("value too long"), route
    _assert_error_row(db, HOLDER, 4, message, route)
    assert stamp_providers(db, HOLDER, 4) == [] and events(db, "SCU", HOLDER) == [], f"{route}: nothing persisted"
