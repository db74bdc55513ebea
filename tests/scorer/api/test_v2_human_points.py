"""Human points written by E1 scoring runs (scoring contract §8.1, §8.2, AT-21)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_address_list, insert_community, insert_human_points_config, insert_scorer
from scorer_lambda.local.signing import StampSigner

from ..harness import Scorer
from .conftest import MakeScorer
from .v2_support import NOW, Clock, add_stamp, address, call_e1, e1_path, rows, score_row

H = address(0x4855)
PROGRAM = (10, 11, 12, 13)  # communities in the human points program
OUTSIDE = 14  # a community outside the program


def _points(db: psycopg.Connection[Any], addr: str = H) -> list[tuple[str, str, str, int]]:
    return [(r["action"], r["provider"], r["tx_hash"], r["chain_id"]) for r in rows(
        db, "SELECT action, provider, tx_hash, chain_id FROM registry_humanpoints WHERE address = %s"
        " ORDER BY action, provider", addr)]


def _qualified(db: psycopg.Connection[Any], addr: str = H) -> list[int]:
    return [r["community_id"] for r in rows(
        db, "SELECT community_id FROM registry_humanpointscommunityqualifiedusers WHERE address = %s"
        " ORDER BY community_id", addr)]


def _setup(db: psycopg.Connection[Any], w: DemoSeed, signer: StampSigner) -> None:
    """Communities 10–13 in the program and 14 outside it, all passing at 1.5 with Google + SelfStakingBronze."""
    insert_scorer(db, scorer_id=20, weights={"Google": 1, "SelfStakingBronze": 1, "Ens": 0.1}, threshold="1.5")
    for community in PROGRAM:
        insert_community(db, community_id=community, account_id=w.account_id, scorer_id=20, human_points_program=True)
    insert_community(db, community_id=OUTSIDE, account_id=w.account_id, scorer_id=20)
    insert_human_points_config(db)
    add_stamp(db, signer, H, "Google", ["v0.0.0:g", "v1:g"])
    add_stamp(db, signer, H, "SelfStakingBronze", ["v0.0.0:ssb"])


def _scorer(w: DemoSeed, make_scorer: MakeScorer, clock: Clock, **env: str) -> Scorer:
    return make_scorer(trusted=w.trusted_issuers, clock=clock, **{"HUMAN_POINTS_WRITE_ENABLED": "true", **env})


def test_e1_passing_run_writes_human_points_once(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                 db: psycopg.Connection[Any], signer: StampSigner) -> None:
    _setup(db, w_pinned, signer)
    scorer = _scorer(w_pinned, make_scorer, clock, HUMAN_POINTS_ENABLED="true")
    route = f"E1 {e1_path(10, H)}"
    reply = call_e1(scorer, 10, H, headers={"x-api-key": w_pinned.api_key})
    assert reply.body["passing_score"] is True, route
    assert (reply.body["points_data"], reply.body["possible_points_data"]) == (None, None), \
        f"{route}: E1 never carries points"
    assert _qualified(db) == [10], f"{route}: qualified community"
    assert _points(db) == [("HKY", "Google", "v1:g", 0), ("HKY", "SelfStakingBronze", "v0.0.0:ssb", 0),
                           ("ISB", "", "", 0)], f"{route}: HKY per nullifier-bearing stamp (raw list), ISB"
    stamped = rows(db, "SELECT DISTINCT timestamp FROM registry_humanpoints")
    assert stamped == [{"timestamp": NOW}], f"{route}: timestamp = now"
    clock.now = NOW + timedelta(hours=1)
    call_e1(scorer, 10, H, headers={"x-api-key": w_pinned.api_key})
    assert len(_points(db)) == 3 and _qualified(db) == [10], f"{route}: re-scoring adds nothing"
    assert rows(db, "SELECT DISTINCT timestamp FROM registry_humanpoints") == stamped, f"{route}: rows untouched"


def test_e1_scoring_bonus_after_four_qualified_communities(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                           db: psycopg.Connection[Any], signer: StampSigner) -> None:
    _setup(db, w_pinned, signer)
    scorer = _scorer(w_pinned, make_scorer, clock)
    for n, community in enumerate(PROGRAM, start=1):
        call_e1(scorer, community, H, headers={"x-api-key": w_pinned.api_key})
        bonus = [p for p in _points(db) if p[0] == "SCB"]
        expected = [("SCB", "", "", 0)] if n >= 4 else []
        assert bonus == expected, f"E1 {e1_path(community, H)}: SCB after {n} qualified communities"
    call_e1(scorer, OUTSIDE, H, headers={"x-api-key": w_pinned.api_key})
    call_e1(scorer, PROGRAM[-1], H, headers={"x-api-key": w_pinned.api_key})
    assert _qualified(db) == list(PROGRAM), "E1: no qualification outside the program"
    assert [p for p in _points(db) if p[0] == "SCB"] == [("SCB", "", "", 0)], "E1: exactly one SCB row"


def test_e1_list_awards_and_the_metamask_cap(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                             db: psycopg.Connection[Any], signer: StampSigner) -> None:
    _setup(db, w_pinned, signer)
    second = address(0x4856)
    add_stamp(db, signer, second, "Google", ["v0.0.0:g2"])
    add_stamp(db, signer, second, "SelfStakingBronze", ["v0.0.0:ssb2"])
    insert_address_list(db, name="MetaMaskOG2", members=[H, second])
    insert_address_list(db, name="SeasonedPassportOGs", members=[H])
    insert_address_list(db, name="TheChosenOnes", members=[second])
    call_e1(_scorer(w_pinned, make_scorer, clock), 10, H, headers={"x-api-key": w_pinned.api_key})
    actions = {p[0] for p in _points(db)}
    assert "SOG" in actions and "MM2" not in actions and "TCO" not in actions, \
        f"E1 {e1_path(10, H)}: SOG for the list member, no MM2 without HUMAN_POINTS_MTA_ENABLED"
    call_e1(_scorer(w_pinned, make_scorer, clock, HUMAN_POINTS_MTA_ENABLED="1"), 10, H,
            headers={"x-api-key": w_pinned.api_key})
    assert ("MM2", "", "", 0) in _points(db), f"E1 {e1_path(10, H)}: MM2 with HUMAN_POINTS_MTA_ENABLED"
    # 4999 other MM2 rows + H's make 5000: the cap is reached for the second list member.
    db.execute("INSERT INTO registry_humanpoints (address, action, timestamp, tx_hash, chain_id, provider)"
               " SELECT '0x' || lpad(to_hex(n), 40, '0'), 'MM2', %s, '', 0, '' FROM generate_series(1, 4999) n",
               (NOW,))
    call_e1(_scorer(w_pinned, make_scorer, clock, HUMAN_POINTS_MTA_ENABLED="1"), 10, second,
            headers={"x-api-key": w_pinned.api_key})
    second_actions = {p[0] for p in _points(db, second)}
    assert "MM2" not in second_actions, f"E1 {e1_path(10, second)}: no MM2 once 5000 exist"
    assert "TCO" in second_actions, f"E1 {e1_path(10, second)}: TCO has no cap"


def test_e1_existing_human_key_for_a_provider_blocks_a_new_one(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                               clock: Clock, db: psycopg.Connection[Any],
                                                               signer: StampSigner) -> None:
    _setup(db, w_pinned, signer)
    db.execute("INSERT INTO registry_humanpoints (address, action, timestamp, tx_hash, chain_id, provider)"
               " VALUES (%s, 'HKY', %s, 'minted-elsewhere', 0, 'Google')", (H, NOW))
    call_e1(_scorer(w_pinned, make_scorer, clock), 10, H, headers={"x-api-key": w_pinned.api_key})
    assert [p for p in _points(db) if p[:2] == ("HKY", "Google")] == [("HKY", "Google", "minted-elsewhere", 0)], \
        f"E1 {e1_path(10, H)}: one HKY per (address, provider), whatever its tx_hash"


def test_e1_closed_write_gate_writes_no_points(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                               db: psycopg.Connection[Any], signer: StampSigner) -> None:
    _setup(db, w_pinned, signer)
    failing = address(0x4857)
    add_stamp(db, signer, failing, "Google")  # 1 < 1.5: does not pass
    future = str(int((NOW + timedelta(minutes=1)).timestamp()))
    cases = [
        ("write flag off", make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, HUMAN_POINTS_ENABLED="true"),
         10, H),
        ("write flag not a true value", _scorer(w_pinned, make_scorer, clock, HUMAN_POINTS_WRITE_ENABLED="enabled"),
         10, H),
        ("community outside the program", _scorer(w_pinned, make_scorer, clock), OUTSIDE, H),
        ("address does not pass", _scorer(w_pinned, make_scorer, clock), 10, failing),
        ("before HUMAN_POINTS_START_TIMESTAMP", _scorer(w_pinned, make_scorer, clock,
                                                        HUMAN_POINTS_START_TIMESTAMP=future), 10, H),
    ]
    for case, scorer, community, addr in cases:
        reply = call_e1(scorer, community, addr, headers={"x-api-key": w_pinned.api_key})
        assert reply.status == 200 and score_row(db, addr, community) is not None, f"E1 {case}"
        assert rows(db, "SELECT 1 FROM registry_humanpoints") == [], f"E1 {e1_path(community, addr)}: {case}"
        assert rows(db, "SELECT 1 FROM registry_humanpointscommunityqualifiedusers") == [], f"E1 {case}"
    started = str(int(NOW.timestamp()))
    call_e1(_scorer(w_pinned, make_scorer, clock, HUMAN_POINTS_START_TIMESTAMP=started), 10, H,
            headers={"x-api-key": w_pinned.api_key})
    assert _qualified(db) == [10], "E1 at exactly HUMAN_POINTS_START_TIMESTAMP: the gate is open"
