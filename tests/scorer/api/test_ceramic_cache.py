"""E2–E8 through the ALB handler on real PostgreSQL, with real signed stamps and real tokens (§9.2–§9.8)."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_human_points_config
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.response import RESPONSE_HEADERS

from ..harness import Scorer, bearer, hs256_token
from .conftest import MakeScorer

W = "0x" + "c0ffee" * 6 + "abcd"  # a fresh address with no cache rows in fixture W
BULK = "/ceramic-cache/stamps/bulk"


def _stamp(signer: StampSigner, address: str, provider: str, nullifier: str, days: int = 60) -> dict[str, Any]:
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    return signer.issue_eip712(address=address, provider=provider, nullifiers=[nullifier], issuance_date=issued,
                               expiration_date=issued + timedelta(days=days))


def _rows(db: psycopg.Connection[Any], address: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT id, provider, type, deleted_at, updated_at, created_at, source_app, source_scorer_id,"
        " compose_db_save_status, compose_db_stream_id, proof_value, issuance_date, expiration_date"
        " FROM ceramic_cache_ceramiccache WHERE address = %s ORDER BY id", (address,)).fetchall()


def _snapshot(db: psycopg.Connection[Any]) -> tuple[Any, ...]:
    """Everything a write could touch, to prove that a rejected request changed nothing."""
    return (db.execute("SELECT * FROM ceramic_cache_ceramiccache ORDER BY id").fetchall(),
            db.execute("SELECT * FROM registry_score ORDER BY id").fetchall(),
            db.execute("SELECT * FROM registry_event ORDER BY id").fetchall())


@pytest.fixture
def auth_w() -> dict[str, str]:
    return bearer(hs256_token(W))


# --- E2 ---------------------------------------------------------------------------------------------------------

def test_e2_post_writes_stamps_and_answers_201_with_a_fresh_score(scorer_w: Scorer, db: psycopg.Connection[Any],
                                                                  signer: StampSigner, auth_w: dict[str, str]) -> None:
    google, ens = _stamp(signer, W, "Google", "v0.0.0:g-W"), _stamp(signer, W, "Ens", "v0.0.0:e-W")
    reply = scorer_w.call("POST", BULK, headers=auth_w,
                          body=[{"provider": "Google", "stamp": google}, {"provider": "Ens", "stamp": ens}])
    assert reply.status == 201, reply.body
    assert reply.raw["statusDescription"] == "200 OK"
    assert reply.headers == RESPONSE_HEADERS
    assert reply.body["success"] is True
    assert [(s["provider"], s["address"]) for s in reply.body["stamps"]] == [("Google", W), ("Ens", W)]
    assert reply.body["stamps"][0]["stamp"] == google
    score = reply.body["score"]
    assert (score["score"], score["passing_score"], score["error"]) == ("0.73300", False, None)
    rows = _rows(db, W)
    assert len(rows) == 2
    for (_, provider, type_, deleted, updated, created, app, scorer_id, status, stream, proof, issued, expires), \
            stamp in zip(rows, (google, ens), strict=True):
        assert (type_, deleted, app, scorer_id, status, stream) == (1, None, 1, None, "pending", ""), provider
        assert created == updated, provider
        assert proof == stamp["proof"]["proofValue"], provider
        assert issued == datetime.fromisoformat(stamp["issuanceDate"]), provider
        assert expires == datetime.fromisoformat(stamp["expirationDate"]), provider


def test_e2_repost_soft_deletes_the_previous_row_of_the_provider(scorer_w: Scorer, db: psycopg.Connection[Any],
                                                                 signer: StampSigner, auth_w: dict[str, str]) -> None:
    scorer_w.call("POST", BULK, headers=auth_w, body=[{"provider": "Google", "stamp": _stamp(signer, W, "Google",
                                                                                             "v0.0.0:g1")}])
    reply = scorer_w.call("POST", BULK, headers=auth_w,
                          body=[{"provider": "Google", "stamp": _stamp(signer, W, "Google", "v0.0.0:g2")}])
    assert reply.status == 201
    (_, _, _, old_deleted, old_updated, *_), (new_id, _, _, new_deleted, *_) = _rows(db, W)
    assert old_deleted is not None and old_deleted == old_updated, "previous Google row soft-deleted"
    assert new_deleted is None
    assert [s["id"] for s in reply.body["stamps"]] == [new_id]


def test_e2_base64_body_and_empty_array(scorer_w: Scorer, db: psycopg.Connection[Any], auth_w: dict[str, str]) -> None:
    reply = scorer_w.call("POST", BULK, headers=auth_w, body="[]", base64_body=True)
    assert reply.status == 201
    assert reply.body["stamps"] == [] and reply.body["score"]["score"] == "0.00000"
    assert _rows(db, W) == []
    assert db.execute("SELECT count(*) FROM registry_score").fetchone() == (1,), "a fresh score was computed"


def test_e2_too_many_items_answers_422_and_changes_nothing(scorer_w: Scorer, db: psycopg.Connection[Any],
                                                           auth_w: dict[str, str]) -> None:
    before = _snapshot(db)
    items = [{"provider": f"P{i}", "stamp": {"proof": {"proofValue": "0x"}}} for i in range(101)]
    reply = scorer_w.call("POST", BULK, headers=auth_w, body=items)
    assert (reply.status, reply.body) == (422, {"error": "You have submitted too many stamps."})
    assert _snapshot(db) == before


@pytest.mark.parametrize("headers", [
    {},
    {"authorization": "Bearer " + hs256_token(W, now=time.time() - 2 * 86400)},
    {"authorization": "Bearer garbage"},
    {"authorization": "Bearer " + hs256_token(W, jti=None)},
    {"authorization": "Bearer " + hs256_token(W, exp=None)},
    {"authorization": "Bearer " + hs256_token(W, token_type="refresh")},
    {"authorization": "Bearer " + hs256_token(W, secret="another-secret")},
    {"authorization": "Bearer " + jwt.encode({"did": f"did:pkh:eip155:1:{W}", "token_type": "access",
                                               "exp": int(time.time()) + 60, "jti": "x"}, key=None,
                                              algorithm="none")},
], ids=["missing", "expired", "garbage", "no-jti", "no-exp", "refresh", "wrong-key", "alg-none"])
def test_e2_bad_tokens_answer_401(scorer_w: Scorer, db: psycopg.Connection[Any], headers: dict[str, str]) -> None:
    before = _snapshot(db)
    reply = scorer_w.call("POST", BULK, headers=headers, body=[])
    assert (reply.status, reply.body) == (401, {"error": "Given token not valid for any token type"})
    assert reply.headers == RESPONSE_HEADERS
    assert _snapshot(db) == before


def test_e2_token_without_did_answers_400(scorer_w: Scorer) -> None:
    reply = scorer_w.call("POST", BULK, headers=bearer(hs256_token(W, did=None)), body=[])
    assert (reply.status, reply.body) == (400, {"error": "An error has occurred"})


@pytest.mark.parametrize("case", ["missing-stamp", "no-proof-value", "duplicate", "bad-date", "object-body",
                                  "not-json", "item-not-object", "provider-not-string", "address-not-string"])
def test_e2_malformed_payload_answers_400_and_writes_nothing(scorer_w: Scorer, db: psycopg.Connection[Any],
                                                             signer: StampSigner, fixture_w: DemoSeed,
                                                             case: str) -> None:
    """AT-25: the user's live rows survive; the existing service soft-deleted them first (§12 #3)."""
    a = fixture_w.address_a
    scorer_w.call("GET", f"/v2/stamps/{fixture_w.community_id}/score/{a}", headers={"x-api-key": fixture_w.api_key})
    good = _stamp(signer, a, "Google", "v0.0.0:new-g")
    no_proof = {**good, "proof": {k: v for k, v in good["proof"].items() if k != "proofValue"}}
    bodies: dict[str, Any] = {
        "missing-stamp": [{"provider": "Google", "stamp": good}, {"provider": "Ens"}],
        "no-proof-value": [{"provider": "Google", "stamp": no_proof}],
        "duplicate": [{"provider": "Google", "stamp": good}, {"provider": "Google", "stamp": good}],
        "bad-date": [{"provider": "Google", "stamp": {**good, "issuanceDate": "yesterday"}}],
        "object-body": {"a": 1},
        "not-json": "[{",
        "item-not-object": ["Google"],
        "provider-not-string": [{"provider": 5, "stamp": good}],
        "address-not-string": [{"provider": "Google", "stamp": good, "address": 5}],
    }
    before = _snapshot(db)
    reply = scorer_w.call("POST", BULK, headers=bearer(hs256_token(a)), body=bodies[case])
    assert (reply.status, reply.body) == (400, {"error": "An error has occurred"}), case
    assert _snapshot(db) == before, f"{case}: nothing may change"


