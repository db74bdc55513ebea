"""E1 scoring on fixture W: the worked example and acceptance cases AT-01, AT-02, AT-05–AT-09, AT-13, AT-28.

Through the ALB handler, on a fresh database per test, with stamps signed by didkit (scoring contract §7.8, §10.1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import (
    insert_allow_list,
    insert_cache_row,
    insert_community,
    insert_customization,
    insert_scorer,
    revoke_cache_row,
)
from scorer_lambda.local.signing import ETHR_TEST_PRIVATE_KEY_2, StampSigner

from ..harness import Scorer
from .v2_support import (
    A_BODY,
    A_EVIDENCE,
    NOW,
    Clock,
    add_stamp,
    address,
    analytics,
    call_e1,
    count,
    e1_path,
    events,
    issue,
    key_headers,
    links,
    score_row,
    stamp_providers,
    without_timestamp,
)

C = 3
A = "0x" + "a" * 40
B = "0x" + "b" * 40
SHORT = datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC)
LONG = datetime(2027, 3, 1, tzinfo=UTC)
B_BODY: dict[str, Any] = {
    "address": B, "score": "1.50000", "passing_score": True,
    "last_score_timestamp": "2026-11-22T13:49:56.729840+00:00",
    "expiration_timestamp": "2027-03-01T00:00:00+00:00", "threshold": "1.24900", "error": None,
    "stamps": {"Github": {"score": "1.50000", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
               "Discord": {"score": "0.00000", "dedup": True, "expiration_date": "2027-01-15T10:20:30.456Z"}},
    "points_data": None, "possible_points_data": None, "linked_score": None,
}


def _zero_body(addr: str, *, threshold: str = "1.24900", timestamp: str | None = NOW.isoformat()) -> dict[str, Any]:
    return {"address": addr, "score": "0.00000", "passing_score": False, "last_score_timestamp": timestamp,
            "expiration_timestamp": None, "threshold": threshold, "error": None, "stamps": {}, "points_data": None,
            "possible_points_data": None, "linked_score": None}


# --- AT-01 / AT-02 / step 3 / step 4 -----------------------------------------------------------------------------

def test_e1_worked_example_step_1_scores_a_and_writes_every_row(e1: Scorer, w_pinned: DemoSeed,
                                                                db: psycopg.Connection[Any]) -> None:
    route = f"E1 {e1_path(C, A)}"
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (200, A_BODY), route
    assert reply.raw["statusDescription"] == "200 OK", route

    assert links(db, C) == {"v0.0.0:g-A": (A, SHORT), "v0.0.0:e-A": (A, LONG), "v0.0.0:shared": (A, LONG)}, \
        f"{route}: registry_hashscorerlink (no v1:e-A with the flag off)"

    score = score_row(db, A, C)
    assert score is not None, f"{route}: registry_score"
    assert (score["score"], score["status"], score["error"]) == (Decimal(1), "DONE", None), route
    assert score["last_score_timestamp"] == NOW, route
    assert score["expiration_date"] == SHORT, route
    assert score["evidence"] == A_EVIDENCE, route
    assert score["stamp_scores"] == {"Discord": 0.516, "Ens": 0.208, "Google": 0.525}, route
    assert score["stamps"] == A_BODY["stamps"], route
    assert score["requires_calculation"] is None, f"{route}: registry_passport.requires_calculation untouched"

    assert stamp_providers(db, A, C) == ["Discord", "Ens", "Google"], f"{route}: registry_stamp in provider order"
    stored = db.execute("SELECT s.credential FROM registry_stamp s ORDER BY s.id").fetchall()
    cached = {p: db.execute("SELECT stamp FROM ceramic_cache_ceramiccache WHERE id = %s", (i,)).fetchone()[0]
              for (a, p), i in w_pinned.cache_ids.items() if a == A}
    assert [row[0] for row in stored] == [cached["Discord"], cached["Ens"], cached["Google"]], \
        f"{route}: registry_stamp.credential is the cached stamp"

    (scu,) = events(db, "SCU", A)
    assert (scu["community_id"], scu["created_at"]) == (C, NOW), f"{route}: SCU event"
    assert scu["data"] == {
        "model": "registry.score", "pk": score["id"],
        "fields": {"passport": score["passport_id"], "score": "1", "last_score_timestamp": "2026-11-22T13:49:56.680Z",
                   "status": "DONE", "error": None, "evidence": A_EVIDENCE,
                   "stamp_scores": {"Discord": 0.516, "Ens": 0.208, "Google": 0.525}, "stamps": A_BODY["stamps"],
                   "expiration_date": "2027-01-15T10:20:30.456Z"},
    }, f"{route}: SCU event data is one JSON object"
    assert events(db, "LDP", A) == [], f"{route}: no LDP event"

    (row,) = analytics(db)
    assert (row["status_code"], row["error"], row["api_key_id"]) == (200, None, w_pinned.api_key_id), route
    assert row["headers"] == {"host": "api.example", "x-api-key": "***"}, f"{route}: analytics masks the key"


def test_e1_worked_example_step_2_deduplicates_b_discord(e1: Scorer, w_pinned: DemoSeed, clock: Clock,
                                                          db: psycopg.Connection[Any]) -> None:
    call_e1(e1, C, A, headers=key_headers(w_pinned))
    clock.now = datetime(2026, 11, 22, 13, 49, 56, 729840, tzinfo=UTC)
    route = f"E1 {e1_path(C, B)}"
    reply = call_e1(e1, C, B, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (200, B_BODY), route
    assert list(reply.body["stamps"]) == ["Github", "Discord"], f"{route}: kept stamps first, then deduplicated"

    (ldp,) = events(db, "LDP", B)
    assert (ldp["address"], ldp["community_id"], ldp["created_at"]) == (B, C, clock.now), f"{route}: LDP event"
    assert ldp["data"] == {"provider": "Discord", "nullifiers": ["v0.0.0:shared"], "community_id": C}, route
    assert stamp_providers(db, B, C) == ["Github"], f"{route}: registry_stamp for B"
    found = links(db, C)
    assert found["v0.0.0:shared"] == (A, LONG), f"{route}: the shared link still belongs to A"
    assert found["v0.0.0:gh-B"] == (B, LONG), f"{route}: B owns its Github nullifier"
    assert len(found) == 4, route

    score = score_row(db, B, C)
    assert score is not None
    assert score["stamp_scores"] == {"Github": 1.5}, route
    assert score["evidence"]["rawScore"] == "1.5", route
    assert score["stamps"] == B_BODY["stamps"], route
    assert [e["data"]["fields"]["score"] for e in events(db, "SCU", B)] == ["1"], route


def test_e1_rescoring_a_repeats_the_body_and_adds_one_scu_event(e1: Scorer, w_pinned: DemoSeed, clock: Clock,
                                                                 db: psycopg.Connection[Any]) -> None:
    call_e1(e1, C, A, headers=key_headers(w_pinned))
    call_e1(e1, C, B, headers=key_headers(w_pinned))
    before = links(db, C)
    clock.now = NOW + timedelta(seconds=5)
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, A)} (step 3)"
    assert reply.status == 200, route
    assert without_timestamp(reply.body) == without_timestamp(A_BODY), route
    assert reply.body["last_score_timestamp"] == clock.now.isoformat(), route
    assert len(events(db, "SCU", A)) == 2, f"{route}: one more SCU event"
    assert links(db, C) == before, f"{route}: link expiries rewritten with the same values"
    assert stamp_providers(db, A, C) == ["Discord", "Ens", "Google"], f"{route}: registry_stamp replaced, not added"
    assert count(db, "registry_passport") == 2, route


def test_e1_uppercase_address_scores_the_lowercase_passport(e1: Scorer, w_pinned: DemoSeed,
                                                            db: psycopg.Connection[Any]) -> None:
    for upper in ("0X" + "A" * 40, "0x" + "A" * 40):
        reply = call_e1(e1, C, upper, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (200, A_BODY), f"E1 {e1_path(C, upper)}"
    assert [r[0] for r in db.execute("SELECT address FROM registry_passport").fetchall()] == [A], \
        "E1 upper-case address: one passport, stored lower-case"
    assert {a for a, _ in links(db, C).values()} == {A}, "E1 upper-case address: links written lower-case"


# --- AT-05, AT-06, AT-28 -----------------------------------------------------------------------------------------

def test_e1_invalid_address_returns_400_and_scores_nothing(e1: Scorer, w_pinned: DemoSeed,
                                                           db: psycopg.Connection[Any]) -> None:
    for bad in ("0x1234", "0x" + "g" * 40, "0x" + "a" * 41, "a" * 39, "0xx" + "a" * 39, "1x" + "a" * 40):
        reply = call_e1(e1, C, bad, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (400, {"error": "Invalid address."}), f"E1 {e1_path(C, bad)}"
    assert count(db, "registry_passport") == 0, "E1 invalid address: nothing scored"
    assert [(r["status_code"], r["error"]) for r in analytics(db)] == [(400, "Invalid address.")] * 6, \
        "E1 invalid address: one analytics row per request, error = the body's message"


def test_e1_address_without_stamps_scores_zero(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any]) -> None:
    fresh = address(0xF00D)
    route = f"E1 {e1_path(C, fresh)}"
    reply = call_e1(e1, C, fresh, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (200, _zero_body(fresh)), route
    score = score_row(db, fresh, C)
    assert score is not None, route
    assert (score["score"], score["status"], score["expiration_date"], score["error"]) == (Decimal(0), "DONE", None,
                                                                                           None), route
    assert score["evidence"] == {"type": "ThresholdScoreCheck", "success": False, "rawScore": "0",
                                 "threshold": "1.24900"}, route
    assert (score["stamp_scores"], score["stamps"]) == ({}, {}), route
    (scu,) = events(db, "SCU", fresh)
    assert scu["data"]["fields"]["score"] == "0", f"{route}: SCU event"
    assert scu["data"]["fields"]["expiration_date"] is None, f"{route}: SCU event"
    assert stamp_providers(db, fresh, C) == [], route


def test_e1_address_without_0x_prefix_is_accepted_verbatim(e1: Scorer, w_pinned: DemoSeed,
                                                            db: psycopg.Connection[Any]) -> None:
    bare = "a" * 40
    reply = call_e1(e1, C, bare, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (200, _zero_body(bare)), f"E1 {e1_path(C, bare)}"
    assert db.execute("SELECT address, community_id FROM registry_passport").fetchall() == [(bare, C)], \
        f"E1 {e1_path(C, bare)}: passport stored with the address as given (lower-cased)"
    reply = call_e1(e1, C, "A" * 40, headers=key_headers(w_pinned))
    assert reply.body["address"] == bare, "E1 upper-case bare address is lower-cased"


# --- AT-07, AT-08: stamps that do not count, runs that fail -------------------------------------------------------

def test_e1_invalid_stamps_are_dropped_silently(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                signer: StampSigner) -> None:
    expired, untrusted, other_did, tampered = (address(0xE1), address(0xE2), address(0xE3), address(0xE4))
    add_stamp(db, signer, expired, "Google", issued=NOW - timedelta(days=30), expires=NOW - timedelta(days=1))
    add_stamp(db, signer, untrusted, "Google", private_key=ETHR_TEST_PRIVATE_KEY_2)
    add_stamp(db, signer, other_did, "Google", subject_did=f"did:pkh:eip155:1:{A}")
    modified = issue(signer, tampered, "Google")
    modified["credentialSubject"]["provider"] = "Ens"
    insert_cache_row(db, address=tampered, provider="Google", stamp=modified, created_at=NOW)
    for case, addr in (("expired", expired), ("untrusted issuer", untrusted), ("another address's DID", other_did),
                       ("modified after signing", tampered)):
        reply = call_e1(e1, C, addr, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (200, _zero_body(addr)), f"E1 {e1_path(C, addr)}: {case}"
        assert stamp_providers(db, addr, C) == [], f"E1 {case}: no registry_stamp"
    assert links(db, C) == {}, "E1 invalid stamps: no links"


def test_e1_unparseable_expiry_stores_an_error_score_and_nothing_else(e1: Scorer, w_pinned: DemoSeed,
                                                                      db: psycopg.Connection[Any],
                                                                      signer: StampSigner) -> None:
    broken = address(0xBAD)
    add_stamp(db, signer, broken, "Ens")  # a valid stamp, so a successful run would write a link and a stamp row
    stamp = issue(signer, broken, "Google")
    stamp["expirationDate"] = "not-a-date"
    insert_cache_row(db, address=broken, provider="Google", stamp=stamp, created_at=NOW)
    route = f"E1 {e1_path(C, broken)}"
    reply = call_e1(e1, C, broken, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (200, {
        "address": broken, "score": "0.00000", "passing_score": False, "last_score_timestamp": None,
        "expiration_timestamp": None, "threshold": "20.00000", "error": "Invalid isoformat string: 'not-a-date'",
        "stamps": {}, "points_data": None, "possible_points_data": None, "linked_score": None}), route
    score = score_row(db, broken, C)
    assert score is not None, route
    assert (score["status"], score["error"]) == ("ERROR", "Invalid isoformat string: 'not-a-date'"), route
    assert [score[k] for k in ("score", "last_score_timestamp", "expiration_date", "evidence", "stamp_scores",
                               "stamps")] == [None] * 6, f"{route}: all other value columns NULL"
    assert events(db, "SCU", broken) == [], f"{route}: no SCU event"
    assert links(db, C) == {}, f"{route}: no link"
    assert count(db, "registry_stamp") == 0, f"{route}: no registry_stamp row"
    (row,) = analytics(db)
    assert (row["status_code"], row["error"]) == (200, None), f"{route}: a scoring error is not an HTTP error"


def test_e1_every_expiry_failure_answers_with_pythons_message(e1: Scorer, w_pinned: DemoSeed,
                                                              db: psycopg.Connection[Any], signer: StampSigner) -> None:
    cases = [("missing", None, "'expirationDate'"), ("number", 20270101, "fromisoformat: argument must be str"),
             ("garbage", "not-a-date", "Invalid isoformat string: 'not-a-date'"),
             ("naive", "2027-01-01T00:00:00", "can't compare offset-naive and offset-aware datetimes")]
    for n, (case, value, message) in enumerate(cases):
        addr = address(0xD00 + n)
        # untrusted issuer: expiry is evaluated for every candidate, trusted or not (§5.4 step 2)
        stamp = issue(signer, addr, "Google", private_key=ETHR_TEST_PRIVATE_KEY_2)
        if value is None:
            del stamp["expirationDate"]
        else:
            stamp["expirationDate"] = value
        insert_cache_row(db, address=addr, provider="Google", stamp=stamp, created_at=NOW)
        reply = call_e1(e1, C, addr, headers=key_headers(w_pinned))
        assert (reply.status, reply.body["error"], reply.body["threshold"]) == (200, message, "20.00000"), \
            f"E1 {e1_path(C, addr)}: {case} expirationDate"
        score = score_row(db, addr, C)
        assert score is not None and (score["status"], score["error"]) == ("ERROR", message), f"E1 {case}"


def test_e1_error_then_success_replaces_the_error_state(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                        signer: StampSigner) -> None:
    addr = address(0xFEED)
    stamp = issue(signer, addr, "Google")
    stamp["expirationDate"] = "not-a-date"
    cache_id = insert_cache_row(db, address=addr, provider="Google", stamp=stamp, created_at=NOW)
    assert call_e1(e1, C, addr, headers=key_headers(w_pinned)).body["error"] is not None
    db.execute("UPDATE ceramic_cache_ceramiccache SET deleted_at = %s WHERE id = %s", (NOW, cache_id))
    add_stamp(db, signer, addr, "Google")
    reply = call_e1(e1, C, addr, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, addr)} after an ERROR run"
    assert (reply.body["error"], reply.body["score"]) == (None, "0.52500"), route
    score = score_row(db, addr, C)
    assert score is not None and (score["status"], score["error"]) == ("DONE", None), route
    assert count(db, "registry_score") == 1, f"{route}: the same score row"


# --- AT-09, AT-13 ------------------------------------------------------------------------------------------------

def test_e1_revoked_cache_row_is_not_scored(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any]) -> None:
    revoke_cache_row(db, cache_id=w_pinned.cache_ids[(A, "Google")])
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, A)} with Google revoked"
    assert reply.status == 200, route
    assert list(reply.body["stamps"]) == ["Discord", "Ens"], route
    assert (reply.body["score"], reply.body["passing_score"]) == ("0.72400", False), route
    assert reply.body["expiration_timestamp"] == "2027-03-01T00:00:00+00:00", route
    score = score_row(db, A, C)
    assert score is not None
    assert score["evidence"]["rawScore"] == "0.7240000000000000046629367034", route
    assert (score["score"], score["evidence"]["success"]) == (Decimal(0), False), route
    assert "v0.0.0:g-A" not in links(db, C), f"{route}: no link for the revoked stamp"


def test_e1_float_weight_0_7_does_not_reach_threshold_0_7(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                          signer: StampSigner) -> None:
    insert_scorer(db, scorer_id=8, weights={"Ens": 0.7}, threshold="0.70000")
    insert_community(db, community_id=4, account_id=w_pinned.account_id, scorer_id=8)
    holder = address(0x07)
    add_stamp(db, signer, holder, "Ens")
    reply = call_e1(e1, 4, holder, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(4, holder)}"
    assert reply.status == 200, route
    assert (reply.body["score"], reply.body["passing_score"], reply.body["threshold"]) == ("0.70000", False,
                                                                                          "0.70000"), route
    score = score_row(db, holder, 4)
    assert score is not None
    assert score["evidence"] == {"type": "ThresholdScoreCheck", "success": False,
                                 "rawScore": "0.6999999999999999555910790150", "threshold": "0.70000"}, route
    assert score["score"] == Decimal(0), f"{route}: score column 0"
    assert events(db, "SCU", holder)[0]["data"]["fields"]["score"] == "0", route


def test_e1_weighted_and_string_weights_score_like_binary(e1: Scorer, w_pinned: DemoSeed,
                                                          db: psycopg.Connection[Any], signer: StampSigner) -> None:
    insert_scorer(db, scorer_id=9, weights={"Google": "1.5000", "Ens": 0.5, "Discord": 15}, threshold="2.00000",
                  type="WEIGHTED")
    insert_community(db, community_id=5, account_id=w_pinned.account_id, scorer_id=9)
    holder = address(0x15)
    for provider in ("Google", "Ens"):
        add_stamp(db, signer, holder, provider)
    route = f"E1 {e1_path(5, holder)} (WEIGHTED scorer)"
    reply = call_e1(e1, 5, holder, headers=key_headers(w_pinned))
    assert (reply.status, reply.body["score"], reply.body["passing_score"]) == (200, "2.00000", True), route
    score = score_row(db, holder, 5)
    assert score is not None
    assert score["evidence"]["rawScore"] == "2.0000", f"{route}: '1.5000' + 0.5 keeps the string's exponent"
    assert score["stamp_scores"] == {"Ens": 0.5, "Google": 1.5}, route
    assert score["score"] == Decimal(1), route


def test_e1_customization_overlay_adds_allow_list_weight(e1: Scorer, w_pinned: DemoSeed,
                                                         db: psycopg.Connection[Any], signer: StampSigner) -> None:
    customization = insert_customization(db, community_id=C, path="vip")
    insert_allow_list(db, customization_id=customization, name="VIP", weight="1.5")
    holder = address(0x1F)
    add_stamp(db, signer, holder, "AllowList#VIP")
    reply = call_e1(e1, C, holder, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, holder)} with an allow list"
    assert reply.body["stamps"]["AllowList#VIP"]["score"] == "1.50000", route
    score = score_row(db, holder, C)
    assert score is not None and score["evidence"]["rawScore"] == "1.5000", route
