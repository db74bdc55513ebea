"""Weighted threshold scoring with Decimal-from-float semantics (scoring contract §7.1–§7.5, §7.8, §7.9)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from scorer_lambda.domain.scoring import WeightsMissing, compute_score, effective_weights
from scorer_lambda.models import Candidate

W_WEIGHTS = {"Google": 0.525, "Ens": 0.208, "Discord": 0.516, "Github": "1.5"}


def stamp(provider: str, expires: str = "2027-03-01T00:00:00Z", subject_provider: str | None = None) -> Candidate:
    return Candidate(provider, {"expirationDate": expires,
                                "credentialSubject": {"provider": subject_provider or provider}})


def test_worked_example_sum_is_the_28_digit_sum_of_exact_floats() -> None:
    kept = [stamp("Discord"), stamp("Ens"), stamp("Google", "2027-01-15T10:20:30.456Z")]
    result = compute_score(kept, {}, W_WEIGHTS, Decimal("1.24900"))
    assert result.total == Decimal("1.249000000000000026867397196"), "§7.8 step 1 rawScore"
    assert result.evidence == {"type": "ThresholdScoreCheck", "success": True,
                               "rawScore": "1.249000000000000026867397196", "threshold": "1.24900"}
    assert result.binary == Decimal(1) and result.passes
    assert result.stamp_scores == {"Discord": 0.516, "Ens": 0.208, "Google": 0.525}
    assert result.expiration == datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC), "earliest kept expiry"
    assert list(result.stamps) == ["Discord", "Ens", "Google"]
    assert result.stamps["Google"] == {"score": "0.52500", "dedup": False,
                                       "expiration_date": "2027-01-15T10:20:30.456000+00:00"}


def test_float_weight_is_converted_exactly_never_through_its_shortest_string() -> None:
    result = compute_score([stamp("Ens")], {}, {"Ens": 0.7}, Decimal("0.70000"))
    assert result.evidence["rawScore"] == "0.6999999999999999555910790150", "§7.9: Decimal(0.7) rounded to 28 digits"
    assert (result.binary, result.evidence["success"], result.passes) == (Decimal(0), False, False)
    single = compute_score([stamp("Google")], {}, {"Google": 0.525}, Decimal(1))
    assert single.evidence["rawScore"] == "0.5250000000000000222044604925", "exact binary value, 28 digits"


def test_string_weights_keep_their_exponent() -> None:
    result = compute_score([stamp("Ens"), stamp("Google")], {}, {"Google": "1.5000", "Ens": 0.5}, Decimal("2.00000"))
    assert result.evidence["rawScore"] == "2.0000", "'1.5000' + 0.5"
    assert result.stamp_scores == {"Ens": 0.5, "Google": 1.5}
    assert result.passes


@pytest.mark.parametrize(("weights", "raw", "scores"), [
    ({"A": 15, "B": 15, "C": 15}, "45", {"A": 15.0, "B": 15.0, "C": 15.0}),
    ({"A": "1.5"}, "1.5", {"A": 1.5}),
    ({}, "0", {"A": 0.0}),
])
def test_raw_score_is_str_of_the_decimal_sum(weights: dict[str, Any], raw: str, scores: dict[str, float]) -> None:
    kept = [stamp(p) for p in sorted(scores)]
    result = compute_score(kept, {}, weights, Decimal("20.00000"))
    assert result.evidence["rawScore"] == raw
    assert result.stamp_scores == scores


def test_no_kept_stamps_scores_zero_without_expiration() -> None:
    result = compute_score([], {}, W_WEIGHTS, Decimal("1.24900"))
    assert (result.evidence["rawScore"], result.stamp_scores, result.stamps, result.expiration) == ("0", {}, {}, None)
    assert result.binary == Decimal(0)


def test_addition_order_changes_the_last_digit() -> None:
    weights = {"BinanceBABT": 16.021, "CivicLivenessPass": 3.038}
    forward = compute_score([stamp("BinanceBABT"), stamp("CivicLivenessPass")], {}, weights, Decimal(1)).total
    backward = compute_score([stamp("CivicLivenessPass"), stamp("BinanceBABT")], {}, weights, Decimal(1)).total
    assert (forward, backward) == (Decimal("19.05900000000000060751403907"),
                                   Decimal("19.05900000000000060751403908")), "each addition rounds to 28 digits"


def test_threshold_is_inclusive() -> None:
    assert compute_score([stamp("A")], {}, {"A": "1.24900"}, Decimal("1.24900")).passes


def test_deduplicated_stamps_appear_after_kept_ones_with_the_raw_date() -> None:
    kept = [stamp("Github")]
    clashing = {"Discord": stamp("Discord", "2027-01-15T10:20:30.456Z")}
    result = compute_score(kept, clashing, W_WEIGHTS, Decimal("1.24900"))
    assert result.stamps == {
        "Github": {"score": "1.50000", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
        "Discord": {"score": "0.00000", "dedup": True, "expiration_date": "2027-01-15T10:20:30.456Z"},
    }
    assert list(result.stamps) == ["Github", "Discord"], "kept stamps first (§7.5)"


def test_kept_provider_that_also_clashed_shows_dedup_and_the_clashing_raw_date() -> None:
    result = compute_score([stamp("Google")], {"Google": stamp("GoogleOld", "2027-02-01T00:00:00.100Z", "Google")},
                           W_WEIGHTS, Decimal(1))
    assert result.stamps == {"Google": {"score": "0.52500", "dedup": True,
                                        "expiration_date": "2027-02-01T00:00:00.100Z"}}


def test_credential_offset_is_kept_in_the_expiration() -> None:
    result = compute_score([stamp("Ens", "2027-03-01T02:00:00+02:00")], {}, W_WEIGHTS, Decimal(1))
    assert result.stamps["Ens"]["expiration_date"] == "2027-03-01T02:00:00+02:00"
    assert result.expiration is not None and result.expiration.isoformat() == "2027-03-01T02:00:00+02:00"


def test_null_weights_fail_only_when_a_stamp_is_kept() -> None:
    assert compute_score([], {}, None, Decimal(1)).evidence["rawScore"] == "0"
    with pytest.raises(WeightsMissing):
        compute_score([stamp("Ens")], {}, None, Decimal(1))


def test_customization_overlay_adds_and_overrides_in_order() -> None:
    merged = effective_weights({"Google": 0.525, "X": 1}, (("AllowList#VIP", "1.5000"), ("X", "2.0000"),
                                                          ("X", "3.0000")))
    assert merged == {"Google": 0.525, "X": "3.0000", "AllowList#VIP": "1.5000"}, "later entries win"
    assert effective_weights(None, ()) is None
    assert effective_weights({"A": 1}, ()) == {"A": 1}
