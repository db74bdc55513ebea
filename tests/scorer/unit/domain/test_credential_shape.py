"""Credential shape limits before signature verification (production contract P3, deliberate difference 21)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scorer_lambda.domain.credentials import (
    MAX_CREDENTIAL_BYTES,
    MAX_NULLIFIERS,
    has_iam_shape,
    stamps_to_verify,
)
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.models import Candidate

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
A = "0x" + "a" * 40
ETHR = "did:ethr:0x018d103c154748e8d5a1d7658185125175457f84"
KEY = "did:key:z6MkrAGBt7zqXtXm5AaDcSB1nmFJhiZS3LRJA4irWqNuis2f"
EXAMPLES = Path(__file__).resolve().parents[4] / ".." / "shared" / "examples" / "stamps"


def stamp(**overrides: Any) -> dict[str, Any]:
    """An EIP-712 stamp of the IAM's shape (unsigned: the shape rules never look at the signature)."""
    value: dict[str, Any] = {
        "@context": ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/vc/status-list/2021/v1"],
        "type": ["VerifiableCredential"],
        "issuer": ETHR,
        "issuanceDate": "2026-11-21T00:00:00Z",
        "expirationDate": "2027-01-01T00:00:00Z",
        "credentialSubject": {
            "@context": {"nullifiers": {"@container": "@list", "@type": "https://schema.org/Text"},
                         "provider": "https://schema.org/Text"},
            "id": f"did:pkh:eip155:1:{A}", "provider": "Google", "nullifiers": ["v0.0.0:x"],
        },
        "proof": {"type": "EthereumEip712Signature2021", "proofValue": "0x00", "eip712Domain": {"types": {}}},
    }
    value.update(overrides)
    return value


