"""Hostile input through the ALB handler on real PostgreSQL (production contract P3, P4; §12 rows 21–22).

* P3: a stamp from a trusted issuer whose subject holds mutually linked blank nodes would keep didkit's linked-data
  canonicalisation busy for seconds to minutes; it is dropped by its shape before verification.
* P4: values the database cannot store (NUL, unpaired surrogates, non-finite numbers, dates outside years 1–9999 in
  UTC) are a 400 on E2/E3/E4/E9 with nothing written; bodies and tokens beyond the parsers' limits are a 400/401.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

import scorer_lambda.verify as verify_module
from scorer_lambda.domain.credentials import stamps_to_verify
from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.signing import ED25519_TRUSTED_DID, StampSigner
from scorer_lambda.models import Candidate

from ..harness import Reply, Scorer, bearer, hs256_token
from .v2_support import count, write_counts

BULK = "/ceramic-cache/stamps/bulk"
W = "0x" + "c0ffee" * 6 + "abcd"  # an address without cache rows in fixture W
BOMB_NODES = 8
CERAMIC_ERROR = {"error": "An error has occurred"}
EMBED_ERROR = {"detail": "An error has occurred"}


def linked_data_bomb(address: str, *, nodes: int = BOMB_NODES, provider: str = "Discord") -> dict[str, Any]:
    """A ~1.5 KB credential from the trusted did:key issuer whose subject holds ``nodes`` mutually linked blank nodes.

    ``linked`` is an ``@id``-typed term, so every string in it is an edge to another blank node: canonicalising the
    graph (which Ed25519Signature2018 verification does before it looks at the signature) has to tell apart ``nodes``
    indistinguishable nodes, which took didkit about 2 s for 7 nodes and 14 s for 8 when this test was written.
    Everything else is what a valid stamp for ``address`` carries: subject id, provider, hash, future expiry and an
    Ed25519Signature2018-shaped proof.
    """
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    blank_nodes = [{"@id": f"_:b{i}", "linked": [f"_:b{j}" for j in range(nodes) if j != i]} for i in range(nodes)]
    return {
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/vc/status-list/2021/v1"],
        "type": ["VerifiableCredential"],
        "issuer": ED25519_TRUSTED_DID,
        "issuanceDate": issued.isoformat().replace("+00:00", "Z"),
        "expirationDate": (issued + timedelta(days=60)).isoformat().replace("+00:00", "Z"),
        "credentialSubject": {
            "@context": {"hash": "https://schema.org/Text", "provider": "https://schema.org/Text",
                         "linked": {"@id": "https://example.org/linked", "@type": "@id"}},
            "id": f"did:pkh:eip155:1:{address}",
            "provider": provider,
            "hash": "v0.0.0:linked-data-bomb",
            "linked": blank_nodes,
        },
        "proof": {
            "type": "Ed25519Signature2018",
            "proofPurpose": "assertionMethod",
            "verificationMethod": f"{ED25519_TRUSTED_DID}#{ED25519_TRUSTED_DID.removeprefix('did:key:')}",
            "created": issued.isoformat().replace("+00:00", "Z"),
            "jws": "eyJhbGciOiJFZERTQSIsImNyaXQiOlsiYjY0Il0sImI2NCI6ZmFsc2V9..bm90LWEtc2lnbmF0dXJl",
            # proofValue only so that E2's stamp item rules accept it into the cache (§9.2)
            "proofValue": "bm90LWEtc2lnbmF0dXJl",
        },
    }


def _stamp(signer: StampSigner, address: str, provider: str, nullifier: str) -> dict[str, Any]:
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    return signer.issue_eip712(address=address, provider=provider, nullifiers=[nullifier], issuance_date=issued,
                               expiration_date=issued + timedelta(days=60))


class DidkitSpy:
    """Records every document the verifier hands to didkit (the only place it is called), then verifies it."""

    def __init__(self) -> None:
        self.documents: list[dict[str, Any]] = []
        self._original = verify_module._verify_one

    async def __call__(self, document: str) -> bool:
        self.documents.append(json.loads(document))
        return await self._original(document)

    def providers(self) -> list[str]:
        return [doc.get("credentialSubject", {}).get("provider") for doc in self.documents]


@pytest.fixture
def didkit_spy(monkeypatch: pytest.MonkeyPatch) -> DidkitSpy:
    spy = DidkitSpy()
    monkeypatch.setattr(verify_module, "_verify_one", spy)
    return spy


# --- P3: the linked-data bomb ---------------------------------------------------------------------------------------

def test_the_bomb_is_dropped_by_stamps_to_verify_without_reaching_didkit(didkit_spy: DidkitSpy) -> None:
    bomb = linked_data_bomb(W)
    trusted = frozenset({ED25519_TRUSTED_DID})
    assert len(json.dumps(bomb, separators=(",", ":"))) < 2048, "small: well inside the 16 KiB limit"
    assert stamps_to_verify([Candidate("Discord", bomb)], W, trusted, datetime.now(UTC)) == []
    # Without the extra key it is an ordinary candidate: the shape, not the issuer or the dates, drops the bomb.
    tamed = json.loads(json.dumps(bomb))
    del tamed["credentialSubject"]["linked"]
    assert stamps_to_verify([Candidate("Discord", tamed)], W, trusted, datetime.now(UTC)) == [
        Candidate("Discord", tamed)]
    assert didkit_spy.documents == []


def test_a_bomb_in_the_cache_does_not_hold_up_e2_or_e1(scorer_w: Scorer, fixture_w: DemoSeed, signer: StampSigner,
                                                       didkit_spy: DidkitSpy) -> None:
    """Acceptance bound of the issue: both requests answered within 2 s in total, the valid stamp counted."""
    google = _stamp(signer, W, "Google", "v0.0.0:bomb-neighbour")
    bomb = linked_data_bomb(W, provider="Discord")
    started = time.perf_counter()
    posted = scorer_w.call("POST", BULK, headers=bearer(hs256_token(W)),
                           body=[{"provider": "Discord", "stamp": bomb}, {"provider": "Google", "stamp": google}])
    scored = scorer_w.call("GET", f"/v2/stamps/{fixture_w.community_id}/score/{W}",
                           headers={"x-api-key": fixture_w.api_key})
    elapsed = time.perf_counter() - started
    assert posted.status == 201, posted.body
    assert sorted(s["provider"] for s in posted.body["stamps"]) == ["Discord", "Google"], "the bomb is cached"
    assert scored.status == 200, scored.body
    assert elapsed < 2.0, f"E2 + E1 took {elapsed:.2f} s"
    for reply in (posted.body["score"], scored.body):
        assert list(reply["stamps"]) == ["Google"]
        assert reply["score"] == "0.52500"
    assert "Discord" not in didkit_spy.providers(), "the bomb never reached didkit"


# --- P4: values the database cannot store ---------------------------------------------------------------------------

VALUE, KEY, PROVIDER = "@@value@@", "@@key@@", "@@provider@@"

# case -> (sentinel replaced in the JSON text, raw JSON fragment that replaces it)
RAW_CASES: dict[str, tuple[str, str]] = {
    "nul-in-value": (VALUE, '"before\\u0000after"'),
    "nul-in-key": (KEY, '"key\\u0000"'),
    "nul-in-provider": (PROVIDER, '"Goo\\u0000gle"'),
    "unpaired-surrogate": (VALUE, '"\\ud800"'),
    "unpaired-surrogate-in-key": (KEY, '"\\udc00"'),
    "nan": (VALUE, "NaN"),
    "infinity": (VALUE, "Infinity"),
    "-infinity": (VALUE, "-Infinity"),
    "1e400": (VALUE, "1e400"),
}
DATE_CASES: dict[str, tuple[str, str]] = {
    "issuance-year-0": ("issuanceDate", "0001-01-01T00:00:00+05:00"),
    "issuance-year-10000": ("issuanceDate", "9999-12-31T23:00:00-05:00"),
    "expiration-year-0": ("expirationDate", "0001-01-01T00:00:00+05:00"),
    "expiration-year-10000": ("expirationDate", "9999-12-31T23:00:00-05:00"),
}
ROUTES = ("E2", "E3", "E9")


def _body(route: str, stamp: dict[str, Any], provider: str, community_id: int) -> Any:
    if route == "E9":
        stamp["credentialSubject"]["provider"] = provider
        return {"scorer_id": community_id, "stamps": [stamp]}
    return [{"provider": provider, "stamp": stamp}]


def _call(scorer: Scorer, route: str, address: str, body_text: str) -> Reply:
    if route == "E9":
        return scorer.call("POST", f"/internal/embed/stamps/{address}", body=body_text)
    method = {"E2": "POST", "E3": "PATCH", "E4": "DELETE"}[route]
    return scorer.call(method, BULK, headers=bearer(hs256_token(address)), body=body_text)


def _expected_error(route: str) -> dict[str, str]:
    return EMBED_ERROR if route == "E9" else CERAMIC_ERROR


def _state(db: psycopg.Connection[Any], address: str) -> tuple[Any, ...]:
    """Row counts of the cache and every registry table a run writes, and the address's cache rows as they are."""
    return (write_counts(db), count(db, "ceramic_cache_ceramiccache"),
            db.execute("SELECT id, provider, deleted_at, updated_at FROM ceramic_cache_ceramiccache"
                       " WHERE address = %s ORDER BY id", (address,)).fetchall())


