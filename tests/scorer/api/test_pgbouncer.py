"""The application through PgBouncer in transaction pooling mode, the stand-in for RDS Proxy (production contract P1).

Every route E1–E11 answers through PgBouncer exactly as on a direct connection (a twin database seeded the same way,
the same requests, the same pinned clock), requests repeated well past psycopg's prepare threshold keep working on one
warm instance, and concurrent scoring runs with shared nullifiers over more client connections than PgBouncer has
server connections end with exactly one owner per nullifier. The first tests prove that the harness really pools at
transaction boundaries: a client that prepares statements breaks, and two clients share one backend.

Needs the ``pgbouncer`` binary (see ``tests/scorer/pgbouncer.py`` for the skip rule and SCORER_REQUIRE_PGBOUNCER).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from scorer_lambda.local.demo import DemoSeed, seed_demo
from scorer_lambda.local.signing import StampSigner

from ..databases import template_copy
from ..harness import Reply, Scorer, bearer, hs256_token
from ..pgbouncer import (
    POOL_SIZE,
    PgBouncer,
    client_connections,
    pgbouncer_fixture,  # noqa: F401 (fixture "pgbouncer")
    pooled_url_fixture,  # noqa: F401 (fixture "pooled_url")
    server_connections,
)
from .v2_support import (
    A_BODY,
    NOW,
    Clock,
    add_stamp,
    address,
    call_e1,
    e1_path,
    events,
    issue,
    key_headers,
    links,
    rows,
    stamp_providers,
    trusted_env,
)

C = 3
A, B = "0x" + "a" * 40, "0x" + "b" * 40
W = "0x" + "c0ffee" * 6 + "abcd"  # no cache rows in fixture W
CHECKSUMMED = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
BULK = "/ceramic-cache/stamps/bulk"
WEIGHTS = {"Google": Decimal("0.525"), "Ens": Decimal("0.208")}
WORKERS = 6  # client connections of the concurrency test, each its own warm Scorer; PgBouncer has POOL_SIZE
ROUNDS = 6
REPEATS = 7  # more than psycopg's default prepare_threshold of 5

MakePooled = Callable[..., Scorer]


def _dbname(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def _env(seed: DemoSeed) -> dict[str, str]:
    return trusted_env(seed.trusted_issuers, FF_API_ANALYTICS="on", CERAMIC_CACHE_SCORER_ID=str(seed.community_id))


@pytest.fixture
def make_pooled(pgbouncer: PgBouncer) -> Iterator[MakePooled]:
    """Build the application on a database URL reached through PgBouncer; closes what it opened."""
    opened: list[Scorer] = []

    def build(direct_url: str, env: dict[str, str], clock: Any) -> Scorer:
        scorer = Scorer(pgbouncer.url(direct_url), env, clock=clock)
        opened.append(scorer)
        return scorer

    yield build
    for scorer in opened:
        scorer.close()


# --- the harness really pools at transaction boundaries --------------------------------------------------------

def test_pgbouncer_runs_in_transaction_mode_with_a_small_pool(pgbouncer: PgBouncer) -> None:
    config = {row["key"]: row["value"] for row in pgbouncer.show("CONFIG")}
    assert config["pool_mode"] == "transaction"
    assert int(config["default_pool_size"] or 0) == POOL_SIZE < WORKERS
    assert int(config["max_db_connections"] or 0) == POOL_SIZE
    assert config["server_reset_query"] == ""
    assert pgbouncer.version.startswith("PgBouncer ")


def test_two_clients_share_one_backend_across_transactions(pgbouncer: PgBouncer, pooled_url: str) -> None:
    with psycopg.connect(pooled_url, autocommit=True) as first, psycopg.connect(pooled_url, autocommit=True) as second:
        pid = first.execute("SELECT pg_backend_pid()").fetchone()
        assert second.execute("SELECT pg_backend_pid()").fetchone() == pid, "the idle server is handed on"
        second.execute("BEGIN")
        assert second.execute("SELECT pg_backend_pid()").fetchone() == pid
        assert first.execute("SELECT pg_backend_pid()").fetchone() != pid, "a server in a transaction is not shared"
        second.execute("COMMIT")


@pytest.mark.parametrize("prepare_threshold", [0, None], ids=["prepare-first-time-breaks", "never-prepare-works"])
def test_server_side_prepared_statements_break_through_the_pool(pgbouncer: PgBouncer, pooled_url: str,
                                                                prepare_threshold: int | None) -> None:
    """The failure P1 rule 1 avoids: a statement prepared on one server connection, run again on another."""
    query = "SELECT count(*) FROM registry_score WHERE id > %s"
    with psycopg.connect(pooled_url, autocommit=True, prepare_threshold=prepare_threshold) as client, \
            psycopg.connect(pooled_url, autocommit=True) as other:
        assert client.execute(query, (0,)).fetchone() == (0,)  # prepared (threshold 0) on the pool's one server
        other.execute("BEGIN")
        other.execute("SELECT 1")  # the other client now holds that server inside its transaction
        if prepare_threshold is None:
            for _ in range(REPEATS):
                assert client.execute(query, (0,)).fetchone() == (0,)
        else:
            with pytest.raises(psycopg.errors.InvalidSqlStatementName, match="does not exist"):
                client.execute(query, (0,))  # served by a second server connection that never saw the PREPARE
        other.execute("COMMIT")


# --- every route once, through PgBouncer and directly ---------------------------------------------------------

@pytest.fixture
def twin(pg_server: Any, signer: StampSigner) -> Iterator[tuple[str, psycopg.Connection[Any], DemoSeed]]:
    """A second fresh database seeded exactly like ``w_pinned``."""
    with template_copy(pg_server, "pgb_twin") as url, psycopg.connect(url, autocommit=True) as conn:
        yield url, conn, seed_demo(conn, signer, now=NOW, pbkdf2_iterations=1000)


def _route_script(signer: StampSigner, seed: DemoSeed) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(label, method, path, call keywords) of one request per route, plus a few of their error answers."""
    key = key_headers(seed)
    token_a, token_w = bearer(hs256_token(A)), bearer(hs256_token(W))
    google, ens = issue(signer, W, "Google", ["v0.0.0:g-W"]), issue(signer, W, "Ens", ["v0.0.0:e-W"])
    google_2 = issue(signer, W, "Google", ["v0.0.0:g2-W"])
    embedded = issue(signer, CHECKSUMMED.lower(), "Google", ["v0.0.0:embed-g"])
    return [
        ("E1", "GET", e1_path(C, A), {"headers": key}),
        ("E1 deduplicated", "GET", e1_path(C, B), {"headers": key}),
        ("E2", "POST", BULK, {"headers": token_w, "body": [{"provider": "Google", "stamp": google},
                                                            {"provider": "Ens", "stamp": ens}]}),
        ("E3", "PATCH", BULK, {"headers": token_w, "body": [{"provider": "Ens"},
                                                             {"provider": "Google", "stamp": google_2}]}),
        ("E4", "DELETE", BULK, {"headers": token_w, "body": [{"provider": "Google"}]}),
        ("E4 nothing to delete", "DELETE", BULK, {"headers": token_w, "body": [{"provider": "Google"}]}),
        ("E5", "POST", "/ceramic-cache/score/0x0000000000000000000000000000000000000001", {"headers": token_a}),
        ("E6", "GET", f"/ceramic-cache/score/{A}", {"headers": token_a}),
        ("E7", "GET", "/ceramic-cache/weights", {}),
        ("E8", "GET", "/ceramic-cache/stamp", {"query": {"address": B}}),
        ("E9", "POST", f"/internal/embed/stamps/{CHECKSUMMED}", {"body": {"scorer_id": str(C),
                                                                          "stamps": [embedded]}}),
        ("E10", "GET", "/internal/embed/validate-api-key", {"headers": key}),
        ("E10 wrong key", "GET", "/internal/embed/validate-api-key",
         {"headers": {"x-api-key": seed.api_key[:-1] + "x"}}),
        ("E11", "GET", f"/internal/embed/score/{C}/{B}/", {}),
    ]


