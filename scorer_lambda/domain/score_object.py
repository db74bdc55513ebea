"""The ScoreObject every score-returning route emits (scoring contract §5.8)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from .timestamps import five_decimals, iso

_DEFAULT_THRESHOLD = "20"


def score_object(*, address: str, evidence: Mapping[str, Any] | None, last_score_timestamp: datetime | None,
                 expiration: datetime | None, error: str | None, stamps: Mapping[str, Any] | None,
                 points_data: dict[str, Any] | None = None,
                 possible_points_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the object from a score row's values; ``score`` is the raw weighted sum, not the 0/1 result."""
    if evidence is None:
        raw, threshold = Decimal(0), Decimal(_DEFAULT_THRESHOLD)
    else:
        raw = Decimal(evidence.get("rawScore", "0"))
        threshold = Decimal(evidence.get("threshold", _DEFAULT_THRESHOLD))
    return {
        "address": address,
        "score": five_decimals(raw),
        "passing_score": raw >= threshold,
        "last_score_timestamp": iso(last_score_timestamp),
        "expiration_timestamp": iso(expiration),
        "threshold": five_decimals(threshold),
        "error": error,
        "stamps": _ordered_stamps(stamps),
        "points_data": points_data,
        "possible_points_data": possible_points_data,
        "linked_score": None,
    }


def _ordered_stamps(stamps: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each value's keys in the documented order; a jsonb column hands them back in its own order."""
    if not stamps:
        return {}
    return {
        provider: {key: value[key] for key in _STAMP_KEYS if key in value} | value
        if isinstance(value, dict) else value
        for provider, value in stamps.items()
    }


_STAMP_KEYS = ("score", "dedup", "expiration_date")
