"""The ScoreObject built from a score row's values (scoring contract §5.8)."""

from __future__ import annotations

from datetime import UTC, datetime

from scorer_lambda.domain.score_object import score_object

A = "0x" + "a" * 40
KEYS = ["address", "score", "passing_score", "last_score_timestamp", "expiration_timestamp", "threshold", "error",
        "stamps", "points_data", "possible_points_data", "linked_score"]


def test_score_is_the_raw_sum_and_keys_keep_the_contract_order() -> None:
    body = score_object(address=A, evidence={"rawScore": "10", "threshold": "5"},
                        last_score_timestamp=datetime(2026, 11, 22, tzinfo=UTC), expiration=None, error=None,
                        stamps=None)
    assert list(body) == KEYS
    assert body == {"address": A, "score": "10.00000", "passing_score": True,
                    "last_score_timestamp": "2026-11-22T00:00:00+00:00", "expiration_timestamp": None,
                    "threshold": "5.00000", "error": None, "stamps": {}, "points_data": None,
                    "possible_points_data": None, "linked_score": None}


def test_null_evidence_means_zero_against_twenty() -> None:
    body = score_object(address=A, evidence=None, last_score_timestamp=None, expiration=None, error="boom",
                        stamps=None)
    assert (body["score"], body["threshold"], body["passing_score"], body["error"]) == ("0.00000", "20.00000", False,
                                                                                        "boom")


def test_missing_evidence_keys_default_to_zero_and_twenty() -> None:
    assert score_object(address=A, evidence={"threshold": "1"}, last_score_timestamp=None, expiration=None,
                        error=None, stamps={})["score"] == "0.00000"
    body = score_object(address=A, evidence={"rawScore": "25"}, last_score_timestamp=None, expiration=None,
                        error=None, stamps={})
    assert (body["threshold"], body["passing_score"]) == ("20.00000", True)


def test_passing_compares_the_raw_sum_not_the_rounded_display() -> None:
    body = score_object(address=A, evidence={"rawScore": "0.6999999999999999555910790150", "threshold": "0.70000"},
                        last_score_timestamp=None, expiration=None, error=None, stamps={})
    assert (body["score"], body["passing_score"]) == ("0.70000", False)
