"""Human points decisions of a scoring run (scoring contract §8.1, §8.2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from scorer_lambda.domain.human_points import human_key_claims, is_write_gate_open, list_awards, provider_actions
from scorer_lambda.models import Candidate

NOW = datetime(2026, 11, 22, tzinfo=UTC)


def stamp(provider: str, subject: dict[str, Any]) -> Candidate:
    return Candidate(provider, {"credentialSubject": subject})


def test_human_key_uses_the_last_truthy_raw_nullifier_and_the_credential_provider() -> None:
    kept = [stamp("GoogleRow", {"provider": "Google", "nullifiers": ["v0.0.0:g", "v1:g", ""]}),
            stamp("Ens", {"provider": "Ens", "hash": "v0.0.0:e"}),
            stamp("Discord", {"provider": "Discord", "nullifiers": []}),
            stamp("Github", {"provider": "", "nullifiers": ["v0.0.0:x"]})]
    assert human_key_claims(kept) == [("Google", "v1:g")], "hash-only, empty lists and no provider give none"


def test_provider_actions_use_the_cache_provider_column() -> None:
    kept = [stamp("SelfStakingBronze", {}), stamp("TrustedCitizen", {}), stamp("Google", {}), stamp("Biometrics", {})]
    assert provider_actions(kept) == ["ISB", "CST", "HBI"]


def test_write_gate_needs_every_condition() -> None:
    start = int(NOW.timestamp())
    base = {"write_enabled": True, "community_in_program": True, "passes": True, "now": NOW, "start_timestamp": start}
    assert is_write_gate_open(**base)
    for key, value in (("write_enabled", False), ("community_in_program", False), ("passes", False),
                       ("start_timestamp", start + 1)):
        assert not is_write_gate_open(**{**base, key: value}), key


def test_metamask_award_only_with_the_mta_flag() -> None:
    assert [a[1] for a in list_awards(False)] == ["SOG", "TCO"]
    assert list_awards(True)[0] == ("MetaMaskOG2", "MM2", 5000)