def _scored_address(scorer: Scorer, seed: DemoSeed, db: psycopg.Connection[Any]) -> str:
    """Address A of fixture W, scored once, with its three live stamps (Google among them)."""
    a = seed.address_a
    assert scorer.call("GET", f"/v2/stamps/{seed.community_id}/score/{a}",
                       headers={"x-api-key": seed.api_key}).status == 200
    live = db.execute("SELECT provider FROM ceramic_cache_ceramiccache WHERE address = %s AND deleted_at IS NULL"
                      " ORDER BY provider", (a,)).fetchall()
    assert live == [("Discord",), ("Ens",), ("Google",)]
    return a


def _assert_rejected_without_change(scorer: Scorer, db: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture,
                                    route: str, address: str, body_text: str) -> None:
    """A 400 from validation, before any write: not an unexpected failure that happened to roll back."""
    before = _state(db, address)
    with caplog.at_level(logging.INFO, logger="scorer_lambda"):
        reply = _call(scorer, route, address, body_text)
    assert (reply.status, reply.body) == (400, _expected_error(route))
    assert _state(db, address) == before, "nothing written: counts unchanged, earlier stamps still live"
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == [], \
        "a validation failure, not an unexpected one"


@pytest.mark.parametrize("case", list(RAW_CASES))
@pytest.mark.parametrize("route", ROUTES)
def test_unstorable_values_are_a_400_and_change_nothing(scorer_w: Scorer, fixture_w: DemoSeed,
                                                        db: psycopg.Connection[Any], signer: StampSigner,
                                                        caplog: pytest.LogCaptureFixture, route: str,
                                                        case: str) -> None:
    a = _scored_address(scorer_w, fixture_w, db)
    sentinel, fragment = RAW_CASES[case]
    stamp = _stamp(signer, a, "Google", "v0.0.0:hostile")
    if sentinel == VALUE:
        stamp["note"] = VALUE
    elif sentinel == KEY:
        stamp[KEY] = "x"
    text = json.dumps(_body(route, stamp, PROVIDER if sentinel == PROVIDER else "Google", fixture_w.community_id))
    assert text.count(json.dumps(sentinel)) == 1
    # Raw JSON text: the escape (or the non-finite literal) reaches the scorer's own JSON parser.
    _assert_rejected_without_change(scorer_w, db, caplog, route, a, text.replace(json.dumps(sentinel), fragment))