def test_e2_invalid_token_address_answers_400(scorer_w: Scorer) -> None:
    reply = scorer_w.call("POST", BULK, headers=bearer(hs256_token("0x1234")), body=[])
    assert (reply.status, reply.body) == (400, {"error": "Invalid address."})


def test_e2_scorer_id_not_set_and_unknown_community(fixture_w: DemoSeed, make_scorer: MakeScorer,
                                                     auth_w: dict[str, str]) -> None:
    unset = make_scorer(trusted=fixture_w.trusted_issuers, CERAMIC_CACHE_SCORER_ID="")
    assert (unset.call("POST", BULK, headers=auth_w, body=[]).body) == {"error": "Scorer ID not set"}
    assert unset.call("POST", BULK, headers=auth_w, body=[]).status == 500
    unknown = make_scorer(trusted=fixture_w.trusted_issuers, CERAMIC_CACHE_SCORER_ID="99999")
    reply = unknown.call("POST", BULK, headers=auth_w, body=[])
    assert (reply.status, reply.body) == (400, {"error": "An error has occurred"})


def test_e2_checksummed_did_is_stored_lowercase(scorer_w: Scorer, db: psycopg.Connection[Any],
                                                signer: StampSigner) -> None:
    mixed = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
    lower = mixed.lower()
    stamp = _stamp(signer, lower, "Google", "v0.0.0:mixed")
    reply = scorer_w.call("POST", BULK, headers=bearer(hs256_token(mixed)),
                          body=[{"provider": "Google", "stamp": stamp}])
    assert reply.status == 201
    assert reply.body["score"]["address"] == lower
    assert reply.body["score"]["stamps"]["Google"]["dedup"] is False
    assert [r[1] for r in _rows(db, lower)] == ["Google"]


