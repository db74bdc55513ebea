"""Candidate selection and credential checks (scoring contract §5.3, §5.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scorer_lambda.domain.credentials import (
    has_valid_subject,
    is_expired,
    is_trusted,
    select_candidates,
    stamps_to_verify,
    subject_did,
)
from scorer_lambda.models import CacheRow, Candidate

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
T0 = NOW - timedelta(hours=2)
A = "0x" + "a" * 40
TRUSTED = frozenset({"did:ethr:0xtrusted"})


def credential(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "issuer": "did:ethr:0xtrusted", "expirationDate": "2027-01-01T00:00:00Z",
        "credentialSubject": {"id": f"did:pkh:eip155:1:{A}", "provider": "Google", "nullifiers": ["v0.0.0:x"]},
        "proof": {"type": "EthereumEip712Signature2021", "proofValue": "0x"},
    }
    value.update(overrides)
    return value


def test_newest_row_per_provider_column_is_selected_and_sorted_by_provider() -> None:
    rows = [CacheRow(1, "Google", {"n": 1}, T0), CacheRow(2, "Google", {"n": 2}, T0 + timedelta(minutes=1)),
            CacheRow(3, "Discord", {"n": 3}, T0), CacheRow(4, "Ens", {"n": 4}, T0),
            CacheRow(5, "ens", {"n": 5}, T0)]
    assert select_candidates(rows) == [Candidate("Discord", {"n": 3}), Candidate("Ens", {"n": 4}),
                                       Candidate("Google", {"n": 2}), Candidate("ens", {"n": 5})]


def test_updated_at_tie_keeps_the_smallest_id_whatever_the_row_order() -> None:
    rows = [CacheRow(9, "Google", {"n": 9}, T0), CacheRow(7, "Google", {"n": 7}, T0), CacheRow(8, "Google", {"n": 8},
                                                                                              T0)]
    assert select_candidates(rows) == [Candidate("Google", {"n": 7})]
    assert select_candidates(list(reversed(rows))) == [Candidate("Google", {"n": 7})]


def test_no_rows_give_no_candidates() -> None:
    assert select_candidates([]) == []


@pytest.mark.parametrize(("mutate", "message", "error"), [
    (lambda c: c.pop("expirationDate"), "'expirationDate'", KeyError),
    (lambda c: c.update(expirationDate=20270101), "fromisoformat: argument must be str", TypeError),
    (lambda c: c.update(expirationDate=None), "fromisoformat: argument must be str", TypeError),
    (lambda c: c.update(expirationDate="not-a-date"), "Invalid isoformat string: 'not-a-date'", ValueError),
    (lambda c: c.update(expirationDate="2027-01-01T00:00:00"), "can't compare offset-naive and offset-aware datetimes",
     TypeError),
])
def test_expiry_failures_carry_pythons_own_messages(mutate: Any, message: str, error: type[Exception]) -> None:
    value = credential()
    mutate(value)
    with pytest.raises(error) as raised:
        is_expired(value, NOW)
    assert str(raised.value) == message


def test_expiry_is_evaluated_for_untrusted_candidates_too() -> None:
    untrusted = credential(issuer="did:web:elsewhere", expirationDate="not-a-date")
    with pytest.raises(ValueError, match="not-a-date"):
        stamps_to_verify([Candidate("Google", untrusted)], A, TRUSTED, NOW)


@pytest.mark.parametrize(("value", "expired"), [
    ("2026-11-22T11:59:59Z", True),
    ("2026-11-22T12:00:00Z", False),
    ("2026-11-22T14:00:00+02:00", False),
    ("2026-11-22T13:59:59+02:00", True),
    ("2026-11-22T12:00:00.0000001Z", False),
])
def test_expired_means_strictly_before_now(value: str, expired: bool) -> None:
    assert is_expired(credential(expirationDate=value), NOW) is expired


def test_issuer_must_match_exactly() -> None:
    assert is_trusted(credential(), TRUSTED)
    assert not is_trusted(credential(issuer="did:ethr:0xTRUSTED"), TRUSTED)
    assert not is_trusted({"expirationDate": "x"}, TRUSTED)
    assert not is_trusted(credential(issuer=["did:ethr:0xtrusted"]), TRUSTED)


def test_subject_did_is_lowercased_with_chain_1() -> None:
    assert subject_did("0xAbC") == "did:pkh:eip155:1:0xabc"


@pytest.mark.parametrize(("subject", "valid"), [
    ({"id": f"did:pkh:eip155:1:{A}", "provider": "Google", "nullifiers": ["v0.0.0:x"]}, True),
    ({"id": f"did:pkh:eip155:1:{A.upper().replace('0X', '0x')}", "provider": "Google", "hash": "v0.0.0:x"}, True),
    ({"id": f"did:pkh:eip155:1:{A}", "provider": "Google", "nullifiers": []}, False),
    ({"id": f"did:pkh:eip155:1:{A}", "provider": "Google"}, False),
    ({"id": f"did:pkh:eip155:1:{A}", "provider": "", "hash": "x"}, False),
    ({"provider": "Google", "hash": "x"}, False),
    ({"id": f"did:pkh:eip155:10:{A}", "provider": "Google", "hash": "x"}, False),
    ({"id": "did:pkh:eip155:1:0x" + "b" * 40, "provider": "Google", "hash": "x"}, False),
    ({"id": 42, "provider": "Google", "hash": "x"}, False),
    ({}, False),
])
def test_subject_checks(subject: dict[str, Any], valid: bool) -> None:
    assert has_valid_subject(credential(credentialSubject=subject), subject_did(A)) is valid


def test_stamps_to_verify_drops_untrusted_expired_and_foreign_stamps() -> None:
    candidates = [
        Candidate("Discord", credential()),
        Candidate("Ens", credential(issuer="did:key:untrusted")),
        Candidate("Github", credential(expirationDate="2026-11-21T00:00:00Z")),
        Candidate("Google", credential(credentialSubject={"id": "did:pkh:eip155:1:0x" + "b" * 40,
                                                          "provider": "Google", "hash": "x"})),
        Candidate("Linkedin", credential()),
    ]
    assert [c.provider for c in stamps_to_verify(candidates, A, TRUSTED, NOW)] == ["Discord", "Linkedin"]