def _answers(scorer: Scorer, clock: Clock, script: list[tuple[str, str, str, dict[str, Any]]]) -> dict[str, Reply]:
    """Answer the script, one second apart from NOW on: a clock that stands still would soft-delete one provider's
    rows twice at the same instant, which the cache table's unique (type, address, provider, deleted_at) refuses."""
    answers = {}
    for step, (label, method, path, kwargs) in enumerate(script):
        clock.now = NOW + timedelta(seconds=step)
        answers[label] = scorer.call(method, path, **kwargs)
    return answers


def _state(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table the routes write, row by row."""
    return {table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall() for table in (
        "ceramic_cache_ceramiccache", "registry_passport", "registry_score", "registry_stamp",
        "registry_hashscorerlink", "registry_event", "account_accountapikeyanalytics", "account_accountapikey")}


def test_every_route_answers_through_pgbouncer_as_it_does_directly(
        w_pinned: DemoSeed, db_url: str, db: psycopg.Connection[Any], twin: tuple[str, psycopg.Connection[Any],
                                                                                 DemoSeed],
        make_pooled: MakePooled, pgbouncer: PgBouncer, signer: StampSigner) -> None:
    twin_url, twin_db, twin_seed = twin
    assert twin_seed == w_pinned, "fixture: both databases seeded alike"
    script = _route_script(signer, w_pinned)
    direct_clock, pooled_clock = Clock(), Clock()
    direct = Scorer(db_url, _env(w_pinned), clock=direct_clock)
    try:
        expected = _answers(direct, direct_clock, script)
    finally:
        direct.close()
    pooled = make_pooled(twin_url, _env(twin_seed), pooled_clock)
    answered = _answers(pooled, pooled_clock, script)

    for label, reply in answered.items():
        want = expected[label]
        assert (reply.status, reply.raw["statusDescription"], reply.headers, reply.body) == (
            want.status, want.raw["statusDescription"], want.headers, want.body), f"{label} through PgBouncer"
    statuses = {label: reply.status for label, reply in answered.items()}
    assert statuses == {"E1": 200, "E1 deduplicated": 200, "E2": 201, "E3": 200, "E4": 200,
                        "E4 nothing to delete": 404, "E5": 200, "E6": 200, "E7": 200, "E8": 200, "E9": 200,
                        "E10": 200, "E10 wrong key": 401, "E11": 200}
    # Anchors: the direct answers are the ones the route tests assert.
    assert answered["E1"].body == A_BODY
    assert answered["E1 deduplicated"].body["stamps"]["Discord"]["dedup"] is True
    assert [answered[label].body["score"]["score"] for label in ("E2", "E3", "E4", "E9")] == [
        "0.73300", "0.52500", "0.00000", "0.52500"]
    assert answered["E4 nothing to delete"].body == {"error": "Unable to find stamp to delete."}
    assert (answered["E5"].body["address"], answered["E5"].body["score"]) == (A, "1.24900")
    assert answered["E6"].body["score"] == "1.24900"
    assert answered["E7"].body == {"Ens": 0.208, "Github": "1.5", "Google": 0.525, "Discord": 0.516}
    assert sorted(s["provider"] for s in answered["E8"].body["stamps"]) == ["Discord", "Github"]
    assert answered["E10"].body == {"embed_rate_limit": "125/15m"}
    assert answered["E10 wrong key"].body == {"detail": "Invalid API Key."}
    assert (answered["E11"].body["score"]["address"], answered["E11"].body["score"]["score"]) == (B, "1.50000")
    # The same rows were written, and the pooled database was only reached through PgBouncer.
    assert _state(twin_db) == _state(db), "rows written through PgBouncer"
    assert client_connections(pgbouncer.pool(_dbname(twin_url))) >= 1


# --- repeated requests on one warm instance ------------------------------------------------------------------

def test_requests_repeated_past_the_prepare_threshold_keep_answering(
        w_pinned: DemoSeed, db_url: str, make_pooled: MakePooled, signer: StampSigner,
        caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    scorer = make_pooled(db_url, _env(w_pinned), clock)
    key, token_a, token_w = key_headers(w_pinned), bearer(hs256_token(A)), bearer(hs256_token(W))
    stamps = [issue(signer, W, "Google", [f"v0.0.0:repeat-{n}"]) for n in range(REPEATS)]
    scorer.call("POST", f"/ceramic-cache/score/{A}", headers=token_a)  # E6 below then reads the stored score
    conn = scorer.db.connection()
    assert conn.prepare_threshold is None, "P1 rule 1: the scorer never prepares"
    requests: list[tuple[str, Callable[[int], Reply]]] = [
        ("E1", lambda _: call_e1(scorer, C, A, headers=key)),
        ("E2", lambda n: scorer.call("POST", BULK, headers=token_w, body=[{"provider": "Google",
                                                                           "stamp": stamps[n]}])),
        ("E5", lambda _: scorer.call("POST", f"/ceramic-cache/score/{A}", headers=token_a)),
        ("E6", lambda _: scorer.call("GET", f"/ceramic-cache/score/{A}", headers=token_a)),
        ("E7", lambda _: scorer.call("GET", "/ceramic-cache/weights")),
        ("E8", lambda _: scorer.call("GET", "/ceramic-cache/stamp", query={"address": B})),
        ("E10", lambda _: scorer.call("GET", "/internal/embed/validate-api-key", headers=key)),
        ("E11", lambda _: scorer.call("GET", f"/internal/embed/score/{C}/{B}/")),
    ]
    with caplog.at_level(logging.WARNING, logger="scorer_lambda"):
        caplog.clear()
        for n in range(REPEATS):  # interleaved, like a warm Lambda serving a mix of requests
            for step, (label, request) in enumerate(requests):
                clock.now = NOW + timedelta(seconds=n * len(requests) + step)  # a clock that moves (see _answers)
                reply = request(n)
                assert reply.status in (200, 201), f"{label} #{n + 1} through PgBouncer: {reply.status} {reply.body}"
                if label == "E1":
                    assert reply.body == {**A_BODY, "last_score_timestamp": clock.now.isoformat()}, f"E1 #{n + 1}"
                if label == "E2":
                    assert [s["stamp"] for s in reply.body["stamps"]] == [stamps[n]], f"E2 #{n + 1}"
                    assert reply.body["score"]["score"] == "0.52500", f"E2 #{n + 1}"
                elif label == "E10":
                    assert reply.body == {"embed_rate_limit": "125/15m"}, f"E10 #{n + 1}"
    assert scorer.db.connection() is conn, "one warm connection served every request (no reconnect)"
    warnings = [(r.name, r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [], "no reconnect, rollback or failure warnings"


# --- concurrent scoring with shared nullifiers, more clients than server connections ---------------------------

class _PoolWatch:
    """Samples PgBouncer's pool and PostgreSQL's backends for one database while a test runs."""

    def __init__(self, pgbouncer: PgBouncer, direct_url: str, ignore_pid: int) -> None:
        self.pgbouncer, self.url, self.ignore_pid = pgbouncer, direct_url, ignore_pid
        self.dbname = _dbname(direct_url)
        self.max_servers = self.max_clients = self.max_waiting = self.max_backends = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _PoolWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.is_set():
                pool = self.pgbouncer.pool(self.dbname)
                found = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                                     " AND pid <> pg_backend_pid() AND pid <> %s", (self.ignore_pid,)).fetchone()
                self.max_servers = max(self.max_servers, server_connections(pool))
                self.max_clients = max(self.max_clients, client_connections(pool))
                self.max_waiting = max(self.max_waiting, pool.get("cl_waiting", 0))
                self.max_backends = max(self.max_backends, int(found[0]) if found else 0)
                self.samples += 1
                time.sleep(0.01)


def _expected_score(google: bool, ens: bool) -> str:
    return f"{WEIGHTS['Google'] * google + WEIGHTS['Ens'] * ens:.5f}"


def test_concurrent_scoring_with_shared_nullifiers_through_a_smaller_pool(
        w_pinned: DemoSeed, db_url: str, db: psycopg.Connection[Any], make_pooled: MakePooled,
        pgbouncer: PgBouncer, signer: StampSigner) -> None:
    """Each round, WORKERS addresses score at once: all share one Google nullifier, pairs share an Ens nullifier."""
    headers = key_headers(w_pinned)
    scorers = [make_pooled(db_url, _env(w_pinned), Clock()) for _ in range(WORKERS)]
    for scorer in scorers:  # open every client connection before the races
        assert call_e1(scorer, C, address(0xFFFF), headers=headers).status == 200
    barrier = threading.Barrier(WORKERS)

    def run(scorer: Scorer, holder: str) -> Reply:
        barrier.wait(timeout=30)
        return call_e1(scorer, C, holder, headers=headers)

    with _PoolWatch(pgbouncer, db_url, db.info.backend_pid) as watch, \
            ThreadPoolExecutor(max_workers=WORKERS) as workers:
        for round_ in range(ROUNDS):
            holders = [address(0x5000 + 16 * round_ + i) for i in range(WORKERS)]
            shared, pairs = f"v0.0.0:shared-{round_}", [f"v0.0.0:pair-{round_}-{k}" for k in range(WORKERS // 2)]
            for i, holder in enumerate(holders):
                add_stamp(db, signer, holder, "Google", [shared, f"v0.0.0:own-{round_}-{i}"])
                add_stamp(db, signer, holder, "Ens", [pairs[i // 2]])
            futures = [workers.submit(run, scorer, holder) for scorer, holder in zip(scorers, holders, strict=True)]
            replies = dict(zip(holders, (future.result(timeout=120) for future in futures), strict=True))
            route = f"E1 race round {round_}"
            for holder, reply in replies.items():
                assert reply.status == 200, f"{route} {e1_path(C, holder)}: {reply.status} {reply.body}"
                assert reply.body["error"] is None, f"{route} {e1_path(C, holder)}: {reply.body}"

            owned = links(db, C)
            (winner,) = [h for h in holders if not replies[h].body["stamps"]["Google"]["dedup"]]
            assert owned[shared][0] == winner, f"{route}: the one non-deduplicated address owns the shared nullifier"
            for i in range(WORKERS):
                assert owned[f"v0.0.0:own-{round_}-{i}"][0] == winner, f"{route}: own-{i} linked (or backfilled)"
            for k, pair in enumerate(pairs):
                members = holders[2 * k:2 * k + 2]
                keepers = [h for h in members if not replies[h].body["stamps"]["Ens"]["dedup"]]
                assert len(keepers) == 1 and owned[pair][0] == keepers[0], f"{route}: one owner of {pair}"
            for holder, reply in replies.items():
                google, ens = (not reply.body["stamps"][p]["dedup"] for p in ("Google", "Ens"))
                assert reply.body["score"] == _expected_score(google, ens), f"{route} {holder}: owners' stamps count"
                assert stamp_providers(db, holder, C) == [p for p, kept in (("Ens", ens), ("Google", google))
                                                          if kept], f"{route} {holder}: stored stamps"
                assert len(events(db, "LDP", holder)) == (not google) + (not ens), f"{route} {holder}: LDP events"
        pool = pgbouncer.pool(_dbname(db_url))

    duplicates = rows(db, "SELECT hash, count(*) AS n FROM registry_hashscorerlink WHERE community_id = %s"
                      " GROUP BY hash HAVING count(*) > 1", C)
    assert duplicates == [], "exactly one link row per nullifier"
    assert {r["status"] for r in rows(db, "SELECT status FROM registry_score")} == {"DONE"}
    # More client connections than server connections, on both sides of PgBouncer.
    assert client_connections(pool) >= WORKERS, pool
    assert watch.samples > 0
    assert 1 <= watch.max_servers <= POOL_SIZE < WORKERS <= watch.max_clients, vars(watch)
    assert watch.max_backends <= POOL_SIZE, f"PostgreSQL saw {watch.max_backends} backends for {WORKERS} clients"