def test_e2_rs256_siwe_token(fixture_w: DemoSeed, make_scorer: MakeScorer) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    scorer = make_scorer(trusted=fixture_w.trusted_issuers, CERAMIC_CACHE_SCORER_ID=str(fixture_w.community_id),
                         SIWE_JWT_PUBLIC_KEY=base64.b64encode(pem.encode()).decode())
    now = int(time.time())
    claims = {"did": f"did:pkh:eip155:1:{W}", "iat": now, "exp": now + 7 * 86400, "jti": "u",
              "iss": "passport-scorer", "token_type": "access"}
    good = jwt.encode(claims, key, algorithm="RS256")
    no_iss = jwt.encode({k: v for k, v in claims.items() if k != "iss"}, key, algorithm="RS256")
    assert scorer.call("POST", BULK, headers=bearer(good), body=[]).status == 201
    assert scorer.call("POST", BULK, headers=bearer(no_iss), body=[]).status == 401
    # The legacy HS256 token still works next to the SIWE key.
    assert scorer.call("POST", BULK, headers=bearer(hs256_token(W)), body=[]).status == 201


def test_empty_secret_key_accepts_no_hs256_token(fixture_w: DemoSeed, make_scorer: MakeScorer) -> None:
    scorer = make_scorer(trusted=fixture_w.trusted_issuers, SECRET_KEY="",
                         CERAMIC_CACHE_SCORER_ID=str(fixture_w.community_id))
    token = jwt.encode({"did": f"did:pkh:eip155:1:{W}", "exp": int(time.time()) + 60, "jti": "x",
                        "token_type": "access"}, "", algorithm="HS256")
    assert scorer.call("POST", BULK, headers=bearer(token), body=[]).status == 401


# --- E3, E4 -----------------------------------------------------------------------------------------------------

