"""Payloads of the registry events a scoring run writes (scoring contract §6.5, §7.7)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .dedup import LdpEvent
from .scoring import ScoreResult
from .timestamps import event_iso


def ldp_event_data(event: LdpEvent, community_id: int) -> dict[str, Any]:
    return {"nullifiers": list(event.nullifiers), "provider": event.provider, "community_id": community_id}


def scu_event_data(result: ScoreResult, *, score_id: int, passport_id: int, timestamp: datetime) -> dict[str, Any]:
    """One JSON object in the shape of the existing service's model serialisation."""
    return {
        "model": "registry.score",
        "pk": score_id,
        "fields": {
            "passport": passport_id,
            "score": str(result.binary),
            "last_score_timestamp": event_iso(timestamp),
            "status": "DONE",
            "error": None,
            "evidence": result.evidence,
            "stamp_scores": result.stamp_scores,
            "stamps": result.stamps,
            "expiration_date": event_iso(result.expiration),
        },
    }
