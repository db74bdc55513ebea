"""The signature memo keeps only verdicts that cannot change (production contract P6) and verification is bounded
in time (P2.3); real didkit-signed stamps."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scorer_lambda import verify
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.verify import SignatureVerifier

ADDRESS = "0x" + "c" * 40


def _stamp(signer: StampSigner, **kwargs: Any) -> dict[str, Any]:
    now = datetime.now(UTC).replace(microsecond=0)
    return signer.issue_eip712(address=ADDRESS, provider="Google", nullifiers=["v0.0.0:memo"],
                               issuance_date=kwargs.pop("issued", now - timedelta(days=1)),
                               expiration_date=now + timedelta(days=30), **kwargs)


def test_a_proof_created_in_the_future_is_invalid_now_and_valid_later(signer: StampSigner) -> None:
    created = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    stamp = _stamp(signer, issued=created, created=created)
    verifier = SignatureVerifier()
    assert verifier.verify_all([stamp]) == [False], "didkit rejects a proof created in the future"
    time.sleep(max(0.0, (created - datetime.now(UTC)).total_seconds()) + 1.2)
    assert verifier.verify_all([stamp]) == [True], "the clock-dependent invalid verdict was not memoised"


def test_valid_verdicts_are_memoised(signer: StampSigner, monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = _stamp(signer)
    verifier = SignatureVerifier()
    assert verifier.verify_all([stamp]) == [True]
    calls: list[str] = []

    async def counting(document: str) -> bool:
        calls.append(document)
        return False

    monkeypatch.setattr(verify, "_verify_one", counting)
    assert verifier.verify_all([stamp]) == [True], "served from the memo"
    assert calls == [], "a memoised valid verdict is not verified again"
    tampered = {**stamp, "issuanceDate": "2020-01-01T00:00:00Z"}
    assert verifier.verify_all([tampered, tampered]) == [False, False]
    assert verifier.verify_all([tampered]) == [False]
    assert len(calls) == 3, "invalid verdicts are verified again each time"


def test_a_verification_still_running_at_the_deadline_counts_as_invalid(signer: StampSigner,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    stamp = _stamp(signer)
    slow_document = "slow"

    original = verify._verify_one

    async def slow_for_one(document: str) -> bool:
        if slow_document in document:
            await asyncio.sleep(30)
        return await original(document)

    monkeypatch.setattr(verify, "_verify_one", slow_for_one)
    verifier = SignatureVerifier(deadline_seconds=0.5)
    slow = {**stamp, "note": slow_document}
    started = time.perf_counter()
    assert verifier.verify_all([stamp, slow]) == [True, False]
    assert time.perf_counter() - started < 5, "bounded by the deadline"
    monkeypatch.setattr(verify, "_verify_one", original)
    assert verifier.verify_all([stamp]) == [True], "the loop still works after a cancelled verification"
