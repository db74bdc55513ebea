"""E1 LIFO de-duplication on the real database: AT-10–AT-12, AT-26, AT-27 and the §6.3/§6.4 rules."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_cache_row, insert_link
from scorer_lambda.local.signing import StampSigner

from ..harness import Reply, Scorer
from .conftest import MakeScorer
from .v2_support import (
    NOW,
    Clock,
    add_stamp,
    address,
    call_e1,
    count,
    e1_path,
    events,
    issue,
    key_headers,
    links,
    rows,
    score_row,
    stamp_providers,
)

C = 3
X, Y = address(0xA1), address(0xB2)


def _scorer(w: DemoSeed, make_scorer: MakeScorer, clock: Clock, **env: str) -> Scorer:
    return make_scorer(trusted=w.trusted_issuers, clock=clock, **env)


# --- AT-10: which nullifiers take part ----------------------------------------------------------------------------

def test_e1_v1_only_nullifiers_never_clash_with_the_flag_off(e1: Scorer, w_pinned: DemoSeed,
                                                             db: psycopg.Connection[Any], signer: StampSigner) -> None:
    for holder in (X, Y):
        add_stamp(db, signer, holder, "Google", ["v1:only"])
    for holder in (X, Y):
        reply = call_e1(e1, C, holder, headers=key_headers(w_pinned))
        assert reply.body["score"] == "0.52500", f"E1 {e1_path(C, holder)}"
        assert reply.body["stamps"]["Google"]["dedup"] is False, f"E1 {e1_path(C, holder)}"
        assert stamp_providers(db, holder, C) == ["Google"], f"E1 {e1_path(C, holder)}: stamp stored"
    assert links(db, C) == {}, "E1 flag off: no link rows for v1 nullifiers"
    assert events(db, "LDP", Y) == []


def test_e1_v1_only_nullifiers_clash_with_the_flag_on(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                      db: psycopg.Connection[Any], signer: StampSigner) -> None:
    scorer = _scorer(w_pinned, make_scorer, clock, FF_MULTI_NULLIFIER="on")
    add_stamp(db, signer, X, "Google", ["v1:only"])
    _, stamp_y = add_stamp(db, signer, Y, "Google", ["v1:only"])
    first = call_e1(scorer, C, X, headers=key_headers(w_pinned))
    second = call_e1(scorer, C, Y, headers=key_headers(w_pinned))
    assert first.body["stamps"]["Google"]["dedup"] is False, f"E1 {e1_path(C, X)} flag on: first keeps it"
    assert second.body["score"] == "0.00000", f"E1 {e1_path(C, Y)} flag on"
    assert second.body["stamps"]["Google"] == {"score": "0.00000", "dedup": True,
                                               "expiration_date": stamp_y["expirationDate"]}, \
        f"E1 {e1_path(C, Y)} flag on: the raw expirationDate of the deduplicated stamp"
    assert stamp_y["expirationDate"].endswith("Z"), "fixture: a raw credential date"
    assert links(db, C) == {"v1:only": (X, NOW + timedelta(days=60))}, "E1 flag on: v1 nullifier linked to X"
    (ldp,) = events(db, "LDP", Y)
    assert ldp["data"] == {"provider": "Google", "nullifiers": ["v1:only"], "community_id": C}, "E1 flag on: LDP"


def test_e1_flag_is_on_only_for_the_exact_value_on(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                   db: psycopg.Connection[Any], signer: StampSigner) -> None:
    scorer = _scorer(w_pinned, make_scorer, clock, FF_MULTI_NULLIFIER="On")
    add_stamp(db, signer, X, "Google", ["v0.0.0:x", "v1:x"])
    call_e1(scorer, C, X, headers=key_headers(w_pinned))
    assert set(links(db, C)) == {"v0.0.0:x"}, "E1 with FF_MULTI_NULLIFIER=On: the flag stays off"


def test_e1_legacy_hash_wins_over_nullifiers(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                             signer: StampSigner) -> None:
    add_stamp(db, signer, X, "Google", ["v0.0.0:new"], hash="v0.0.0:legacy")
    add_stamp(db, signer, Y, "Ens", hash="v0.0.0:only-hash")
    for holder in (X, Y):
        assert call_e1(e1, C, holder, headers=key_headers(w_pinned)).body["error"] is None, f"E1 {holder}"
    assert set(links(db, C)) == {"v0.0.0:legacy", "v0.0.0:only-hash"}, "E1: N(stamp) = [hash] when hash exists"


# --- AT-11, AT-12 and the own-link refresh ------------------------------------------------------------------------

def test_e1_forfeited_link_is_reclaimed_without_ldp_event(e1: Scorer, w_pinned: DemoSeed,
                                                          db: psycopg.Connection[Any], signer: StampSigner) -> None:
    insert_link(db, hash="v0.0.0:x", address=X, community_id=C, expires_at=NOW - timedelta(days=1))
    insert_link(db, hash="v0.0.0:now", address=X, community_id=C, expires_at=NOW)
    add_stamp(db, signer, Y, "Google", ["v0.0.0:x"], expires=NOW + timedelta(days=30))
    add_stamp(db, signer, Y, "Ens", ["v0.0.0:now"], expires=NOW + timedelta(days=40))
    reply = call_e1(e1, C, Y, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, Y)}"
    assert reply.body["score"] == "0.73300", f"{route}: both stamps kept"
    assert links(db, C) == {"v0.0.0:x": (Y, NOW + timedelta(days=30)), "v0.0.0:now": (Y, NOW + timedelta(days=40))}, \
        f"{route}: links reclaimed (expires_at <= now is forfeited) with Y's stamp expiry"
    assert events(db, "LDP", Y) == [], f"{route}: no LDP event"
    assert count(db, "registry_hashscorerlink") == 2, f"{route}: updated in place"


def test_e1_clash_backfills_missing_nullifiers_to_the_owner(e1: Scorer, w_pinned: DemoSeed,
                                                            db: psycopg.Connection[Any], signer: StampSigner) -> None:
    owner_expiry = NOW + timedelta(days=20)
    insert_link(db, hash="v0.0.0:hA", address=X, community_id=C, expires_at=owner_expiry)
    insert_link(db, hash="v0.0.0:hC", address=address(0xCC), community_id=C, expires_at=NOW - timedelta(days=1))
    add_stamp(db, signer, Y, "Google", ["v0.0.0:hA", "v0.0.0:hB", "v0.0.0:hC"])
    reply = call_e1(e1, C, Y, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, Y)}"
    assert reply.body["error"] is None, f"{route}: no retry exhaustion"
    assert reply.body["score"] == "0.00000" and reply.body["stamps"]["Google"]["dedup"] is True, route
    assert links(db, C) == {"v0.0.0:hA": (X, owner_expiry), "v0.0.0:hB": (X, owner_expiry),
                            "v0.0.0:hC": (address(0xCC), NOW - timedelta(days=1))}, \
        f"{route}: hB backfilled to X with X's expiry; the forfeited hC left alone"
    (ldp,) = events(db, "LDP", Y)
    assert ldp["data"] == {"provider": "Google", "nullifiers": ["v0.0.0:hA", "v0.0.0:hB", "v0.0.0:hC"],
                           "community_id": C}, f"{route}: one LDP event"
    assert stamp_providers(db, Y, C) == [], f"{route}: deduplicated stamps are not stored"
    call_e1(e1, C, Y, headers=key_headers(w_pinned))
    assert len(events(db, "LDP", Y)) == 2, f"{route}: re-scoring writes the LDP event again"


def test_e1_rescoring_refreshes_own_link_expiry(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                signer: StampSigner) -> None:
    insert_link(db, hash="v0.0.0:mine", address=X, community_id=C, expires_at=NOW + timedelta(days=2))
    add_stamp(db, signer, X, "Google", ["v0.0.0:mine"], expires=NOW + timedelta(days=90))
    call_e1(e1, C, X, headers=key_headers(w_pinned))
    assert links(db, C) == {"v0.0.0:mine": (X, NOW + timedelta(days=90))}, f"E1 {e1_path(C, X)}: own link refreshed"


def test_e1_duplicate_nullifier_within_one_request_links_once(e1: Scorer, w_pinned: DemoSeed,
                                                              db: psycopg.Connection[Any], signer: StampSigner) -> None:
    add_stamp(db, signer, X, "Google", ["v0.0.0:dup"], expires=NOW + timedelta(days=60))
    add_stamp(db, signer, X, "Ens", ["v0.0.0:dup"], expires=NOW + timedelta(days=10))
    reply = call_e1(e1, C, X, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, X)}"
    assert (reply.body["error"], reply.body["score"]) == (None, "0.73300"), f"{route}: both kept, no retry"
    assert links(db, C) == {"v0.0.0:dup": (X, NOW + timedelta(days=10))}, f"{route}: the first plan (Ens) wins"


def test_e1_dedup_is_keyed_by_the_credential_provider(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                      signer: StampSigner) -> None:
    insert_link(db, hash="v0.0.0:taken-1", address=X, community_id=C, expires_at=NOW + timedelta(days=5))
    insert_link(db, hash="v0.0.0:taken-2", address=X, community_id=C, expires_at=NOW + timedelta(days=5))
    kept = issue(signer, Y, "Google", ["v0.0.0:free"])
    first = issue(signer, Y, "Google", ["v0.0.0:taken-1"], expires="2027-02-01T00:00:00.100Z")
    second = issue(signer, Y, "Google", ["v0.0.0:taken-2"], expires="2027-02-02T00:00:00Z")
    for provider, stamp in (("Google", kept), ("GoogleOld", first), ("GoogleZ", second)):
        insert_cache_row(db, address=Y, provider=provider, stamp=stamp, created_at=NOW)
    reply = call_e1(e1, C, Y, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, Y)}"
    assert reply.body["stamps"] == {"Google": {"score": "0.52500", "dedup": True,
                                               "expiration_date": "2027-02-02T00:00:00Z"}}, \
        f"{route}: the kept Google shows dedup true and the last clashing stamp's raw date"
    (ldp,) = events(db, "LDP", Y)
    assert ldp["data"]["nullifiers"] == ["v0.0.0:taken-2"], f"{route}: one LDP event per credential provider"
    assert stamp_providers(db, Y, C) == ["Google"], route


# --- §6.4: retry exhaustion -----------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", ["INSERT", "UPDATE"])
def test_e1_link_writes_that_never_land_end_in_failed_to_save(e1: Scorer, w_pinned: DemoSeed,
                                                              db: psycopg.Connection[Any], signer: StampSigner,
                                                              operation: str) -> None:
    # A trigger that silently skips every link write looks exactly like a lost race on every attempt; a sequence
    # (not rolled back with the savepoints) counts the attempts.
    if operation == "UPDATE":
        insert_link(db, hash="v0.0.0:mine", address=X, community_id=C, expires_at=NOW + timedelta(days=1))
    db.execute("CREATE SEQUENCE link_writes")
    db.execute("CREATE FUNCTION skip_link() RETURNS trigger LANGUAGE plpgsql AS"
               " $$ BEGIN PERFORM nextval('link_writes'); RETURN NULL; END $$")
    db.execute(f"CREATE TRIGGER skip_link BEFORE {operation} ON registry_hashscorerlink"
               " FOR EACH ROW EXECUTE FUNCTION skip_link()")
    add_stamp(db, signer, X, "Google", ["v0.0.0:mine"])
    reply = call_e1(e1, C, X, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, X)} with every link {operation} lost"
    assert reply.status == 200, route
    assert (reply.body["error"], reply.body["score"], reply.body["stamps"]) == (
        "Failed to save HashScorerLinks", "0.00000", {}), route
    assert db.execute("SELECT last_value FROM link_writes").fetchone() == (5,), f"{route}: exactly 5 attempts"
    score = score_row(db, X, C)
    assert score is not None and score["status"] == "ERROR", route
    assert events(db, "SCU", X) == [] and stamp_providers(db, X, C) == [], f"{route}: nothing of the run persisted"


# --- AT-26, AT-27: concurrency ---------------------------------------------------------------------------------

def _race(calls: Sequence[tuple[Scorer, str]], headers: dict[str, str]) -> list[Reply]:
    """Score each (scorer, address) from its own thread, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(scorer: Scorer, addr: str) -> Reply:
        barrier.wait(timeout=30)
        return call_e1(scorer, C, addr, headers=headers)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        futures = [pool.submit(run, scorer, addr) for scorer, addr in calls]
        return [future.result(timeout=60) for future in futures]