def edited(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    value = stamp()
    change(value)
    return value


def subject(**fields: Any) -> dict[str, Any]:
    return stamp(credentialSubject={"id": f"did:pkh:eip155:1:{A}", "provider": "Google", **fields})


# --- each rule: accepted and rejected cases -------------------------------------------------------------------------

@pytest.mark.parametrize("value", [
    stamp(),
    stamp(issuer=KEY, proof={"type": "Ed25519Signature2018", "jws": "x"}),
    subject(hash="v0.0.0:h"),
    subject(hash="v0.0.0:h", nullifiers=["a", "b"]),
    subject(nullifiers=[f"n{i}" for i in range(MAX_NULLIFIERS)]),
    subject(nullifiers=[]),  # empty is a matter for the subject checks of §5.4, not for the shape
    subject(),
    stamp(credentialSubject={}),
    stamp(extra="text", more=["a", "b"], empty=[]),
    edited(lambda c: c.pop("type")),
    stamp(**{"@context": [{"anything": {"@id": "x"}}]}),  # the top-level @context is not limited by P3
], ids=["eip712", "ed25519", "hash", "hash-and-nullifiers", "32-nullifiers", "no-nullifiers", "bare-subject",
        "empty-subject", "extra-string-fields", "no-type", "top-level-context-object"])
def test_iam_shaped_credentials_pass(value: dict[str, Any]) -> None:
    assert has_iam_shape(value) is True


@pytest.mark.parametrize("value", [
    stamp(proof={"type": "Ed25519Signature2018", "jws": "x"}),
    stamp(issuer=KEY),
    stamp(proof={"type": "EcdsaSecp256k1RecoverySignature2020"}),
    stamp(issuer=KEY, proof={"type": "EcdsaSecp256k1RecoverySignature2020"}),
    stamp(issuer="did:web:example.org"),
    stamp(issuer="did:pkh:eip155:1:" + A),
    stamp(issuer=["did:ethr:0x1"]),
    stamp(issuer={"id": ETHR}),
    edited(lambda c: c.pop("issuer")),
    edited(lambda c: c.pop("proof")),
    stamp(proof=[{"type": "EthereumEip712Signature2021"}]),
    stamp(proof={"proofValue": "0x00"}),
    stamp(proof={"type": ["EthereumEip712Signature2021"]}),
], ids=["ed25519-proof-from-ethr", "eip712-proof-from-key", "ecdsa-from-ethr", "ecdsa-from-key", "did-web",
        "did-pkh", "issuer-list", "issuer-object", "no-issuer", "no-proof", "proof-list", "proof-without-type",
        "proof-type-list"])
def test_proof_type_must_match_the_issuers_did_method(value: dict[str, Any]) -> None:
    assert has_iam_shape(value) is False


@pytest.mark.parametrize("value", [
    edited(lambda c: c.pop("credentialSubject")),
    stamp(credentialSubject=None),
    stamp(credentialSubject="did:pkh:eip155:1:" + A),
    stamp(credentialSubject=[{"id": "did:pkh:eip155:1:" + A, "provider": "Google", "hash": "h"}]),
    subject(hash="h", extra="x"),
    subject(hash="h", type="Person"),
    subject(hash="h", **{"@id": "_:b0"}),
    subject(hash={"@value": "h"}),
    subject(hash=["h"]),
    subject(hash=None),
    stamp(credentialSubject={"id": 1, "provider": "Google", "hash": "h"}),
    stamp(credentialSubject={"id": "did:pkh:eip155:1:" + A, "provider": {"@id": "_:b0"}, "hash": "h"}),
    subject(nullifiers="v0.0.0:x"),
    subject(nullifiers=[f"n{i}" for i in range(MAX_NULLIFIERS + 1)]),
    subject(nullifiers=["a", {"@id": "_:b0"}]),
    subject(nullifiers=["a", ["b"]]),
    subject(nullifiers=[1]),
    subject(hash="h", **{"@context": ["https://schema.org/"]}),
    subject(hash="h", **{"@context": "https://schema.org/"}),
], ids=["no-subject", "subject-null", "subject-string", "subject-list", "extra-key", "extra-type-key", "extra-@id",
        "hash-object", "hash-list", "hash-null", "id-number", "provider-object", "nullifiers-string",
        "33-nullifiers", "nullifier-object", "nullifier-list", "nullifier-number", "context-list", "context-string"])
def test_subject_holds_only_the_iam_fields(value: dict[str, Any]) -> None:
    assert has_iam_shape(value) is False


@pytest.mark.parametrize("value", [
    stamp(type=[{"@id": "_:b0"}]),
    stamp(type="VerifiableCredential", extra={"@id": "_:b0"}),
    stamp(issuanceDate=1),
    stamp(expirationDate=None),
    stamp(credentialStatus={"id": "https://example.org/status", "type": "StatusList2021Entry"}),
    stamp(evidence=[["nested"]]),
    stamp(type=["VerifiableCredential", 1]),
    stamp(flag=True),
], ids=["type-object", "extra-object", "date-number", "date-null", "credential-status", "nested-list",
        "type-with-number", "boolean"])
def test_other_top_level_values_are_strings_or_lists_of_strings(value: dict[str, Any]) -> None:
    assert has_iam_shape(value) is False


def _compact_bytes(value: dict[str, Any]) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


@pytest.mark.parametrize("filler", ["x", "é"], ids=["ascii", "two-byte-utf8"])
def test_compact_json_is_at_most_16_kib(filler: str) -> None:
    base = stamp(note="")
    room = MAX_CREDENTIAL_BYTES - _compact_bytes(base)
    exact = stamp(note=filler * (room // len(filler.encode("utf-8"))))
    assert _compact_bytes(exact) == MAX_CREDENTIAL_BYTES, "the limit counts UTF-8 bytes of the compact text"
    assert has_iam_shape(exact) is True
    over = stamp(note=exact["note"] + filler)
    assert _compact_bytes(over) > MAX_CREDENTIAL_BYTES
    assert has_iam_shape(over) is False


def test_size_counts_the_compact_text_not_an_indented_one() -> None:
    value = stamp(note="x" * (MAX_CREDENTIAL_BYTES - _compact_bytes(stamp(note="")) - 10))
    assert len(json.dumps(value, indent=2)) > MAX_CREDENTIAL_BYTES
    assert has_iam_shape(value) is True


@pytest.mark.parametrize("value", [None, "text", [], 42, {}])
def test_non_objects_and_surprises_are_invalid_not_errors(value: Any) -> None:
    assert has_iam_shape(value) is False


def test_an_unserialisable_credential_is_invalid_not_an_error() -> None:
    """Any exception inside the checks means invalid (here json.dumps fails on a value JSON cannot hold)."""
    value = stamp(**{"@context": [object()]})
    assert has_iam_shape(value) is False


# --- the rules inside stamps_to_verify -----------------------------------------------------------------------------

TRUSTED = frozenset({ETHR, KEY})


def test_stamps_to_verify_drops_off_shape_candidates() -> None:
    candidates = [Candidate("Discord", stamp()),
                  Candidate("Ens", subject(hash="h", extra="x")),
                  Candidate("Github", stamp(proof={"type": "Ed25519Signature2018"})),
                  Candidate("Google", stamp(credentialStatus={"id": "x"}))]
    assert [c.provider for c in stamps_to_verify(candidates, A, TRUSTED, NOW)] == ["Discord"]


def test_expiry_is_still_evaluated_and_raises_for_off_shape_candidates() -> None:
    """The shape check comes after the expiry: a candidate of any shape with a bad date fails the run (§5.6)."""
    off_shape = stamp(credentialSubject=[1], expirationDate="not-a-date")
    with pytest.raises(ValueError, match="not-a-date"):
        stamps_to_verify([Candidate("Discord", stamp()), Candidate("Ens", off_shape)], A, TRUSTED, NOW)
    with pytest.raises(KeyError):
        stamps_to_verify([Candidate("Ens", edited(lambda c: (c.pop("expirationDate"), c.pop("proof"))))], A,
                         TRUSTED, NOW)


def test_untrusted_issuers_are_not_shape_checked_first() -> None:
    """Trust comes first: an untrusted stamp of the right shape is still dropped."""
    assert stamps_to_verify([Candidate("Discord", stamp(issuer="did:ethr:0xother"))], A, TRUSTED, NOW) == []


# --- real stamps: both suites from didkit, and the contract's examples ---------------------------------------------

@pytest.fixture(scope="module")
def real_stamps(signer: StampSigner) -> dict[str, dict[str, Any]]:
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    expires = issued + timedelta(days=90)
    dates = {"issuance_date": issued, "expiration_date": expires}
    return {
        "eip712-nullifiers": signer.issue_eip712(address=A, provider="Google", nullifiers=["v0:a", "v1:b"], **dates),
        "eip712-hash": signer.issue_eip712(address=A, provider="Ens", hash="v0.0.0:h", **dates),
        "eip712-both": signer.issue_eip712(address=A, provider="Ens", hash="v0.0.0:h", nullifiers=["v0:a"], **dates),
        "ed25519-hash": signer.issue_ed25519(address=A, provider="Github", hash="v0.0.0:h", **dates),
        "ed25519-nullifiers": signer.issue_ed25519(address=A, provider="Github", nullifiers=["v0:a"], **dates),
        "ed25519-untrusted": signer.issue_ed25519(address=A, provider="Github", hash="v0.0.0:h", trusted=False,
                                                  **dates),
        "eip712-32-nullifiers": signer.issue_eip712(address=A, provider="Discord",
                                                    nullifiers=[f"v0:n{i}" for i in range(32)], **dates),
    }


def test_real_stamps_of_both_suites_pass(real_stamps: dict[str, dict[str, Any]], signer: StampSigner) -> None:
    for name, value in real_stamps.items():
        assert signer.verify(value) == [], f"{name}: a genuinely valid stamp"
        assert has_iam_shape(value) is True, name
    trusted = frozenset({signer.ethr_issuer().did, signer.ed25519_issuer().did})
    candidates = [Candidate(name, value) for name, value in sorted(real_stamps.items()) if "untrusted" not in name]
    assert stamps_to_verify(candidates, A, trusted, datetime.now(UTC)) == candidates


def _example_files() -> list[Path]:
    return sorted(EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []


def test_the_contracts_example_stamps_pass() -> None:
    if not EXAMPLES.is_dir():
        pytest.skip(f"the shared examples folder is absent: {EXAMPLES}")
    files = _example_files()
    assert files, "the examples folder holds stamps"
    for path in files:
        assert has_iam_shape(json.loads(path.read_text(encoding="utf-8"))) is True, path.name

