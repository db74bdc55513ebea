"""E9–E11, the internal embed routes, through the ALB handler (§9.9–§9.11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_api_key
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.response import JSON_ONLY_HEADERS, RESPONSE_HEADERS

from ..harness import Scorer
from .conftest import MakeScorer

CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def _stamp(signer: StampSigner, address: str, provider: str, nullifier: str) -> dict[str, Any]:
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    return signer.issue_eip712(address=address, provider=provider, nullifiers=[nullifier], issuance_date=issued,
                               expiration_date=issued + timedelta(days=30))


def _cache(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return db.execute("SELECT * FROM ceramic_cache_ceramiccache ORDER BY id").fetchall()


def test_e9_adds_stamps_and_scores_in_the_given_community(scorer_w: Scorer, fixture_w: DemoSeed,
                                                          db: psycopg.Connection[Any], signer: StampSigner) -> None:
    """AT-19 (first half) and AT-29 (valid checksum)."""
    address = CHECKSUMMED.lower()
    google = _stamp(signer, address, "Google", "v0.0.0:embed-g")
    reply = scorer_w.call("POST", f"/internal/embed/stamps/{CHECKSUMMED}",
                          body={"scorer_id": str(fixture_w.community_id), "stamps": [google]})
    assert reply.status == 200, reply.body
    assert reply.headers == JSON_ONLY_HEADERS, "embed successes carry only Content-Type"
    assert reply.body["success"] is True
    assert [(s["address"], s["provider"]) for s in reply.body["stamps"]] == [(address, "Google")]
    assert reply.body["score"]["score"] == "0.52500" and reply.body["score"]["address"] == address
    row = db.execute("SELECT provider, source_app, source_scorer_id, type FROM ceramic_cache_ceramiccache"
                     " WHERE address = %s", (address,)).fetchone()
    assert row == ("Google", 2, fixture_w.community_id, 1)


def test_e9_unknown_scorer_writes_nothing(scorer_w: Scorer, db: psycopg.Connection[Any],
                                          signer: StampSigner) -> None:
    """AT-19 second half; the existing service wrote the stamps first (§12 #4)."""
    before = _cache(db)
    reply = scorer_w.call("POST", f"/internal/embed/stamps/{CHECKSUMMED}",
                          body={"scorer_id": 99999, "stamps": [_stamp(signer, CHECKSUMMED.lower(), "Google", "v0:u")]})
    assert (reply.status, reply.body) == (400, {"detail": "Community matching query does not exist."})
    assert reply.headers == RESPONSE_HEADERS, "embed errors carry the full header set"
    assert _cache(db) == before


@pytest.mark.parametrize(("address", "status"), [
    ("0xAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 400),   # mixed case with a wrong checksum
    ("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 200),   # all upper case needs no checksum
    ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 200),     # no prefix
    ("0x1234", 400),
])
def test_e9_strict_address_rule(scorer_w: Scorer, fixture_w: DemoSeed, address: str, status: int) -> None:
    """AT-29."""
    reply = scorer_w.call("POST", f"/internal/embed/stamps/{address}",
                          body={"scorer_id": fixture_w.community_id, "stamps": []})
    assert reply.status == status, reply.body
    if status == 400:
        assert reply.body == {"detail": "Invalid address."}
    else:
        assert reply.body["score"]["address"] == address.lower()


@pytest.mark.parametrize(("body", "status", "detail"), [
    ("{", 400, "An error has occurred"),
    ({"stamps": []}, 400, "An error has occurred"),
    ({"scorer_id": "x", "stamps": []}, 400, "An error has occurred"),
    ({"scorer_id": 3, "stamps": {}}, 400, "An error has occurred"),
    ({"scorer_id": 3, "stamps": [{"credentialSubject": {}}]}, 400, "An error has occurred"),
    ({"scorer_id": 3, "stamps": [{"credentialSubject": {"provider": "G"}}] * 101}, 422,
     "You have submitted too many stamps."),
    ({"scorer_id": 3, "stamps": [{"credentialSubject": {"provider": "G"}}]}, 400, "An error has occurred"),
])
def test_e9_rejects_bad_bodies_without_writing(scorer_w: Scorer, db: psycopg.Connection[Any], body: Any,
                                               status: int, detail: str) -> None:
    before = _cache(db)
    reply = scorer_w.call("POST", f"/internal/embed/stamps/{CHECKSUMMED}", body=body)
    assert (reply.status, reply.body) == (status, {"detail": detail})
    assert _cache(db) == before


def test_e9_duplicate_providers_are_rejected(scorer_w: Scorer, db: psycopg.Connection[Any], fixture_w: DemoSeed,
                                             signer: StampSigner) -> None:
    stamp = _stamp(signer, CHECKSUMMED.lower(), "Google", "v0.0.0:dup")
    before = _cache(db)
    reply = scorer_w.call("POST", f"/internal/embed/stamps/{CHECKSUMMED}",
                          body={"scorer_id": fixture_w.community_id, "stamps": [stamp, stamp]})
    assert (reply.status, reply.body) == (400, {"detail": "An error has occurred"})
    assert _cache(db) == before


def test_e9_negative_scorer_id_uses_the_demo_scorer(fixture_w: DemoSeed, make_scorer: MakeScorer,
                                                    db: psycopg.Connection[Any]) -> None:
    demo = make_scorer(trusted=fixture_w.trusted_issuers, DEMO_API_SCORER_ID=str(fixture_w.community_id))
    reply = demo.call("POST", f"/internal/embed/stamps/{CHECKSUMMED}", body={"scorer_id": -1, "stamps": []})
    assert reply.status == 200
    assert db.execute("SELECT community_id FROM registry_passport WHERE address = %s",
                      (CHECKSUMMED.lower(),)).fetchone() == (fixture_w.community_id,)
    no_demo = make_scorer(trusted=fixture_w.trusted_issuers)
    unknown = no_demo.call("POST", f"/internal/embed/stamps/{CHECKSUMMED}", body={"scorer_id": -1, "stamps": []})
    assert (unknown.status, unknown.body) == (400, {"detail": "Community matching query does not exist."})


def test_e10_validate_api_key(scorer_w: Scorer, fixture_w: DemoSeed, db: psycopg.Connection[Any]) -> None:
    """AT-20 (key part), AT-22 (E10 column), AT-24 (upgrade on E10)."""
    ok = scorer_w.call("GET", "/internal/embed/validate-api-key", headers={"x-api-key": fixture_w.api_key})
    assert (ok.status, ok.body, ok.headers) == (200, {"embed_rate_limit": "125/15m"}, JSON_ONLY_HEADERS)
    wrong_key = fixture_w.api_key[:-1] + "x"
    wrong = scorer_w.call("GET", "/internal/embed/validate-api-key", headers={"x-api-key": wrong_key})
    assert (wrong.status, wrong.body) == (401, {"detail": "Invalid API Key."})
    missing = scorer_w.call("GET", "/internal/embed/validate-api-key")
    assert (missing.status, missing.body) == (400, {"detail": "x-api-key"})

    revoked_key, expired_key, legacy_key = ("RVKD0001." + "a" * 32, "EXPD0001." + "b" * 32, "PBKD0001." + "c" * 32)
    insert_api_key(db, key=revoked_key, account_id=fixture_w.account_id, revoked=True, pbkdf2_iterations=1000)
    insert_api_key(db, key=expired_key, account_id=fixture_w.account_id, pbkdf2_iterations=1000,
                   expiry_date=datetime.now(UTC) - timedelta(days=1))
    key_id = insert_api_key(db, key=legacy_key, account_id=fixture_w.account_id, with_sha256=False,
                            pbkdf2_iterations=1000, embed_rate_limit=None)
    for key in (revoked_key, expired_key):
        reply = scorer_w.call("GET", "/internal/embed/validate-api-key", headers={"x-api-key": key})
        assert (reply.status, reply.body) == (401, {"detail": "Invalid API Key."}), key
    legacy = scorer_w.call("GET", "/internal/embed/validate-api-key", headers={"authorization": f"Token {legacy_key}"})
    assert (legacy.status, legacy.body) == (200, {"embed_rate_limit": None})
    stored = db.execute("SELECT hashed_key_sha256 FROM account_accountapikey WHERE id = %s", (key_id,)).fetchone()
    assert stored is not None and stored[0] is not None and stored[0].startswith("sha256$"), "PBKDF2 key upgraded"


def test_e11_scores_and_lists_stamps(scorer_w: Scorer, fixture_w: DemoSeed) -> None:
    c, b = fixture_w.community_id, fixture_w.address_b
    reply = scorer_w.call("GET", f"/internal/embed/score/{c}/{b}/")
    assert reply.status == 200, reply.body
    assert reply.headers == JSON_ONLY_HEADERS
    assert sorted(s["provider"] for s in reply.body["stamps"]) == ["Discord", "Github"]
    assert (reply.body["score"]["address"], reply.body["score"]["score"]) == (b, "2.01600")


@pytest.mark.parametrize(("path", "detail"), [
    ("/internal/embed/score/99999/0x" + "a" * 40, "Invalid scorer_id"),
    ("/internal/embed/score/abc/0x" + "a" * 40, "Field 'id' expected a number but got 'abc'."),
    ("/internal/embed/score/3/0x12", "Invalid address."),
    ("/internal/embed/score/-1/0x" + "a" * 40, "Invalid scorer_id"),
])
def test_e11_errors(scorer_w: Scorer, path: str, detail: str) -> None:
    """AT-20 (score part)."""
    reply = scorer_w.call("GET", path)
    assert (reply.status, reply.body) == (400, {"detail": detail}), path
    assert reply.headers == RESPONSE_HEADERS


def test_unknown_internal_path_answers_detail_not_found(scorer_w: Scorer) -> None:
    reply = scorer_w.call("GET", "/internal/embed/config")
    assert (reply.status, reply.body) == (404, {"detail": "Not Found"})