@pytest.mark.parametrize("case", list(DATE_CASES))
@pytest.mark.parametrize("route", ROUTES)
def test_dates_outside_years_1_to_9999_in_utc_are_a_400_and_change_nothing(
        scorer_w: Scorer, fixture_w: DemoSeed, db: psycopg.Connection[Any], signer: StampSigner,
        caplog: pytest.LogCaptureFixture, route: str, case: str) -> None:
    a = _scored_address(scorer_w, fixture_w, db)
    field, value = DATE_CASES[case]
    stamp = _stamp(signer, a, "Google", "v0.0.0:hostile-date")
    stamp[field] = value
    _assert_rejected_without_change(scorer_w, db, caplog, route, a,
                                    json.dumps(_body(route, stamp, "Google", fixture_w.community_id)))


@pytest.mark.parametrize(("case", "text"), [
    ("nul-in-provider", '[{"provider": "Goo\\u0000gle"}]'),
    ("surrogate-in-provider", '[{"provider": "\\udbff"}]'),
    ("nan-next-to-provider", '[{"provider": "Google", "address": null, "n": NaN}]'),
])
def test_e4_body_with_unstorable_values_is_a_400_and_changes_nothing(scorer_w: Scorer, fixture_w: DemoSeed,
                                                                     db: psycopg.Connection[Any],
                                                                     caplog: pytest.LogCaptureFixture, case: str,
                                                                     text: str) -> None:
    """E4's providers go into a query: the same rule, and no soft delete of the Google row either."""
    a = _scored_address(scorer_w, fixture_w, db)
    _assert_rejected_without_change(scorer_w, db, caplog, "E4", a, text)