def test_e3_patch_deletes_and_replaces(scorer_w: Scorer, db: psycopg.Connection[Any], signer: StampSigner,
                                       auth_w: dict[str, str]) -> None:
    scorer_w.call("POST", BULK, headers=auth_w, body=[
        {"provider": "Google", "stamp": _stamp(signer, W, "Google", "v0.0.0:pg1")},
        {"provider": "Ens", "stamp": _stamp(signer, W, "Ens", "v0.0.0:pe1")}])
    google = _stamp(signer, W, "Google", "v0.0.0:pg2")
    reply = scorer_w.call("PATCH", BULK, headers=auth_w, body=[{"provider": "Ens"}, {"provider": "Google",
                                                                                      "stamp": google}])
    assert reply.status == 200, reply.body
    assert reply.headers == RESPONSE_HEADERS
    assert [s["provider"] for s in reply.body["stamps"]] == ["Google"]
    assert reply.body["score"]["score"] == "0.52500"
    live = [r for r in _rows(db, W) if r[3] is None]
    assert [(r[1], r[6], r[7]) for r in live] == [("Google", None, None)], "PATCH rows have no source app"


def test_e3_duplicates_with_two_stamps_are_rejected_but_delete_only_duplicates_are_fine(
        scorer_w: Scorer, db: psycopg.Connection[Any], signer: StampSigner, auth_w: dict[str, str]) -> None:
    stamp = _stamp(signer, W, "Google", "v0.0.0:d1")
    before = _snapshot(db)
    bad = scorer_w.call("PATCH", BULK, headers=auth_w, body=[{"provider": "Google", "stamp": stamp},
                                                              {"provider": "Google", "stamp": stamp}])
    assert (bad.status, bad.body) == (400, {"error": "An error has occurred"})
    assert _snapshot(db) == before
    ok = scorer_w.call("PATCH", BULK, headers=auth_w, body=[{"provider": "Google", "stamp": stamp},
                                                             {"provider": "Google", "stamp": None}])
    assert ok.status == 200 and [s["provider"] for s in ok.body["stamps"]] == ["Google"]


def test_e4_delete_then_delete_again(scorer_w: Scorer, db: psycopg.Connection[Any], signer: StampSigner,
                                     auth_w: dict[str, str]) -> None:
    scorer_w.call("POST", BULK, headers=auth_w, body=[{"provider": "Google",
                                                       "stamp": _stamp(signer, W, "Google", "v0.0.0:x1")}])
    first = scorer_w.call("DELETE", BULK, headers=auth_w, body=[{"provider": "Google"}, {"provider": "Nope"}])
    assert first.status == 200
    assert first.body["success"] is True and first.body["stamps"] == []
    assert first.body["score"]["score"] == "0.00000" and first.body["score"]["stamps"] == {}
    events = db.execute("SELECT count(*) FROM registry_event WHERE action = 'SCU'").fetchone()
    before = _snapshot(db)
    second = scorer_w.call("DELETE", BULK, headers=auth_w, body=[{"provider": "Google"}])
    assert (second.status, second.body) == (404, {"error": "Unable to find stamp to delete."})
    assert _snapshot(db) == before, "a DELETE that matches nothing changes nothing and scores nothing"
    assert db.execute("SELECT count(*) FROM registry_event WHERE action = 'SCU'").fetchone() == events
    empty = scorer_w.call("DELETE", BULK, headers=auth_w, body=[])
    assert empty.status == 404


def test_e4_invalid_address_is_rejected_before_any_lookup(scorer_w: Scorer, db: psycopg.Connection[Any]) -> None:
    before = _snapshot(db)
    reply = scorer_w.call("DELETE", BULK, headers=bearer(hs256_token("0x12")), body=[{"provider": "Google"}])
    assert (reply.status, reply.body) == (400, {"error": "Invalid address."})
    assert _snapshot(db) == before


# --- E5, E6 -----------------------------------------------------------------------------------------------------

