"""Fixture-row helpers fill every NOT NULL column and store values as the contract expects (§11.1, §11.2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg import errors

from scorer_lambda.local import demo as demo_data
from scorer_lambda.local import seed
from scorer_lambda.local.signing import ED25519_TRUSTED_DID, ETHR_TEST_DID, StampSigner

NOW = datetime(2026, 11, 22, 13, 49, 56, 680383, tzinfo=UTC)
A = "0x" + "a" * 40
KEY = "testkey1.0123456789abcdef0123456789abcdef"


def _community(db: psycopg.Connection[Any], **kwargs: Any) -> int:
    seed.insert_account(db, account_id=10, address="0x" + "1" * 40, user_id=10)
    seed.insert_scorer(db, scorer_id=20, weights={"Google": 0.525}, threshold="1.24900")
    return seed.insert_community(db, community_id=30, account_id=10, scorer_id=20, **kwargs)


def _stamp(signer: StampSigner, provider: str = "Google") -> dict[str, Any]:
    return signer.issue_eip712(
        address=A,
        provider=provider,
        nullifiers=[f"v0.0.0:{provider}"],
        issuance_date="2026-11-21T13:49:56Z",
        expiration_date="2027-01-15T10:20:30.456Z",
    )


def test_scorer_weights_keep_floats_as_numbers_and_strings_as_strings(db: psycopg.Connection[Any]) -> None:
    seed.insert_scorer(db, scorer_id=7, weights={"Google": 0.525, "Github": "1.5", "Ens": 15}, threshold="1.249")
    text, threshold = db.execute(
        "SELECT weights::text, threshold FROM scorer_weighted_binaryweightedscorer WHERE scorer_ptr_id = 7"
    ).fetchone()
    assert json.loads(text) == {"Google": 0.525, "Github": "1.5", "Ens": 15}
    assert isinstance(json.loads(text)["Google"], float)
    assert threshold == Decimal("1.24900")
    assert db.execute("SELECT type, exclude_from_weight_updates FROM scorer_weighted_scorer").fetchone() == (
        "WEIGHTED_BINARY",
        False,
    )


def test_weighted_scorer_goes_to_its_own_table(db: psycopg.Connection[Any]) -> None:
    seed.insert_scorer(db, scorer_id=8, weights=None, threshold=Decimal("0.7"), type="WEIGHTED")
    assert db.execute("SELECT weights, threshold FROM scorer_weighted_weightedscorer").fetchall() == [
        (None, Decimal("0.70000"))
    ]
    assert db.execute("SELECT count(*) FROM scorer_weighted_binaryweightedscorer").fetchone() == (0,)


def test_community_row(db: psycopg.Connection[Any]) -> None:
    community_id = _community(db, external_scorer_id="ext-1")
    row = db.execute(
        "SELECT name, rule, account_id, scorer_id, external_scorer_id, human_points_program, deleted_at"
        " FROM account_community WHERE id = %s",
        (community_id,),
    ).fetchone()
    assert row == ("Community 30", "LIFO", 10, 20, "ext-1", False, None)


def test_api_key_with_fast_path(db: psycopg.Connection[Any]) -> None:
    _community(db)
    key_id = seed.insert_api_key(db, key=KEY, account_id=10, pbkdf2_iterations=1000)
    row = db.execute(
        "SELECT id, prefix, hashed_key, hashed_key_sha256, revoked, expiry_date, rate_limit, embed_rate_limit,"
        " read_scores, analysis_rate_limit FROM account_accountapikey"
    ).fetchone()
    assert row is not None
    assert row[0] == key_id == f"testkey1.{row[2]}"
    assert row[1] == "testkey1"
    assert row[2].startswith("pbkdf2_sha256$1000$")
    salt = row[2].split("$")[2]
    assert len(salt) == 22 and salt.isalnum()
    assert row[2] == seed.pbkdf2_hash(KEY, salt=salt, iterations=1000)
    assert row[3] == seed.sha256_hash(KEY)
    assert row[4:] == (False, None, "", "125/15m", True, "15/15m")


def test_api_key_without_fast_path_and_revoked(db: psycopg.Connection[Any]) -> None:
    _community(db)
    expiry = NOW - timedelta(days=1)
    seed.insert_api_key(
        db, key=KEY, account_id=10, with_sha256=False, pbkdf2_iterations=1000, revoked=True, expiry_date=expiry
    )
    assert db.execute("SELECT hashed_key_sha256, revoked, expiry_date FROM account_accountapikey").fetchone() == (
        None,
        True,
        expiry,
    )


def test_cache_row_for_an_eip712_stamp(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    stamp = _stamp(signer)
    cache_id = seed.insert_cache_row(db, address=A, provider="Google", stamp=stamp, created_at=NOW)
    row = db.execute(
        "SELECT address, provider, stamp, created_at, updated_at, type, deleted_at, compose_db_save_status,"
        " compose_db_stream_id, expiration_date, issuance_date, proof_value, source_app, source_scorer_id"
        " FROM ceramic_cache_ceramiccache WHERE id = %s",
        (cache_id,),
    ).fetchone()
    assert row == (
        A,
        "Google",
        stamp,
        NOW,
        NOW,
        1,
        None,
        "pending",
        "",
        datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC),
        datetime(2026, 11, 21, 13, 49, 56, tzinfo=UTC),
        stamp["proof"]["proofValue"],
        None,
        None,
    )


def test_cache_row_for_an_ed25519_stamp_stores_the_jws(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    stamp = signer.issue_ed25519(
        address=A, provider="Ens", hash="v0.0.0:aA==", issuance_date="2026-01-01T00:00:00Z", expiration_date=NOW
    )
    cache_id = seed.insert_cache_row(db, address=A, provider="Ens", stamp=stamp, type=2, source_app=2)
    row = db.execute(
        "SELECT proof_value, type, source_app FROM ceramic_cache_ceramiccache WHERE id = %s", (cache_id,)
    ).fetchone()
    assert row == (stamp["proof"]["jws"], 2, 2)


def test_cache_row_with_unparseable_dates_stores_null(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    stamp = _stamp(signer)
    stamp["expirationDate"] = "not-a-date"
    del stamp["issuanceDate"]
    cache_id = seed.insert_cache_row(db, address=A, provider="Google", stamp=stamp)
    row = db.execute(
        "SELECT expiration_date, issuance_date, stamp->>'expirationDate' FROM ceramic_cache_ceramiccache WHERE id = %s",
        (cache_id,),
    ).fetchone()
    assert row == (None, None, "not-a-date")


def test_revocation_copies_the_proof_value(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    stamp = _stamp(signer)
    cache_id = seed.insert_cache_row(db, address=A, provider="Google", stamp=stamp)
    seed.revoke_cache_row(db, cache_id=cache_id)
    assert db.execute(
        "SELECT proof_value, ceramic_cache_id, revocation_list_id FROM ceramic_cache_revocation"
    ).fetchall() == [(stamp["proof"]["proofValue"], cache_id, None)]


def test_customization_allow_list_and_custom_credential(db: psycopg.Connection[Any]) -> None:
    community_id = _community(db)
    customization_id = seed.insert_customization(db, community_id=community_id, path="demo")
    seed.insert_allow_list(db, customization_id=customization_id, name="VIP", weight="1.5", members=[A])
    seed.insert_custom_credential(db, customization_id=customization_id, provider_id="DeveloperList#x", weight="2")
    assert db.execute("SELECT scorer_id FROM account_customization").fetchone() == (community_id,)
    assert db.execute(
        "SELECT l.name, a.weight FROM account_allowlist a JOIN account_addresslist l ON l.id = a.address_list_id"
        " WHERE a.customization_id = %s",
        (customization_id,),
    ).fetchall() == [("VIP", Decimal("1.5000"))]
    assert db.execute("SELECT address FROM account_addresslistmember").fetchall() == [(A,)]
    assert db.execute(
        "SELECT r.provider_id, cc.weight FROM account_customcredential cc"
        " JOIN account_customcredentialruleset r ON r.id = cc.ruleset_id WHERE cc.customization_id = %s",
        (customization_id,),
    ).fetchall() == [("DeveloperList#x", Decimal("2.0000"))]


def test_address_list_rejects_duplicate_members(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(errors.UniqueViolation):
        seed.insert_address_list(db, name="SeasonedPassportOGs", members=[A, A])


def test_human_points_config_defaults(db: psycopg.Connection[Any]) -> None:
    seed.insert_human_points_config(db)
    rows = dict(db.execute("SELECT action, points FROM registry_humanpointsconfig WHERE active").fetchall())
    assert rows == {
        "SCB": 500,
        "HKY": 100,
        "ISB": 100,
        "ISS": 200,
        "ISG": 500,
        "CSB": 100,
        "CSE": 200,
        "CST": 500,
        "PMT": 300,
        "HIM": 1000,
    }


def test_link_row(db: psycopg.Connection[Any]) -> None:
    community_id = _community(db)
    seed.insert_link(db, hash="v0.0.0:x", address=A, community_id=community_id, expires_at=NOW)
    assert db.execute("SELECT hash, address, community_id, expires_at FROM registry_hashscorerlink").fetchall() == [
        ("v0.0.0:x", A, community_id, NOW)
    ]


def test_seed_demo_builds_fixture_w(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    demo = demo_data.seed_demo(db, signer, now=NOW, pbkdf2_iterations=1000)
    assert (demo.community_id, demo.scorer_id) == (3, 7)
    assert demo.trusted_issuers == (ETHR_TEST_DID, ED25519_TRUSTED_DID)
    assert db.execute("SELECT scorer_id, rule, human_points_program FROM account_community").fetchall() == [
        (7, "LIFO", False)
    ]
    weights = db.execute("SELECT weights::text FROM scorer_weighted_binaryweightedscorer").fetchone()
    assert json.loads(weights[0]) == {"Google": 0.525, "Ens": 0.208, "Discord": 0.516, "Github": "1.5"}
    key = db.execute("SELECT prefix, hashed_key_sha256, rate_limit, account_id FROM account_accountapikey").fetchone()
    assert key == (demo.api_key.split(".")[0], seed.sha256_hash(demo.api_key), "", demo.account_id)

    rows = db.execute(
        "SELECT address, provider, stamp, expiration_date FROM ceramic_cache_ceramiccache ORDER BY id"
    ).fetchall()
    assert [(address, provider) for address, provider, _, _ in rows] == [
        (demo.address_a, "Google"),
        (demo.address_a, "Ens"),
        (demo.address_a, "Discord"),
        (demo.address_b, "Discord"),
        (demo.address_b, "Github"),
    ]
    stamps = {(address, provider): stamp for address, provider, stamp, _ in rows}
    assert stamps[(demo.address_a, "Google")]["expirationDate"] == "2027-01-15T10:20:30.456Z"
    assert stamps[(demo.address_a, "Ens")]["expirationDate"] == "2027-03-01T00:00:00Z"
    assert stamps[(demo.address_a, "Ens")]["credentialSubject"]["nullifiers"] == ["v0.0.0:e-A", "v1:e-A"]
    assert stamps[(demo.address_b, "Discord")]["credentialSubject"]["nullifiers"] == ["v0.0.0:shared"]
    assert all(signer.verify(stamp) == [] for stamp in stamps.values())
    assert all(expires > NOW for _, _, _, expires in rows)
    assert set(demo.cache_ids) == set(stamps)


def test_seed_demo_is_deterministic_given_now(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    demo = demo_data.seed_demo(db, signer, now=NOW, pbkdf2_iterations=1000)
    stored = db.execute(
        "SELECT stamp FROM ceramic_cache_ceramiccache WHERE id = %s", (demo.cache_ids[(demo.address_b, "Github")],)
    ).fetchone()
    again = signer.issue_eip712(
        address=demo.address_b,
        provider="Github",
        nullifiers=["v0.0.0:gh-B"],
        issuance_date="2026-11-21T13:49:56Z",
        expiration_date="2027-03-01T00:00:00Z",
    )
    assert stored == (again,)


def test_demo_dates_use_the_contract_dates_while_they_are_ahead() -> None:
    assert demo_data.demo_dates(NOW) == (
        datetime(2026, 11, 21, 13, 49, 56, tzinfo=UTC),
        datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
    )


def test_demo_dates_move_after_a_late_now() -> None:
    late = datetime(2027, 6, 1, 12, 0, 0, 123456, tzinfo=UTC)
    issued, short, long = demo_data.demo_dates(late)
    assert issued == datetime(2027, 5, 31, 12, 0, 0, tzinfo=UTC)
    assert late < short < long
    assert short.microsecond == 456000 and long.microsecond == 0