@pytest.mark.parametrize("route", ("E2", "E3", "E4", "E9"))
@pytest.mark.parametrize(("case", "text"), [
    ("nested-array", "[" * 100_000 + "]" * 100_000),
    ("nested-object", '{"a":' * 100_000 + "1" + "}" * 100_000),
    ("nested-in-stamp", '[{"provider": "Google", "stamp": ' + "[" * 100_000 + "]" * 100_000 + "}]"),
    ("int-beyond-str-limit", '[{"provider": "Google", "stamp": {"n": ' + "7" * 5000 + "}}]"),
])
def test_bodies_beyond_the_parsers_limits_are_a_400(scorer_w: Scorer, fixture_w: DemoSeed,
                                                    db: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture,
                                                    route: str, case: str, text: str) -> None:
    a = _scored_address(scorer_w, fixture_w, db)
    _assert_rejected_without_change(scorer_w, db, caplog, route, a, text)


ODD_OFFSETS = {
    "issuanceDate": ("2026-01-01T00:00:00+05:30:15", datetime(2025, 12, 31, 18, 29, 45, tzinfo=UTC)),
    "expirationDate": ("2030-01-01T00:00:00+05:00:00.5", datetime(2029, 12, 31, 18, 59, 59, 500000, tzinfo=UTC)),
}


@pytest.mark.parametrize("route", ROUTES)
def test_offsets_python_accepts_are_stored_as_the_same_utc_instant(scorer_w: Scorer, fixture_w: DemoSeed,
                                                                   db: psycopg.Connection[Any], signer: StampSigner,
                                                                   route: str) -> None:
    a = _scored_address(scorer_w, fixture_w, db)
    stamp = _stamp(signer, a, "Google", "v0.0.0:odd-offset")
    for field, (text, _) in ODD_OFFSETS.items():
        stamp[field] = text
    reply = _call(scorer_w, route, a, json.dumps(_body(route, stamp, "Google", fixture_w.community_id)))
    assert reply.status == (201 if route == "E2" else 200), reply.body
    row = db.execute("SELECT issuance_date, expiration_date, stamp FROM ceramic_cache_ceramiccache"
                     " WHERE address = %s AND provider = 'Google' AND deleted_at IS NULL", (a,)).fetchone()
    assert row is not None
    issued, expires, stored = row
    assert (issued, expires) == (ODD_OFFSETS["issuanceDate"][1], ODD_OFFSETS["expirationDate"][1])
    assert (stored["issuanceDate"], stored["expirationDate"]) == tuple(text for text, _ in ODD_OFFSETS.values()), \
        "the stamp itself is stored as sent"


# --- P4: tokens that cannot be parsed -------------------------------------------------------------------------------

def _b64url(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode("ascii")


DEEP_HEADER = '{"a":' * 100_000 + "1" + "}" * 100_000


@pytest.mark.parametrize(("case", "token"), [
    ("deep-header", _b64url(DEEP_HEADER) + "." + _b64url("{}") + ".c2ln"),
    ("deep-array-header", _b64url("[" * 100_000) + ".e30.c2ln"),
    ("header-list", _b64url("[1]") + ".e30.c2ln"),
    ("non-utf8-header", "__79.e30.c2ln"),
    ("huge-int-header", _b64url('{"alg":"HS256","n":' + "9" * 5000 + "}") + ".e30.c2ln"),
    ("not-a-jwt", "one.two"),
])
def test_unparseable_tokens_are_a_401_without_an_error_log(scorer_w: Scorer, db: psycopg.Connection[Any],
                                                           caplog: pytest.LogCaptureFixture, case: str,
                                                           token: str) -> None:
    before = _state(db, W)
    with caplog.at_level(logging.INFO, logger="scorer_lambda"):
        reply = scorer_w.call("POST", BULK, headers=bearer(token), body=[])
    assert (reply.status, reply.body) == (401, {"error": "Given token not valid for any token type"})
    assert [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == [], "no traceback logged"
    assert [r.getMessage() for r in caplog.records if r.name == "scorer_lambda.app"] == ["request"]
    assert _state(db, W) == before
