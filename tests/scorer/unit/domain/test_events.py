"""Event payloads (scoring contract §6.5, §7.7)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from scorer_lambda.domain.dedup import LdpEvent
from scorer_lambda.domain.events import ldp_event_data, scu_event_data
from scorer_lambda.domain.scoring import compute_score
from scorer_lambda.models import Candidate


def test_ldp_payload_carries_the_community_as_a_number() -> None:
    assert ldp_event_data(LdpEvent("Discord", ("v0.0.0:shared",)), 3) == {
        "nullifiers": ["v0.0.0:shared"], "provider": "Discord", "community_id": 3}


def test_scu_payload_is_one_object_in_event_encoding() -> None:
    kept = [Candidate("Google", {"expirationDate": "2027-01-15T10:20:30.456Z", "credentialSubject": {}})]
    result = compute_score(kept, {}, {"Google": 0.525}, Decimal("0.5"))
    data = scu_event_data(result, score_id=11, passport_id=22,
                          timestamp=datetime(2026, 11, 22, 13, 49, 49, 261999, tzinfo=UTC))
    assert data == {"model": "registry.score", "pk": 11, "fields": {
        "passport": 22, "score": "1", "last_score_timestamp": "2026-11-22T13:49:49.261Z", "status": "DONE",
        "error": None, "evidence": result.evidence, "stamp_scores": {"Google": 0.525}, "stamps": result.stamps,
        "expiration_date": "2027-01-15T10:20:30.456Z"}}
    empty = scu_event_data(compute_score([], {}, {}, Decimal(1)), score_id=1, passport_id=1,
                           timestamp=datetime(2027, 3, 1, tzinfo=UTC))
    assert (empty["fields"]["score"], empty["fields"]["expiration_date"],
            empty["fields"]["last_score_timestamp"]) == ("0", None, "2027-03-01T00:00:00Z")