def test_e1_concurrent_addresses_sharing_a_nullifier_end_with_one_owner(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, db: psycopg.Connection[Any],
        signer: StampSigner) -> None:
    first, second = (_scorer(w_pinned, make_scorer, clock) for _ in range(2))
    headers = key_headers(w_pinned)
    for scorer in (first, second):  # open both connections before the races
        call_e1(scorer, C, address(0xFFFF), headers=headers)
    for round_ in range(24):
        nullifier = f"v0.0.0:race-{round_}"
        x, y = address(0x1000 + round_), address(0x2000 + round_)
        provider_x, provider_y = "Google", ("Google" if round_ % 2 else "Ens")
        add_stamp(db, signer, x, provider_x, [nullifier])
        add_stamp(db, signer, y, provider_y, [nullifier, f"v0.0.0:own-{round_}"])
        replies = _race([(first, x), (second, y)], headers)
        route = f"E1 race round {round_}"
        assert [r.status for r in replies] == [200, 200], route
        assert [r.body["error"] for r in replies] == [None, None], f"{route}: no ERROR score"
        owners = [a for h, (a, _) in links(db, C).items() if h == nullifier]
        assert len(owners) == 1 and owners[0] in (x, y), f"{route}: exactly one link row for the nullifier"
        flags = {x: replies[0].body["stamps"][provider_x]["dedup"], y: replies[1].body["stamps"][provider_y]["dedup"]}
        assert sorted(flags.values()) == [False, True], f"{route}: exactly one response deduplicated"
        loser = x if flags[x] else y
        assert owners[0] != loser, f"{route}: the non-deduplicated address owns the nullifier"
        (ldp,) = events(db, "LDP", loser)
        assert nullifier in ldp["data"]["nullifiers"], f"{route}: LDP event for the deduplicated address"
        if loser == y:
            assert links(db, C)[f"v0.0.0:own-{round_}"][0] == x, f"{route}: Y's other nullifier backfilled to X"
    statuses = {r["status"] for r in rows(db, "SELECT status FROM registry_score")}
    assert statuses == {"DONE"}, "E1 races: no ERROR or PROCESSING score left"