def test_e5_scores_the_token_address_not_the_path(scorer_w: Scorer, fixture_w: DemoSeed, db: psycopg.Connection[Any],
                                                  make_scorer: MakeScorer) -> None:
    a = fixture_w.address_a
    reply = scorer_w.call("POST", "/ceramic-cache/score/0x0000000000000000000000000000000000000001",
                          headers=bearer(hs256_token(a)))
    assert reply.status == 200
    assert reply.body["address"] == a and reply.body["score"] == "1.24900"
    db.execute("INSERT INTO scorer_weighted_scorer (id, type, exclude_from_weight_updates)"
               " VALUES (8, 'WEIGHTED', false)")
    db.execute("INSERT INTO scorer_weighted_weightedscorer (scorer_ptr_id, weights, threshold)"
               " VALUES (8, '{\"Google\": 0.525}', 0.5)")
    db.execute("INSERT INTO account_community (id, name, description, account_id, scorer_id, rule,"
               " human_points_program) VALUES (4, 'C2', '', %s, 8, 'LIFO', false)", (fixture_w.account_id,))
    alternate = scorer_w.call("POST", f"/ceramic-cache/score/{a}", headers=bearer(hs256_token(a)),
                              body={"alternate_scorer_id": 4})
    assert alternate.status == 200
    assert (alternate.body["score"], alternate.body["threshold"]) == ("0.52500", "0.50000")
    assert db.execute("SELECT count(*) FROM registry_passport WHERE address = %s AND community_id = 4",
                      (a,)).fetchone() == (1,)
    for body in ([1], {"alternate_scorer_id": "abc"}, {"alternate_scorer_id": 99999}):
        bad = scorer_w.call("POST", f"/ceramic-cache/score/{a}", headers=bearer(hs256_token(a)), body=body)
        assert (bad.status, bad.body) == (400, {"error": "An error has occurred"}), body


def test_e6_returns_the_stored_score_without_writing_and_rescores_when_expired(
        scorer_w: Scorer, fixture_w: DemoSeed, db: psycopg.Connection[Any]) -> None:
    """AT-18."""
    c = fixture_w.community_id
    scorer_w.call("POST", "/ceramic-cache/score/x", headers=bearer(hs256_token(W)))
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    db.execute("UPDATE registry_score SET expiration_date = %s, evidence = %s", (tomorrow, psycopg.types.json.Jsonb(
        {"rawScore": "10", "threshold": "5"})))
    events = db.execute("SELECT count(*) FROM registry_event").fetchone()
    stored = scorer_w.call("GET", "/ceramic-cache/score/0x0000000000000000000000000000000000000001",
                           headers=bearer(hs256_token(W)))
    assert stored.status == 200
    assert (stored.body["score"], stored.body["threshold"], stored.body["passing_score"]) == ("10.00000", "5.00000",
                                                                                             True)
    assert stored.body["expiration_timestamp"] == tomorrow.isoformat()
    assert db.execute("SELECT count(*) FROM registry_event").fetchone() == events, "the stored path writes nothing"
    db.execute("UPDATE registry_score SET expiration_date = %s", (datetime.now(UTC) - timedelta(days=1),))
    fresh = scorer_w.call("GET", f"/ceramic-cache/score/{W}", headers=bearer(hs256_token(W)))
    assert fresh.status == 200 and fresh.body["score"] == "0.00000"
    assert db.execute("SELECT count(*) FROM registry_event WHERE action = 'SCU' AND community_id = %s",
                      (c,)).fetchone()[0] == events[0] + 1


def test_e6_errors(scorer_w: Scorer, fixture_w: DemoSeed, make_scorer: MakeScorer) -> None:
    token = bearer(hs256_token(W))
    missing = scorer_w.call("GET", f"/ceramic-cache/score/{W}", headers=token, query={"alternate_scorer_id": "999"})
    assert (missing.status, missing.body) == (404, {"error": "Community matching the configured scorer id does not "
                                                             "exist! This is probably a misconfiguration!"})
    bad_id = scorer_w.call("GET", f"/ceramic-cache/score/{W}", headers=token, query={"alternate_scorer_id": "x"})
    assert (bad_id.status, bad_id.body) == (400, {"error": "Unable to get score for provided scorer."})
    unset = make_scorer(trusted=fixture_w.trusted_issuers, CERAMIC_CACHE_SCORER_ID="")
    assert unset.call("GET", f"/ceramic-cache/score/{W}", headers=token).body == {
        "error": "Unable to get score for provided scorer."}
    bad_address = scorer_w.call("GET", f"/ceramic-cache/score/{W}", headers=bearer(hs256_token("0xzz")))
    assert (bad_address.status, bad_address.body) == (400, {"error": "Invalid address."})


