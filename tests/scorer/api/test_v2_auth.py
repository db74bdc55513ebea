"""E1 authentication, community resolution and analytics: AT-03, AT-04, AT-22–AT-24, AT-33, §4.1–§4.4, §12 #1/#2/#11."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import psycopg

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import (
    insert_account,
    insert_api_key,
    insert_community,
    insert_scorer,
    make_api_key,
    sha256_hash,
)

from ..harness import Scorer
from .conftest import MakeScorer
from .v2_support import A_BODY, NOW, Clock, analytics, call_e1, count, e1_path, key_headers, score_row

C = 3
A = "0x" + "a" * 40
INVALID_KEY = {"error": "Invalid API Key."}
NO_SCORER = {"error": "No scorer matches the given criteria."}
VECTOR_KEY = "testkey1.0123456789abcdef0123456789abcdef"
VECTOR_SALT = "abcdefghijklmnopqrstuv"
VECTOR_PBKDF2 = "pbkdf2_sha256$600000$abcdefghijklmnopqrstuv$KNImhe452bz6sL8vO/AAys9vXGUadpt6SCSr5P/NQOA="
VECTOR_SHA256 = "sha256$8b22637ced5bc2898b028efc0a2532ac25c42f05e201992e99a72a009ec8f0ec"


def _other_account(db: psycopg.Connection[Any], *, community_id: int = 6, external_id: str | None = None) -> str:
    """Account 2 with its own scorer, community and key; returns that key."""
    insert_account(db, account_id=2, address="0x" + "2" * 40, user_id=2)
    insert_scorer(db, scorer_id=12, weights={"Google": 1}, threshold="1")
    insert_community(db, community_id=community_id, account_id=2, scorer_id=12, external_scorer_id=external_id)
    key = make_api_key("account-2")
    insert_api_key(db, key=key, account_id=2, pbkdf2_iterations=1000)
    return key


# --- AT-03, AT-22, AT-23: who gets in ---------------------------------------------------------------------------

def test_e1_missing_or_wrong_key_returns_401_without_analytics(e1: Scorer, w_pinned: DemoSeed,
                                                               db: psycopg.Connection[Any]) -> None:
    wrong_last = w_pinned.api_key[:-1] + ("x" if w_pinned.api_key[-1] != "x" else "y")
    for case, headers in (("no key", {}), ("unknown prefix", {"x-api-key": "abc.def"}),
                          ("wrong secret", {"x-api-key": wrong_last}), ("empty key", {"x-api-key": ""}),
                          ("prefix only", {"x-api-key": w_pinned.api_key.split(".")[0]})):
        reply = call_e1(e1, C, A, headers=headers)
        assert (reply.status, reply.body) == (401, INVALID_KEY), f"E1 {e1_path(C, A)}: {case}"
    assert analytics(db) == [], "E1 401: no analytics row"
    assert count(db, "registry_passport") == 0, "E1 401: nothing scored"


def test_e1_revoked_and_expired_keys_return_401_and_read_scores_is_not_required(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any]) -> None:
    revoked, expired, no_read, later = (make_api_key(f"k{n}") for n in range(4))
    insert_api_key(db, key=revoked, account_id=w_pinned.account_id, revoked=True, pbkdf2_iterations=1000)
    insert_api_key(db, key=expired, account_id=w_pinned.account_id, expiry_date=NOW - timedelta(seconds=1),
                   pbkdf2_iterations=1000)
    insert_api_key(db, key=no_read, account_id=w_pinned.account_id, read_scores=False, pbkdf2_iterations=1000)
    insert_api_key(db, key=later, account_id=w_pinned.account_id, expiry_date=NOW + timedelta(days=3650),
                   pbkdf2_iterations=1000)
    for case, key, status in (("revoked", revoked, 401), ("expired", expired, 401), ("read_scores false", no_read, 200),
                              ("expiring in ten years", later, 200)):
        reply = call_e1(e1, C, A, headers={"x-api-key": key})
        assert reply.status == status, f"E1 {e1_path(C, A)}: {case} key"
        if status == 401:
            assert reply.body == INVALID_KEY, f"E1 {case} key"
    assert len(analytics(db)) == 2, "E1: analytics rows only for the two accepted keys"


def test_e1_key_is_read_from_any_header_case_or_the_authorization_second_token(e1: Scorer, w_pinned: DemoSeed,
                                                                              db: psycopg.Connection[Any]) -> None:
    key = w_pinned.api_key
    for case, headers, status in (
        ("Authorization: Token K", {"Authorization": f"Token {key}"}, 200),
        ("Authorization: Bearer K", {"authorization": f"Bearer {key}"}, 200),
        ("X-API-KEY: K", {"X-API-KEY": key}, 200),
        ("X-Api-Key: K", {"X-Api-Key": key}, 200),
        ("empty X-API-Key falls back to Authorization", {"x-api-key": "", "Authorization": f"Api-Key {key}"}, 200),
        ("X-API-Key wins over Authorization", {"x-api-key": key, "authorization": "Token nope.nope"}, 200),
        ("Authorization: K (single token)", {"Authorization": key}, 401),
        ("Authorization third token ignored", {"Authorization": f"Token wrong.key {key}"}, 401),
    ):
        reply = call_e1(e1, C, A, headers=headers)
        assert reply.status == status, f"E1 {e1_path(C, A)}: {case}"
        if status == 200:
            assert reply.body == A_BODY, f"E1 {case}"
    rows = analytics(db)
    assert len(rows) == 6, "E1: analytics rows for the accepted requests"
    assert rows[0]["headers"] == {"Authorization": "***", "host": "api.example"}, \
        "E1 analytics: the Authorization header is masked too"


def test_e1_pbkdf2_key_is_accepted_and_upgraded_to_the_fast_hash(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                                  clock: Clock, db: psycopg.Connection[Any]) -> None:
    key_id = insert_api_key(db, key=VECTOR_KEY, account_id=w_pinned.account_id, with_sha256=False,
                            salt=VECTOR_SALT, pbkdf2_iterations=600000)
    assert key_id == f"testkey1.{VECTOR_PBKDF2}", "fixture: the §11.2 test vector"
    scorer = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock)
    route = f"E1 {e1_path(C, A)} with a PBKDF2-only key"
    assert call_e1(scorer, C, A, headers={"x-api-key": VECTOR_KEY}).status == 200, route
    stored = db.execute("SELECT hashed_key, hashed_key_sha256 FROM account_accountapikey WHERE id = %s",
                        (key_id,)).fetchone()
    assert stored == (VECTOR_PBKDF2, VECTOR_SHA256), f"{route}: hashed_key_sha256 written, hashed_key unchanged"
    assert call_e1(scorer, C, A, headers={"x-api-key": VECTOR_KEY}).status == 200, f"{route}: second call"
    wrong = VECTOR_KEY[:-1] + "0"
    assert call_e1(scorer, C, A, headers={"x-api-key": wrong}).status == 401, f"{route}: wrong secret"


def test_e1_stored_fast_hash_is_final_without_pbkdf2_fallback(w_pinned: DemoSeed, e1: Scorer,
                                                              db: psycopg.Connection[Any]) -> None:
    key = make_api_key("fast-hash")
    key_id = insert_api_key(db, key=key, account_id=w_pinned.account_id, pbkdf2_iterations=1000)
    db.execute("UPDATE account_accountapikey SET hashed_key_sha256 = %s WHERE id = %s",
               (sha256_hash("some.other-key"), key_id))
    reply = call_e1(e1, C, A, headers={"x-api-key": key})
    assert (reply.status, reply.body) == (401, INVALID_KEY), f"E1 {e1_path(C, A)}: stale fast hash"


def test_e1_legacy_sha256_hashed_key_is_accepted(w_pinned: DemoSeed, e1: Scorer, db: psycopg.Connection[Any]) -> None:
    key = make_api_key("legacy")
    key_id = insert_api_key(db, key=key, account_id=w_pinned.account_id, with_sha256=False, pbkdf2_iterations=1000)
    db.execute("UPDATE account_accountapikey SET hashed_key = %s WHERE id = %s", (sha256_hash(key), key_id))
    assert call_e1(e1, C, A, headers={"x-api-key": key}).status == 200, "E1 with a sha256$ hashed_key"
    db.execute("UPDATE account_accountapikey SET hashed_key = 'md5$abc' WHERE id = %s", (key_id,))
    assert call_e1(e1, C, A, headers={"x-api-key": key}).status == 401, "E1 with an unknown hash scheme"


# --- AT-04, AT-33, §4.2: which community ------------------------------------------------------------------------

def test_e1_another_accounts_community_returns_404_and_scores_nothing(e1: Scorer, w_pinned: DemoSeed,
                                                                      db: psycopg.Connection[Any]) -> None:
    other_key = _other_account(db, external_id="ext-other")
    route = f"E1 {e1_path(C, A)} with another account's key"
    reply = call_e1(e1, C, A, headers={"x-api-key": other_key})
    assert (reply.status, reply.body) == (404, NO_SCORER), route
    for scorer_id in (6, "ext-other"):
        reply = call_e1(e1, scorer_id, A, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (404, NO_SCORER), f"E1 {e1_path(scorer_id, A)} with K"
    assert count(db, "registry_passport") == 0, f"{route}: nothing scored"
    rows = analytics(db)
    assert [(r["status_code"], r["error"]) for r in rows] == [(404, "No scorer matches the given criteria.")] * 3, \
        "E1 404: analytics rows carry the message"
    assert json.loads(rows[0]["response"]) == NO_SCORER, "E1 404: analytics response is the body text"


def test_e1_external_scorer_id_resolves_within_the_account(e1: Scorer, w_pinned: DemoSeed,
                                                           db: psycopg.Connection[Any]) -> None:
    insert_scorer(db, scorer_id=8, weights={"Google": 0.525}, threshold="1")
    insert_community(db, community_id=4, account_id=w_pinned.account_id, scorer_id=8, external_scorer_id="ext-4")
    insert_community(db, community_id=5, account_id=w_pinned.account_id, scorer_id=8, external_scorer_id="3")
    reply = call_e1(e1, "ext-4", A, headers=key_headers(w_pinned))
    assert (reply.status, reply.body["score"], reply.body["threshold"]) == (200, "0.52500", "1.00000"), \
        f"E1 {e1_path('ext-4', A)}: scored in community 4"
    assert score_row(db, A, 4) is not None, "E1 by external id: passport in community 4"
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert reply.status == 200 and score_row(db, A, 5) is not None, \
        f"E1 {e1_path(C, A)}: an external id '3' wins over community id 3"
    assert score_row(db, A, C) is None, f"E1 {e1_path(C, A)}: community 3 not used"
    for unknown in ("nope", "99999", "4.0"):
        reply = call_e1(e1, unknown, A, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (404, NO_SCORER), f"E1 {e1_path(unknown, A)}"


def test_e1_deleted_community_is_still_scored(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any]) -> None:
    db.execute("UPDATE account_community SET deleted_at = %s WHERE id = %s", (NOW, C))
    assert call_e1(e1, C, A, headers=key_headers(w_pinned)).status == 200, "E1: deleted_at is not checked"


def test_e1_demo_alias_and_negative_scorer_id_use_the_demo_settings(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                                    clock: Clock,
                                                                    db: psycopg.Connection[Any]) -> None:
    demo = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, FF_API_ANALYTICS="on",
                       DEMO_API_KEY=w_pinned.api_key, DEMO_API_KEY_ALIASES='["demo"]', DEMO_API_SCORER_ID=str(C))
    route = f"E1 {e1_path(-1, A)} with X-API-Key: demo"
    reply = call_e1(demo, -1, A, headers={"X-API-Key": "demo"})
    assert (reply.status, reply.body) == (200, A_BODY), route
    assert score_row(db, A, C) is not None, f"{route}: scored in community C"
    (row,) = analytics(db)
    assert row["api_key_id"] == w_pinned.api_key_id, f"{route}: analytics for the real demo key"
    assert row["headers"]["X-API-Key"] == "***", route
    assert call_e1(demo, C, A, headers={"Authorization": "Token demo"}).status == 200, "E1 alias via Authorization"
    assert call_e1(demo, C, A, headers={"x-api-key": "demo2"}).status == 401, "E1 alias match is exact"


def test_e1_negative_scorer_id_without_demo_scorer_returns_404(e1: Scorer, w_pinned: DemoSeed,
                                                               db: psycopg.Connection[Any]) -> None:
    for scorer_id in (-1, -3):
        reply = call_e1(e1, scorer_id, A, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (404, NO_SCORER), f"E1 {e1_path(scorer_id, A)} (§12 #11)"
    assert count(db, "registry_passport") == 0


def test_e1_demo_scorer_of_another_account_returns_404(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                       db: psycopg.Connection[Any]) -> None:
    _other_account(db)
    demo = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, DEMO_API_SCORER_ID="6")
    reply = call_e1(demo, -1, A, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (404, NO_SCORER), f"E1 {e1_path(-1, A)}: demo scorer outside K's account"


# --- misconfiguration and bad bodies: 500 -----------------------------------------------------------------------

def test_e1_misconfigured_scorer_returns_500_and_writes_nothing(e1: Scorer, w_pinned: DemoSeed,
                                                                db: psycopg.Connection[Any]) -> None:
    insert_scorer(db, scorer_id=8, weights={"Google": 1}, threshold="1", type="OTHER")
    insert_community(db, community_id=4, account_id=w_pinned.account_id, scorer_id=8)
    db.execute("INSERT INTO scorer_weighted_scorer (id, type, exclude_from_weight_updates)"
               " VALUES (9, 'WEIGHTED_BINARY', false)")
    insert_community(db, community_id=5, account_id=w_pinned.account_id, scorer_id=9)
    db.execute("INSERT INTO scorer_weighted_scorer (id, type, exclude_from_weight_updates)"
               " VALUES (10, 'WEIGHTED', false)")
    db.execute("INSERT INTO scorer_weighted_binaryweightedscorer (scorer_ptr_id, weights, threshold)"
               " VALUES (10, '{}', 1)")
    insert_community(db, community_id=6, account_id=w_pinned.account_id, scorer_id=10)
    for community, case in ((4, "type OTHER"), (5, "no typed row"), (6, "WEIGHTED without its typed row")):
        reply = call_e1(e1, community, A, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (500, {"error": "An error has occurred"}), \
            f"E1 {e1_path(community, A)}: {case}"
    assert count(db, "registry_passport") + count(db, "registry_score") + count(db, "registry_event") == 0, \
        "E1 misconfigured scorer: nothing written"
    assert [(r["status_code"], r["error"]) for r in analytics(db)] == [(500, "An error has occurred")] * 3


def test_e1_invalid_json_body_returns_500_before_scoring(e1: Scorer, w_pinned: DemoSeed,
                                                         db: psycopg.Connection[Any]) -> None:
    for case, kwargs in (("not JSON", {"body": "{not json"}),
                         ("base64 of not JSON", {"body": "{not json", "base64_body": True})):
        reply = call_e1(e1, C, A, headers=key_headers(w_pinned), **kwargs)
        assert (reply.status, reply.body) == (500, {"error": "An error has occurred"}), f"E1 {e1_path(C, A)}: {case}"
    assert count(db, "registry_passport") == 0, "E1 invalid body: nothing scored"
    assert [(r["status_code"], r["error"]) for r in analytics(db)] == [(500, "An error has occurred")] * 2


def test_e1_checks_run_in_order_key_body_community_address(e1: Scorer, w_pinned: DemoSeed) -> None:
    for case, scorer_id, addr, headers, body, status in (
        ("401 before everything", 99999, "0x12", {"x-api-key": "no.key"}, "{not json", 401),
        ("body parsed before community resolution (§9.1)", 99999, "0x12", key_headers(w_pinned), "{not json", 500),
        ("404 before the address", 99999, "0x12", key_headers(w_pinned), None, 404),
        ("then the address", C, "0x12", key_headers(w_pinned), None, 400),
    ):
        reply = call_e1(e1, scorer_id, addr, headers=headers, body=body)
        assert reply.status == status, f"E1 {e1_path(scorer_id, addr)}: {case}"


# --- §4.4 analytics columns -------------------------------------------------------------------------------------

def test_e1_analytics_row_stores_masked_request_and_response_text(e1: Scorer, w_pinned: DemoSeed,
                                                                  db: psycopg.Connection[Any]) -> None:
    headers = {"X-Api-Key": w_pinned.api_key, "Authorization": "Token x", "Cookie": "session=1", "User-Agent": "t"}
    reply = call_e1(e1, C, A, headers=headers, query={"a": "1"}, body={"x": [1, 2]})
    (row,) = analytics(db)
    route = f"E1 {e1_path(C, A)} analytics"
    assert row["path"] == e1_path(C, A), route
    assert row["path_segments"] == ["v2", "stamps", "3", "score", A], route
    assert row["query_params"] == {"a": "1"}, route
    assert row["headers"] == {"host": "api.example", "X-Api-Key": "***", "Authorization": "***", "Cookie": "***",
                              "User-Agent": "t"}, f"{route}: credentials masked, names as sent"
    assert row["payload"] == {"x": [1, 2]}, route
    assert row["response_type"] == "string", f"{route}: the response is stored as a JSON string"
    assert row["response"] == reply.raw["body"] and json.loads(row["response"]) == reply.body, route
    assert (row["status_code"], row["error"], row["response_skipped"], row["base_path"]) == (200, None, False, None)
    assert (row["api_key_id"], row["created_at"]) == (w_pinned.api_key_id, NOW), route


def test_e1_analytics_payload_of_a_base64_body_and_of_no_body(e1: Scorer, w_pinned: DemoSeed,
                                                             db: psycopg.Connection[Any]) -> None:
    call_e1(e1, C, A, headers=key_headers(w_pinned), body='{"k": "v"}', base64_body=True)
    call_e1(e1, C, A, headers=key_headers(w_pinned))
    encoded = base64.b64encode(b"[1]").decode()
    e1.app.handle({"httpMethod": "GET", "path": e1_path(C, A), "headers": key_headers(w_pinned), "body": encoded,
                   "isBase64Encoded": True}, None)
    e1.app.handle({"httpMethod": "GET", "path": e1_path(C, A), "headers": key_headers(w_pinned), "body": None,
                   "isBase64Encoded": False}, None)
    rows = analytics(db)
    assert [r["payload"] for r in rows] == [{"k": "v"}, {}, [1], {}], \
        "E1 analytics payload: base64 JSON decoded; a missing or null body is {}"
    assert [r["query_params"] for r in rows] == [{}, {}, {}, {}], "E1 analytics: missing query string is {}"
    assert all(r["status_code"] == 200 for r in rows), "E1: the body does not change the answer"


def test_e1_analytics_off_unless_exactly_on(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                            db: psycopg.Connection[Any]) -> None:
    for value in (None, "On", "true", "1"):
        env = {} if value is None else {"FF_API_ANALYTICS": value}
        scorer = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, **env)
        assert call_e1(scorer, C, A, headers=key_headers(w_pinned)).status == 200
        assert analytics(db) == [], f"E1 with FF_API_ANALYTICS={value!r}: no analytics row"


def test_e1_rate_limit_is_not_enforced_by_default(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any]) -> None:
    key = make_api_key("limited")
    insert_api_key(db, key=key, account_id=w_pinned.account_id, rate_limit="3/30s", pbkdf2_iterations=1000)
    statuses = [call_e1(e1, C, A, headers={"x-api-key": key}).status for _ in range(4)]
    assert statuses == [200] * 4, f"E1 {e1_path(C, A)}: RATELIMIT_ENABLE defaults to false (§2.2, §4.3)"
