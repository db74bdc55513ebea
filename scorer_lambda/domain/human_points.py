"""Human points: write gate, per-stamp actions and the response shapes (scoring contract §8)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from ..models import Candidate

PROVIDER_ACTIONS: dict[str, str] = {
    "SelfStakingBronze": "ISB",
    "SelfStakingSilver": "ISS",
    "SelfStakingGold": "ISG",
    "BeginnerCommunityStaker": "CSB",
    "ExperiencedCommunityStaker": "CSE",
    "TrustedCitizen": "CST",
    "HolonymGovIdProvider": "HGO",
    "HolonymPhone": "HPH",
    "CleanHands": "HCH",
    "Biometrics": "HBI",
}
# Address-list awards of §8.2 step 4: (list name, action, cap on all rows of that action or None).
METAMASK_AWARD = ("MetaMaskOG2", "MM2", 5000)
LIST_AWARDS = (("SeasonedPassportOGs", "SOG", None), ("TheChosenOnes", "TCO", None))
SCORING_BONUS_COMMUNITIES = 4


def is_write_gate_open(*, write_enabled: bool, community_in_program: bool, passes: bool, now: datetime,
                       start_timestamp: int) -> bool:
    """§8.1: every condition must hold."""
    return write_enabled and community_in_program and passes and now.timestamp() >= start_timestamp


def human_key_claims(kept: Iterable[Candidate]) -> list[tuple[str, str]]:
    """(credentialSubject.provider, tx_hash) per kept stamp that carries a truthy nullifier list."""
    claims: list[tuple[str, str]] = []
    for stamp in kept:
        subject = stamp.credential.get("credentialSubject") or {}
        values = subject.get("nullifiers")
        provider = subject.get("provider")
        truthy = [value for value in values if value] if isinstance(values, list) else []
        if truthy and provider:
            claims.append((str(provider), str(truthy[-1])))
    return claims


def provider_actions(kept: Iterable[Candidate]) -> list[str]:
    return [PROVIDER_ACTIONS[stamp.provider] for stamp in kept if stamp.provider in PROVIDER_ACTIONS]


def list_awards(mta_enabled: bool) -> list[tuple[str, str, int | None]]:
    return [METAMASK_AWARD, *LIST_AWARDS] if mta_enabled else list(LIST_AWARDS)


def points_data(rows: Sequence[tuple[str, int, int, int]], *, is_eligible: bool) -> dict[str, Any]:
    """§8.4 from rows of (action, chain_id, action_points, multiplier)."""
    breakdown: dict[str, int] = {}
    for action, chain_id, action_points, _ in rows:
        if chain_id != 0:
            breakdown[f"{action}_{chain_id}"] = action_points
        breakdown[action] = breakdown.get(action, 0) + action_points
    return {
        "total_points": sum(row[2] for row in rows),
        "is_eligible": is_eligible,
        "multiplier": rows[0][3] if rows else 1,
        "breakdown": breakdown,
    }


def possible_points_data(config: Iterable[tuple[str, int]], *, multiplier: int) -> dict[str, Any]:
    return {"total_points": 0, "is_eligible": False, "multiplier": multiplier,
            "breakdown": dict(config)}