def test_e6_points_on_the_stored_path_only(fixture_w: DemoSeed, make_scorer: MakeScorer,
                                            db: psycopg.Connection[Any], signer: StampSigner) -> None:
    """AT-21 read side: points appear only on E6's stored-score path, with both flags on."""
    a, c = fixture_w.address_a, fixture_w.community_id
    insert_human_points_config(db)
    db.execute("UPDATE account_community SET human_points_program = true WHERE id = %s", (c,))
    scorer = make_scorer(trusted=fixture_w.trusted_issuers, CERAMIC_CACHE_SCORER_ID=str(c),
                         HUMAN_POINTS_ENABLED="true", HUMAN_POINTS_WRITE_ENABLED="true")
    token = bearer(hs256_token(a))
    rescored = scorer.call("GET", f"/ceramic-cache/score/{a}", headers=token)
    assert rescored.status == 200 and rescored.body["points_data"] is None, "the re-score path carries no points"
    stored = scorer.call("GET", f"/ceramic-cache/score/{a}", headers=token)
    hky = 3 * 100  # one Human Keys row per kept stamp, 100 points each
    assert stored.body["points_data"] == {"total_points": hky, "is_eligible": True, "multiplier": 1,
                                          "breakdown": {"HKY": hky}}
    possible = stored.body["possible_points_data"]
    assert list(possible) == ["total_points", "is_eligible", "multiplier", "breakdown"]
    assert (possible["total_points"], possible["is_eligible"], possible["breakdown"]["HIM"]) == (0, False, 1000)
    posted = scorer.call("POST", f"/ceramic-cache/score/{a}", headers=token)
    assert posted.body["points_data"] is None


# --- E7, E8 -----------------------------------------------------------------------------------------------------

def test_e7_weights_as_stored_and_misconfiguration(scorer_w: Scorer, fixture_w: DemoSeed,
                                                    make_scorer: MakeScorer) -> None:
    reply = scorer_w.call("GET", "/ceramic-cache/weights")
    assert reply.status == 200
    assert reply.body == {"Ens": 0.208, "Github": "1.5", "Google": 0.525, "Discord": 0.516}
    assert isinstance(reply.body["Github"], str) and isinstance(reply.body["Ens"], float)
    for value in ("424242", "abc"):
        broken = make_scorer(trusted=fixture_w.trusted_issuers, CERAMIC_CACHE_SCORER_ID=value)
        failed = broken.call("GET", "/ceramic-cache/weights")
        assert (failed.status, failed.body) == (
            500, {"error": f"Unable to retrieve configured scorer! settings.CERAMIC_CACHE_SCORER_ID={value}"})


def test_e8_lists_type_1_stamps_and_scores_an_unscored_address(scorer_w: Scorer, fixture_w: DemoSeed,
                                                               db: psycopg.Connection[Any]) -> None:
    """AT-30."""
    b, c = fixture_w.address_b, fixture_w.community_id
    missing = scorer_w.call("GET", "/ceramic-cache/stamp")
    assert (missing.status, missing.body) == (400, {"error": "Bad request"})
    reply = scorer_w.call("GET", "/ceramic-cache/stamp", query={"address": b.upper().replace("0X", "0x")})
    assert reply.status == 200
    assert reply.body["success"] is True
    assert sorted(s["provider"] for s in reply.body["stamps"]) == ["Discord", "Github"]
    assert all(s["address"] == b for s in reply.body["stamps"])
    assert db.execute("SELECT s.status FROM registry_score s JOIN registry_passport p ON p.id = s.passport_id"
                      " WHERE p.address = %s AND p.community_id = %s", (b, c)).fetchone() == ("DONE",)
    again = scorer_w.call("GET", "/ceramic-cache/stamp", query={"address": b})
    assert again.body == reply.body
    assert db.execute("SELECT count(*) FROM registry_event WHERE action = 'SCU' AND address = %s",
                      (b,)).fetchone() == (1,), "an address with a score is not scored again"
    invalid = scorer_w.call("GET", "/ceramic-cache/stamp", query={"address": "0x12"})
    assert (invalid.status, invalid.body) == (400, {"error": "Invalid address."})
