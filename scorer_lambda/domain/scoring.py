"""Weighted threshold scoring with the existing service's Decimal-from-float semantics (scoring contract §7)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal
from typing import Any

from ..models import Candidate
from .dedup import expiry_of
from .timestamps import five_decimals

# Python's default decimal context (28 digits, ROUND_HALF_EVEN), pinned so no thread-local change can leak in.
_CONTEXT = Context()
_ONE = Decimal(1)
_ZERO = Decimal(0)


class WeightsMissing(AttributeError):
    """The scorer has NULL weights while stamps were kept; the message is the existing service's."""

    def __init__(self) -> None:
        super().__init__("'NoneType' object has no attribute 'get'")


@dataclass(frozen=True)
class ScoreResult:
    binary: Decimal
    total: Decimal
    threshold: Decimal
    evidence: dict[str, Any]
    stamp_scores: dict[str, float]
    stamps: dict[str, dict[str, Any]]
    expiration: datetime | None

    @property
    def passes(self) -> bool:
        return self.binary == _ONE


def effective_weights(weights: Mapping[str, Any] | None, overlay: Sequence[tuple[str, str]]) -> dict[str, Any] | None:
    """The scorer's weights with the customization overlay applied in order (§7.1)."""
    if weights is None and not overlay:
        return None
    merged = dict(weights or {})
    merged.update(overlay)
    return merged


def compute_score(kept: Sequence[Candidate], clashing: Mapping[Any, Candidate], weights: Mapping[str, Any] | None,
                  threshold: Decimal) -> ScoreResult:
    """Sum the kept stamps' weights in stamp order and decide against the threshold (§7.2–§7.5)."""
    total = _ZERO
    stamp_scores: dict[str, float] = {}
    expirations: dict[str, datetime] = {}
    for stamp in kept:
        if weights is None:
            raise WeightsMissing()
        weight = Decimal(weights.get(stamp.provider, 0))  # exact binary value of a float, never via str()
        total = _CONTEXT.add(total, weight)
        stamp_scores[stamp.provider] = float(weight)
        expirations[stamp.provider] = expiry_of(stamp)

    binary = _ONE if total >= threshold else _ZERO
    return ScoreResult(
        binary=binary,
        total=total,
        threshold=threshold,
        evidence={"type": "ThresholdScoreCheck", "success": binary == _ONE, "rawScore": str(total),
                  "threshold": str(threshold)},
        stamp_scores=stamp_scores,
        stamps=_stamps_map(stamp_scores, expirations, clashing),
        expiration=min(expirations.values()) if expirations else None,
    )


def _stamps_map(stamp_scores: Mapping[str, float], expirations: Mapping[str, datetime],
                clashing: Mapping[Any, Candidate]) -> dict[str, dict[str, Any]]:
    stamps: dict[str, dict[str, Any]] = {}
    for provider, score in stamp_scores.items():
        deduplicated = provider in clashing
        stamps[provider] = {
            "score": five_decimals(Decimal(score)),
            "dedup": deduplicated,
            "expiration_date": (
                clashing[provider].credential["expirationDate"] if deduplicated else expirations[provider].isoformat()
            ),
        }
    for provider, stamp in clashing.items():
        if provider not in stamps:
            stamps[provider] = {"score": "0.00000", "dedup": True,
                                "expiration_date": stamp.credential["expirationDate"]}
    return stamps
