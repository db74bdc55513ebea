"""Offline stamp issuing with didkit (scoring contract §11.4)."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import didkit
import pytest

from scorer_lambda.local.signing import (
    ED25519_TRUSTED_DID,
    ED25519_TRUSTED_JWK,
    ED25519_UNTRUSTED_DID,
    ED25519_UNTRUSTED_JWK,
    ETHR_TEST_DID,
    ETHR_TEST_DID_2,
    ETHR_TEST_PRIVATE_KEY,
    ETHR_TEST_PRIVATE_KEY_2,
    StampSigner,
    ethr_did,
    fmt_date,
    secp256k1_jwk,
)

DATA = Path(__file__).resolve().parent.parent / "data"
A = "0x" + "a" * 40
ISSUED = "2025-11-20T13:12:09Z"
EXPIRES = "2027-02-20T13:12:09Z"


def _eip712(signer: StampSigner, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "address": A,
        "provider": "Google",
        "nullifiers": ["v0.0.0:g-A", "v1:g-A"],
        "issuance_date": ISSUED,
        "expiration_date": EXPIRES,
    }
    values.update(overrides)
    return signer.issue_eip712(**values)


def test_test_private_keys_give_the_contract_dids() -> None:
    assert ethr_did(ETHR_TEST_PRIVATE_KEY) == "did:ethr:0x018d103c154748e8d5a1d7658185125175457f84" == ETHR_TEST_DID
    assert ethr_did(ETHR_TEST_PRIVATE_KEY_2) == "did:ethr:0x6370ef2f4db3611d657b90667de398a2cc2a370c" == ETHR_TEST_DID_2


def test_secp256k1_jwk_uses_unpadded_32_byte_coordinates() -> None:
    jwk = secp256k1_jwk(ETHR_TEST_PRIVATE_KEY)
    assert (jwk["kty"], jwk["crv"]) == ("EC", "secp256k1")
    for name in ("x", "y", "d"):
        assert "=" not in jwk[name]
        assert len(jwk[name]) == 43  # 32 bytes in unpadded base64url
    with pytest.raises(ValueError, match="32 bytes"):
        secp256k1_jwk(b"\x01" * 31)


def test_fixed_ed25519_keys_give_their_documented_dids() -> None:
    assert didkit.key_to_did("key", ED25519_TRUSTED_JWK) == ED25519_TRUSTED_DID
    assert didkit.key_to_did("key", ED25519_UNTRUSTED_JWK) == ED25519_UNTRUSTED_DID
    assert ED25519_TRUSTED_DID != ED25519_UNTRUSTED_DID


def test_ethr_verification_method_is_the_controller_key(signer: StampSigner) -> None:
    issuer = signer.ethr_issuer(ETHR_TEST_PRIVATE_KEY_2)
    assert issuer.did == ETHR_TEST_DID_2
    assert issuer.verification_method == ETHR_TEST_DID_2 + "#controller"


def test_issued_eip712_stamp_verifies_and_has_the_contract_shape(signer: StampSigner) -> None:
    stamp = _eip712(signer)
    assert signer.verify(stamp) == []
    assert stamp["issuer"] == ETHR_TEST_DID
    assert stamp["@context"] == ["https://www.w3.org/2018/credentials/v1", "https://w3id.org/vc/status-list/2021/v1"]
    subject = stamp["credentialSubject"]
    assert subject["id"] == f"did:pkh:eip155:1:{A}"
    assert subject["nullifiers"] == ["v0.0.0:g-A", "v1:g-A"]
    assert subject["@context"] == {
        "nullifiers": {"@container": "@list", "@type": "https://schema.org/Text"},
        "provider": "https://schema.org/Text",
    }
    proof = stamp["proof"]
    assert proof["type"] == "EthereumEip712Signature2021"
    assert proof["verificationMethod"] == ETHR_TEST_DID + "#controller"
    assert re.fullmatch(r"0x[0-9a-f]{130}", proof["proofValue"])
    assert proof["eip712Domain"]["types"]["CredentialSubject"] == [
        {"name": "@context", "type": "@context"},
        {"name": "nullifiers", "type": "string[]"},
        {"name": "id", "type": "string"},
        {"name": "provider", "type": "string"},
    ]


def test_second_test_key_signs_as_the_second_issuer(signer: StampSigner) -> None:
    stamp = _eip712(signer, private_key=ETHR_TEST_PRIVATE_KEY_2)
    assert stamp["issuer"] == ETHR_TEST_DID_2
    assert signer.verify(stamp) == []


def test_issuing_is_deterministic_and_pins_proof_created(signer: StampSigner) -> None:
    first, second = _eip712(signer), _eip712(signer)
    assert first == second
    assert first["proof"]["created"] == ISSUED
    assert _eip712(signer, created="2025-12-01T00:00:00Z")["proof"]["created"] == "2025-12-01T00:00:00Z"


def test_subject_did_can_be_overridden(signer: StampSigner) -> None:
    other = "did:pkh:eip155:1:0x" + "b" * 40
    stamp = _eip712(signer, subject_did=other)
    assert stamp["credentialSubject"]["id"] == other
    assert signer.verify(stamp) == []


def test_tampered_provider_fails_with_key_mismatch(signer: StampSigner) -> None:
    stamp = _eip712(signer)
    stamp["credentialSubject"]["provider"] = "Github"
    errors = signer.verify(stamp)
    assert any("Key does not match account id" in error for error in errors), errors


def test_undeclared_subject_property_is_untyped(signer: StampSigner) -> None:
    stamp = _eip712(signer)
    stamp["credentialSubject"]["extra"] = "x"
    errors = signer.verify(stamp)
    assert any("Untyped properties" in error for error in errors), errors


def test_legacy_hash_stamp_verifies_with_the_legacy_types(signer: StampSigner) -> None:
    stamp = _eip712(signer, nullifiers=None, hash="v0.0.0:bGVnYWN5")
    assert signer.verify(stamp) == []
    subject = stamp["credentialSubject"]
    assert subject["hash"] == "v0.0.0:bGVnYWN5"
    assert "nullifiers" not in subject
    assert subject["@context"] == {"hash": "https://schema.org/Text", "provider": "https://schema.org/Text"}
    types = stamp["proof"]["eip712Domain"]["types"]
    assert types["@context"] == [{"name": "hash", "type": "string"}, {"name": "provider", "type": "string"}]
    assert [entry["name"] for entry in types["CredentialSubject"]] == ["@context", "hash", "id", "provider"]
    assert "NullifiersContext" not in types


def test_stamp_with_hash_and_nullifiers_verifies(signer: StampSigner) -> None:
    stamp = _eip712(signer, hash="v0.0.0:aGFzaA==")
    assert signer.verify(stamp) == []
    assert stamp["credentialSubject"]["hash"] == "v0.0.0:aGFzaA=="
    assert stamp["credentialSubject"]["nullifiers"] == ["v0.0.0:g-A", "v1:g-A"]


def test_a_stamp_needs_hash_or_nullifiers(signer: StampSigner) -> None:
    with pytest.raises(ValueError, match="nullifiers"):
        _eip712(signer, nullifiers=None)


def test_ed25519_stamp_verifies_and_carries_a_jws(signer: StampSigner) -> None:
    stamp = signer.issue_ed25519(
        address=A, provider="Ens", nullifiers=["v0.0.0:e-A"], issuance_date=ISSUED, expiration_date=EXPIRES
    )
    assert signer.verify(stamp) == []
    assert stamp["issuer"] == ED25519_TRUSTED_DID
    assert stamp["proof"]["type"] == "Ed25519Signature2018"
    assert "proofValue" not in stamp["proof"]
    assert stamp["proof"]["jws"].count(".") == 2
    assert stamp["credentialSubject"]["@context"]["nullifiers"] == {
        "@container": "@list",
        "@id": "https://schema.org/Text",
    }
    tampered = copy.deepcopy(stamp)
    tampered["credentialSubject"]["nullifiers"] = ["v0.0.0:other"]
    assert signer.verify(tampered) != []


def test_ed25519_untrusted_issuer_and_legacy_hash(signer: StampSigner) -> None:
    stamp = signer.issue_ed25519(
        address=A, provider="Ens", hash="v0.0.0:aGFzaA==", issuance_date=ISSUED, expiration_date=EXPIRES, trusted=False
    )
    assert stamp["issuer"] == ED25519_UNTRUSTED_DID
    assert signer.verify(stamp) == []


def test_ed25519_issuing_is_deterministic(signer: StampSigner) -> None:
    def issue() -> dict[str, Any]:
        return signer.issue_ed25519(
            address=A, provider="Ens", nullifiers=["v0.0.0:e-A"], issuance_date=ISSUED, expiration_date=EXPIRES
        )

    first = issue()
    assert first == issue()
    assert first["proof"]["created"] == ISSUED


def test_shipped_example_verifies_and_is_reproduced_exactly(signer: StampSigner) -> None:
    example = json.loads((DATA / "eip712_nullifiers_test_issuer.json").read_text(encoding="utf-8"))
    assert signer.verify(example) == []
    subject = example["credentialSubject"]
    fresh = signer.issue_eip712(
        address=subject["id"].removeprefix("did:pkh:eip155:1:"),
        provider=subject["provider"],
        nullifiers=subject["nullifiers"],
        issuance_date=example["issuanceDate"],
        expiration_date=example["expirationDate"],
        created=example["proof"]["created"],
    )
    assert fresh["proof"]["eip712Domain"] == example["proof"]["eip712Domain"]
    # Same key, same inputs, same proof.created: deterministic ECDSA reproduces the shipped signature.
    assert fresh == example


@pytest.mark.parametrize(
    ("dt", "text"),
    [
        (datetime(2027, 3, 1, tzinfo=UTC), "2027-03-01T00:00:00Z"),
        (datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC), "2027-01-15T10:20:30.456Z"),
        (datetime(2027, 1, 15, 10, 20, 30, 100000, tzinfo=UTC), "2027-01-15T10:20:30.100Z"),
        (datetime(2027, 1, 15, 10, 20, 30, 456789, tzinfo=UTC), "2027-01-15T10:20:30.456789Z"),
        (datetime(2027, 1, 15, 12, 20, 30, tzinfo=UTC).astimezone(), "2027-01-15T12:20:30Z"),
    ],
)
def test_fmt_date_is_kept_verbatim_by_didkit(signer: StampSigner, dt: datetime, text: str) -> None:
    assert fmt_date(dt) == text
    stamp = _eip712(signer, expiration_date=dt)
    assert stamp["expirationDate"] == text


def test_fmt_date_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        fmt_date(datetime(2027, 1, 1))


def test_didkit_reserialises_dates_it_is_given(signer: StampSigner) -> None:
    stamp = _eip712(signer, issuance_date="2025-11-20T13:12:09.000Z", expiration_date="2027-01-15T10:20:30.1Z")
    assert stamp["issuanceDate"] == "2025-11-20T13:12:09Z"
    assert stamp["expirationDate"] == "2027-01-15T10:20:30.100Z"
    assert signer.verify(stamp) == []


def test_dates_didkit_cannot_sign_are_refused(signer: StampSigner) -> None:
    with pytest.raises(ValueError, match="cannot sign"):
        _eip712(signer, expiration_date="not-a-date")
    with pytest.raises(ValueError, match="cannot sign"):
        _eip712(signer, expiration_date="2027-01-01T00:00:00")


def test_future_proof_created_never_verifies(signer: StampSigner) -> None:
    future = datetime.now(UTC) + timedelta(days=2)
    with pytest.raises(ValueError, match="created"):
        _eip712(signer, issuance_date=future)
    stamp = _eip712(signer, issuance_date=future, created=future)
    assert signer.verify(stamp) == ["No applicable proof"]


def test_verify_reports_didkit_exceptions_as_errors(signer: StampSigner) -> None:
    errors = signer.verify({"credentialSubject": {}})
    assert len(errors) == 1
    assert errors[0]