def test_e1_concurrent_requests_for_one_address_store_each_stamp_once(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, db: psycopg.Connection[Any],
        signer: StampSigner) -> None:
    first, second = (_scorer(w_pinned, make_scorer, clock) for _ in range(2))
    headers = key_headers(w_pinned)
    for scorer in (first, second):
        call_e1(scorer, C, address(0xFFFF), headers=headers)
    for round_ in range(10):
        holder = address(0x3000 + round_)
        add_stamp(db, signer, holder, "Google")
        add_stamp(db, signer, holder, "Ens")
        replies = _race([(first, holder), (second, holder)], headers)
        route = f"E1 {e1_path(C, holder)} twice at once"
        assert [(r.status, r.body["error"], r.body["score"]) for r in replies] == [(200, None, "0.73300")] * 2, route
        assert stamp_providers(db, holder, C) == ["Ens", "Google"], f"{route}: each kept provider exactly once"
        assert len(events(db, "SCU", holder)) == 2, f"{route}: one SCU event per run"
        assert count(db, "registry_passport") == round_ + 2, f"{route}: one passport"
        assert {h: a for h, (a, _) in links(db, C).items() if a == holder} == {
            f"v0.0.0:Ens:{holder}": holder, f"v0.0.0:Google:{holder}": holder}, f"{route}: links"
