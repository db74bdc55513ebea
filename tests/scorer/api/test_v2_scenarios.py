"""The scenario suite on fixture S through E1 (scoring contract §10.3): addresses A–F scored in order.

Fixture S is seeded once per module and A–F are scored once, in the contract's order (A before C matters); each
test then checks one address's response and rows. E is also scored with ``FF_MULTI_NULLIFIER=on`` on its own database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from scorer_lambda.local.seed import (
    insert_account,
    insert_api_key,
    insert_cache_row,
    insert_community,
    insert_scorer,
    revoke_cache_row,
)
from scorer_lambda.local.signing import TRUSTED_TEST_ISSUERS, StampSigner

from ..harness import Reply, Scorer
from .v2_support import (
    ISSUED,
    NOW,
    Clock,
    call_e1,
    e1_path,
    events,
    issue,
    links,
    module_database,
    score_row,
    stamp_providers,
    trusted_env,
)

S = 30
SCORER = 21
KEY = "SUITEKEY.0123456789abcdefghijABCDEFGHIJ01"
WEIGHTS = {"BinanceBABT": 16.021, "Brightid": 0.202, "CivicCaptchaPass": 0.823, "CivicLivenessPass": 3.038,
           "CivicUniquenessPass": 5.005, "Discord": 0.516, "Ens": 0.208, "Google": 0.525, "Linkedin": 1.531}
A, B, C, D, E, F = ("0x" + ch * 40 for ch in "abcdef")
ORDER = (("A", A), ("B", B), ("C", C), ("D", D), ("E", E), ("F", F))
EXPIRES = NOW + timedelta(days=90)
SHARED = "v0.0.0:BinanceBABT:shared-human-1"
E_V1 = "v1:" + "e" * 64


def _nullifier(provider: str, addr: str) -> str:
    return f"v0.0.0:{provider}:{addr}"


def _store(db: psycopg.Connection[Any], addr: str, provider: str, stamp: dict[str, Any], **kwargs: Any) -> int:
    return insert_cache_row(db, address=addr, provider=provider, stamp=stamp, **{"created_at": NOW, **kwargs})


def _stamp(signer: StampSigner, addr: str, provider: str, nullifiers: list[str] | None = None,
           **kwargs: Any) -> dict[str, Any]:
    return issue(signer, addr, provider, nullifiers or [_nullifier(provider, addr)],
                 **{"expires": EXPIRES, **kwargs})


def seed_base(db: psycopg.Connection[Any]) -> None:
    insert_account(db, account_id=1, address="0x" + "1" * 40, user_id=1)
    insert_scorer(db, scorer_id=SCORER, weights=WEIGHTS, threshold="20.00000")
    insert_community(db, community_id=S, account_id=1, scorer_id=SCORER)
    insert_api_key(db, key=KEY, account_id=1, pbkdf2_iterations=1000)


def seed_a_to_d_and_f(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    _store(db, A, "BinanceBABT", _stamp(signer, A, "BinanceBABT", [SHARED]))
    _store(db, A, "CivicUniquenessPass", _stamp(signer, A, "CivicUniquenessPass"))
    _store(db, A, "Discord", _stamp(signer, A, "Discord", expires=NOW + timedelta(days=30)))
    ens = signer.issue_ed25519(address=A, provider="Ens", nullifiers=[_nullifier("Ens", A)], issuance_date=ISSUED,
                               expiration_date=EXPIRES)
    assert "jws" in ens["proof"] and "proofValue" not in ens["proof"], "fixture S: an Ed25519Signature2018 stamp"
    _store(db, A, "Ens", ens)

    for provider in ("Discord", "Ens", "Brightid", "UnknownProviderX"):
        _store(db, B, provider, _stamp(signer, B, provider))

    _store(db, C, "BinanceBABT", _stamp(signer, C, "BinanceBABT", [SHARED]))
    _store(db, C, "Discord", _stamp(signer, C, "Discord"))

    _store(db, D, "Ens", _stamp(signer, D, "Ens"))
    _store(db, D, "Google", _stamp(signer, D, "Google", issued=NOW - timedelta(days=60),
                                   expires=NOW - timedelta(days=2)))
    _store(db, D, "Github", signer.issue_ed25519(address=D, provider="Github", nullifiers=[_nullifier("Github", D)],
                                                 issuance_date=ISSUED, expiration_date=EXPIRES, trusted=False))
    tampered = _stamp(signer, D, "Linkedin")
    tampered["credentialSubject"]["nullifiers"] = ["v0.0.0:Linkedin:tampered"]
    _store(db, D, "Linkedin", tampered)
    _store(db, D, "Twitter", _stamp(signer, D, "Twitter", subject_did=f"did:pkh:eip155:1:{A}"))
    revoke_cache_row(db, cache_id=_store(db, D, "CivicCaptchaPass", _stamp(signer, D, "CivicCaptchaPass")))


def seed_e(db: psycopg.Connection[Any], signer: StampSigner) -> None:
    hour = timedelta(hours=1)
    _store(db, E, "Discord", _stamp(signer, E, "Discord"), created_at=NOW - 2 * hour, updated_at=NOW - hour)
    _store(db, E, "Discord", _stamp(signer, E, "Discord", [_nullifier("Discord", E) + ":v2"]), type=2)
    _store(db, E, "Ens", _stamp(signer, E, "Ens", [_nullifier("Ens", E) + ":old"]), created_at=NOW - 3 * hour,
           deleted_at=NOW - 2 * hour)
    _store(db, E, "Ens", _stamp(signer, E, "Ens"), created_at=NOW - 3 * hour, updated_at=NOW - 3 * hour)
    _store(db, E, "CivicLivenessPass", _stamp(signer, E, "CivicLivenessPass",
                                              [_nullifier("CivicLivenessPass", E), E_V1]))


@dataclass
class Suite:
    db: psycopg.Connection[Any]
    replies: dict[str, Reply]


@pytest.fixture(scope="module")
def suite(pg_server: Any, signer: StampSigner) -> Iterator[Suite]:
    with module_database(pg_server) as url, psycopg.connect(url, autocommit=True) as db:
        seed_base(db)
        seed_a_to_d_and_f(db, signer)
        seed_e(db, signer)
        scorer = Scorer(url, trusted_env(TRUSTED_TEST_ISSUERS), clock=Clock(NOW))
        try:
            replies = {name: call_e1(scorer, S, addr, headers={"x-api-key": KEY}) for name, addr in ORDER}
        finally:
            scorer.close()
        yield Suite(db, replies)


def _check(suite: Suite, name: str, addr: str, *, score: str, passing: bool, raw: str, stamps: dict[str, Any],
           expiration: str | None) -> dict[str, Any]:
    route = f"E1 {e1_path(S, addr)} (S/{name})"
    reply = suite.replies[name]
    assert reply.status == 200, route
    assert reply.body == {
        "address": addr, "score": score, "passing_score": passing, "last_score_timestamp": NOW.isoformat(),
        "expiration_timestamp": expiration, "threshold": "20.00000", "error": None, "stamps": stamps,
        "points_data": None, "possible_points_data": None, "linked_score": None,
    }, route
    row = score_row(suite.db, addr, S)
    assert row is not None, route
    assert row["evidence"] == {"type": "ThresholdScoreCheck", "success": passing, "rawScore": raw,
                               "threshold": "20.00000"}, f"{route}: evidence"
    assert row["score"] == Decimal(int(passing)), f"{route}: score column"
    assert row["stamps"] == stamps, f"{route}: stored stamps map"
    return row


def _kept(score: str, expires: str = EXPIRES.isoformat()) -> dict[str, Any]:
    return {"score": score, "dedup": False, "expiration_date": expires}


def _owned(db: psycopg.Connection[Any], addr: str) -> set[str]:
    return {h for h, (owner, _) in links(db, S).items() if owner == addr}


def test_s_a_sums_four_stamps_including_ed25519_and_passes(suite: Suite) -> None:
    _check(suite, "A", A, score="21.75000", passing=True, raw="21.75000000000000069388939040",
           expiration=(NOW + timedelta(days=30)).isoformat(),
           stamps={"BinanceBABT": _kept("16.02100"), "CivicUniquenessPass": _kept("5.00500"),
                   "Discord": _kept("0.51600", (NOW + timedelta(days=30)).isoformat()), "Ens": _kept("0.20800")})
    assert _owned(suite.db, A) == {SHARED, _nullifier("CivicUniquenessPass", A), _nullifier("Discord", A),
                                   _nullifier("Ens", A)}, "S/A: 4 links"
    assert stamp_providers(suite.db, A, S) == ["BinanceBABT", "CivicUniquenessPass", "Discord", "Ens"], "S/A"


def test_s_b_unknown_provider_scores_zero_but_is_listed(suite: Suite) -> None:
    row = _check(suite, "B", B, score="0.92600", passing=False, raw="0.9260000000000000175415237891",
                 expiration=EXPIRES.isoformat(),
                 stamps={"Brightid": _kept("0.20200"), "Discord": _kept("0.51600"), "Ens": _kept("0.20800"),
                         "UnknownProviderX": _kept("0.00000")})
    assert row["stamp_scores"] == {"Brightid": 0.202, "Discord": 0.516, "Ens": 0.208, "UnknownProviderX": 0.0}, \
        "S/B: stamp_scores"
    assert len(_owned(suite.db, B)) == 4, "S/B: the unknown provider's stamp is linked too"


def test_s_c_shared_nullifier_is_deduplicated_against_a(suite: Suite) -> None:
    found = suite.db.execute("SELECT stamp->>'expirationDate' FROM ceramic_cache_ceramiccache"
                             " WHERE address = %s AND provider = 'BinanceBABT'", (C,)).fetchone()
    assert found is not None and found[0].endswith("Z"), "fixture S: C's raw credential date"
    raw_expiry = found[0]
    _check(suite, "C", C, score="0.51600", passing=False, raw="0.5160000000000000142108547152",
           expiration=EXPIRES.isoformat(),
           stamps={"Discord": _kept("0.51600"),
                   "BinanceBABT": {"score": "0.00000", "dedup": True, "expiration_date": raw_expiry}})
    (ldp,) = events(suite.db, "LDP", C)
    assert ldp["data"] == {"provider": "BinanceBABT", "nullifiers": [SHARED], "community_id": S}, "S/C: LDP event"
    assert stamp_providers(suite.db, C, S) == ["Discord"], "S/C: registry_stamp"
    assert links(suite.db, S)[SHARED][0] == A, "S/C: the shared link still belongs to A"


def test_s_d_only_the_valid_stamp_counts(suite: Suite) -> None:
    _check(suite, "D", D, score="0.20800", passing=False, raw="0.2079999999999999904520819882",
           expiration=EXPIRES.isoformat(), stamps={"Ens": _kept("0.20800")})
    assert _owned(suite.db, D) == {_nullifier("Ens", D)}, "S/D: 1 link"
    assert stamp_providers(suite.db, D, S) == ["Ens"], "S/D"


def test_s_e_newest_row_per_provider_column_wins(suite: Suite) -> None:
    _check(suite, "E", E, score="3.76200", passing=False, raw="3.761999999999999816369111727",
           expiration=EXPIRES.isoformat(),
           stamps={"CivicLivenessPass": _kept("3.03800"), "Discord": _kept("0.51600"), "Ens": _kept("0.20800")})
    assert _owned(suite.db, E) == {_nullifier("CivicLivenessPass", E), _nullifier("Discord", E) + ":v2",
                                   _nullifier("Ens", E)}, "S/E flag off: 3 links, Discord from the type-2 row"


def test_s_f_without_stamps_scores_zero(suite: Suite) -> None:
    row = _check(suite, "F", F, score="0.00000", passing=False, raw="0", expiration=None, stamps={})
    assert row["expiration_date"] is None, "S/F"
    assert _owned(suite.db, F) == set(), "S/F: no links"
    assert len(events(suite.db, "SCU", F)) == 1, "S/F: one SCU event"


def test_s_every_address_has_one_scu_event_and_only_c_an_ldp_event(suite: Suite) -> None:
    for name, addr in ORDER:
        assert len(events(suite.db, "SCU", addr)) == 1, f"S/{name}: one SCU event"
        assert len(events(suite.db, "LDP", addr)) == (1 if name == "C" else 0), f"S/{name}: LDP events"


def test_s_e_with_multi_nullifier_on_links_the_v1_nullifier(db: psycopg.Connection[Any], db_url: str,
                                                            signer: StampSigner) -> None:
    seed_base(db)
    seed_e(db, signer)
    scorer = Scorer(db_url, trusted_env(TRUSTED_TEST_ISSUERS, FF_MULTI_NULLIFIER="on"), clock=Clock(NOW))
    try:
        reply = call_e1(scorer, S, E, headers={"x-api-key": KEY})
    finally:
        scorer.close()
    assert (reply.body["score"], reply.body["error"]) == ("3.76200", None), f"E1 {e1_path(S, E)} flag on"
    assert set(links(db, S)) == {_nullifier("CivicLivenessPass", E), E_V1, _nullifier("Discord", E) + ":v2",
                                 _nullifier("Ens", E)}, "S/E flag on: 4 links, the v1 one added"
