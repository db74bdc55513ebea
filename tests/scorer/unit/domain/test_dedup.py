"""LIFO planning of one dedup attempt (scoring contract §6.2, §6.3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scorer_lambda.domain.dedup import LdpEvent, LinkWrite, all_nullifiers, nullifiers_of, plan_dedup
from scorer_lambda.models import Candidate, Link

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
ME, OTHER, THIRD = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
EXP = "2027-03-01T00:00:00Z"
EXP_DT = datetime(2027, 3, 1, tzinfo=UTC)


def stamp(provider: str, nullifiers: list[str] | None = None, *, expires: str = EXP, hash: str | None = None,
          subject_provider: str | None = None) -> Candidate:
    subject: dict[str, Any] = {"provider": subject_provider or provider}
    if nullifiers is not None:
        subject["nullifiers"] = nullifiers
    if hash is not None:
        subject["hash"] = hash
    return Candidate(provider, {"expirationDate": expires, "credentialSubject": subject})


def link(id_: int, hash: str, address: str, expires_at: datetime) -> Link:
    return Link(id_, hash, address, expires_at)


def plan(stamps: list[Candidate], links: list[Link], multi: bool = False) -> Any:
    return plan_dedup(stamps, links, address=ME, now=NOW, multi_nullifier=multi)


@pytest.mark.parametrize(("subject", "multi", "expected"), [
    ({"nullifiers": ["v0.0.0:a", "v1:a", "v2:a"]}, False, ["v0.0.0:a"]),
    ({"nullifiers": ["v0.0.0:a", "v1:a", "v2:a"]}, True, ["v0.0.0:a", "v1:a", "v2:a"]),
    ({"nullifiers": ["v1:only"]}, False, []),
    ({"hash": "v0.0.0:h", "nullifiers": ["v0.0.0:n"]}, False, ["v0.0.0:h"]),
    ({"hash": "v1:h", "nullifiers": ["v0.0.0:n"]}, False, []),
    ({"hash": "v1:h"}, True, ["v1:h"]),
    ({"nullifiers": ["v0x", "x-v0"]}, False, ["v0x"]),
])
def test_nullifiers_of_stamp(subject: dict[str, Any], multi: bool, expected: list[str]) -> None:
    assert nullifiers_of({"credentialSubject": subject}, multi) == expected


def test_all_nullifiers_concatenates_without_duplicates() -> None:
    stamps = [stamp("A", ["v0.0.0:x", "v0.0.0:y"]), stamp("B", ["v0.0.0:y", "v0.0.0:z", "v1:q"])]
    assert all_nullifiers(stamps, False) == ["v0.0.0:x", "v0.0.0:y", "v0.0.0:z"]


def test_free_nullifiers_are_inserted_for_the_caller() -> None:
    result = plan([stamp("Ens", ["v0.0.0:e", "v1:e"]), stamp("Google", ["v0.0.0:g"], expires="2027-01-15T10:20:30Z")],
                  [])
    assert [s.provider for s in result.kept] == ["Ens", "Google"]
    assert result.own_inserts == (LinkWrite("v0.0.0:e", ME, EXP_DT),
                                  LinkWrite("v0.0.0:g", ME, datetime(2027, 1, 15, 10, 20, 30, tzinfo=UTC)))
    assert (result.own_updates, result.backfills, result.clashing, result.ldp_events) == ((), (), {}, ())


def test_own_links_are_refreshed_and_forfeited_links_reclaimed() -> None:
    links = [link(1, "v0.0.0:mine", ME, NOW + timedelta(days=1)), link(2, "v0.0.0:old", OTHER, NOW),
             link(3, "v0.0.0:older", OTHER, NOW - timedelta(days=1))]
    result = plan([stamp("Ens", ["v0.0.0:mine", "v0.0.0:old", "v0.0.0:older"])], links)
    assert [s.provider for s in result.kept] == ["Ens"], "expires_at <= now is forfeited"
    assert result.own_updates == (LinkWrite("v0.0.0:mine", ME, EXP_DT, 1), LinkWrite("v0.0.0:old", ME, EXP_DT, 2),
                                  LinkWrite("v0.0.0:older", ME, EXP_DT, 3))
    assert result.own_hashes == ["v0.0.0:mine", "v0.0.0:old", "v0.0.0:older"]


def test_one_clashing_nullifier_deduplicates_and_backfills_only_missing_ones() -> None:
    owner_expiry = NOW + timedelta(days=3)
    links = [link(1, "v0.0.0:hA", OTHER, owner_expiry), link(2, "v0.0.0:forfeit", THIRD, NOW - timedelta(days=1)),
             link(3, "v0.0.0:mine", ME, NOW + timedelta(days=1))]
    result = plan([stamp("Google", ["v0.0.0:forfeit", "v0.0.0:hB", "v0.0.0:hA", "v0.0.0:mine"])], links)
    assert result.kept == ()
    assert list(result.clashing) == ["Google"]
    assert result.backfills == (LinkWrite("v0.0.0:hB", OTHER, owner_expiry),), "linked nullifiers are left alone"
    assert (result.own_inserts, result.own_updates) == ((), ())
    assert result.ldp_events == (LdpEvent("Google", ("v0.0.0:forfeit", "v0.0.0:hB", "v0.0.0:hA", "v0.0.0:mine")),)


def test_backfill_goes_to_the_owner_of_the_first_clashing_nullifier() -> None:
    links = [link(1, "v0.0.0:c2", THIRD, NOW + timedelta(days=9)), link(2, "v0.0.0:c1", OTHER, NOW + timedelta(days=5))]
    result = plan([stamp("Google", ["v0.0.0:c1", "v0.0.0:c2", "v0.0.0:free"])], links)
    assert result.backfills == (LinkWrite("v0.0.0:free", OTHER, NOW + timedelta(days=5)),)


def test_first_plan_wins_for_a_nullifier_shared_by_two_stamps() -> None:
    result = plan([stamp("Ens", ["v0.0.0:dup"], expires="2027-01-01T00:00:00Z"), stamp("Google", ["v0.0.0:dup"])], [])
    assert [s.provider for s in result.kept] == ["Ens", "Google"]
    assert result.own_inserts == (LinkWrite("v0.0.0:dup", ME, datetime(2027, 1, 1, tzinfo=UTC)),)


def test_own_plan_wins_over_a_later_backfill_of_the_same_nullifier() -> None:
    links = [link(1, "v0.0.0:taken", OTHER, NOW + timedelta(days=5))]
    result = plan([stamp("Ens", ["v0.0.0:new"]), stamp("Google", ["v0.0.0:taken", "v0.0.0:new"])], links)
    assert result.own_inserts == (LinkWrite("v0.0.0:new", ME, EXP_DT),)
    assert result.backfills == ()


def test_writes_are_planned_in_ascending_hash_order() -> None:
    result = plan([stamp("A", ["v0.0.0:z"]), stamp("B", ["v0.0.0:m"]), stamp("C", ["v0.0.0:a"])], [])
    assert [w.hash for w in result.own_inserts] == ["v0.0.0:a", "v0.0.0:m", "v0.0.0:z"]


def test_clashing_is_keyed_by_credential_provider_and_the_later_stamp_wins() -> None:
    links = [link(1, "v0.0.0:t1", OTHER, NOW + timedelta(days=5)), link(2, "v0.0.0:t2", OTHER, NOW + timedelta(days=5))]
    first = stamp("GoogleA", ["v0.0.0:t1"], subject_provider="Google")
    second = stamp("GoogleB", ["v0.0.0:t2"], subject_provider="Google")
    result = plan([first, second], links)
    assert result.clashing == {"Google": second}
    assert result.ldp_events == (LdpEvent("Google", ("v0.0.0:t2",)),)


def test_stamp_without_dedup_nullifiers_is_always_kept() -> None:
    links = [link(1, "v1:only", OTHER, NOW + timedelta(days=5))]
    result = plan([stamp("Google", ["v1:only"])], links)
    assert [s.provider for s in result.kept] == ["Google"] and result.own_hashes == []
    flagged = plan([stamp("Google", ["v1:only"])], links, multi=True)
    assert flagged.kept == () and list(flagged.clashing) == ["Google"], "with the flag on v1 nullifiers clash"
