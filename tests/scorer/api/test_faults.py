"""Faults during a request (production contract P1.3, P1.4, P2, P5): the right status, nothing half-written, no
fault stored as a score, and the next request answered as on a fresh instance."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest

from scorer_lambda import pipeline
from scorer_lambda.db import tx
from scorer_lambda.domain.credentials import stamps_to_verify
from scorer_lambda.domain.dedup import plan_dedup
from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.verify import SignatureVerifier

from ..harness import Reply, Scorer, bearer, hs256_token
from ..silent_proxy import SilentProxy
from .conftest import MakeScorer
from .v2_support import NOW, Clock, add_stamp, call_e1, e1_path, key_headers, rows, score_row, trusted_env

C = 3
A = "0x" + "a" * 40
DB_ERROR = {"error": "DB Error: OperationalError"}


class HookedVerifier(SignatureVerifier):
    """The real verifier, with a hook run once inside the first verification: phase A has read the cache rows and
    phase B has not started, which is where a slow run is exposed to concurrent writes and faults."""

    def __init__(self, hook: Callable[[], None]) -> None:
        super().__init__()
        self._hook: Callable[[], None] | None = hook

    def verify_all(self, credentials: Sequence[Any]) -> list[bool]:
        if self._hook is not None:
            hook, self._hook = self._hook, None
            hook()
        return super().verify_all(credentials)


def fresh_answer(make_scorer: MakeScorer, seed: DemoSeed, clock: Clock, scorer_id: int, address: str) -> Reply:
    """What a brand-new instance answers for the same request."""
    fresh = make_scorer(trusted=seed.trusted_issuers, clock=clock, FF_API_ANALYTICS="on",
                        CERAMIC_CACHE_SCORER_ID=str(seed.community_id))
    reply = call_e1(fresh, scorer_id, address, headers=key_headers(seed))
    fresh.close()
    return reply


def stored(db: psycopg.Connection[Any], address: str) -> dict[str, Any]:
    row = score_row(db, address, C)
    assert row is not None
    return row


def error_scores(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return rows(db, "SELECT passport_id, error FROM registry_score WHERE status = 'ERROR'")


@contextmanager
def held(url: str, sql: str, *params: Any) -> Iterator[None]:
    """Hold whatever ``sql`` locks in an open transaction of another connection (a legacy Lambda, say)."""
    with psycopg.connect(url) as other:
        other.execute(sql, params)
        try:
            yield
        finally:
            other.rollback()


# --- P1.4 + P2.2: lock waits are bounded and never stored as a score --------------------------------------------

def test_lock_timeout_on_the_passport_row_answers_500_and_keeps_the_previous_score(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], db_url: str, clock: Clock,
        make_scorer: MakeScorer) -> None:
    first = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert first.status == 200 and first.body["error"] is None
    before = stored(db, A)
    clock.now = NOW + timedelta(minutes=5)
    route = f"E1 {e1_path(C, A)} while another session holds the passport row"
    with held(db_url, "SELECT id FROM registry_passport WHERE address = %s AND community_id = %s FOR UPDATE", A, C):
        started = time.perf_counter()
        reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
        waited = time.perf_counter() - started
    assert (reply.status, reply.body) == (500, DB_ERROR), route
    assert 2.5 < waited < 6, f"{route}: bounded by the 3 s lock timeout, took {waited:.2f} s"
    assert stored(db, A) == before, f"{route}: the previous score row stays as it was"
    assert error_scores(db) == [], f"{route}: no ERROR score"
    after = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert (after.status, after.body) == (200, fresh_answer(make_scorer, w_pinned, clock, C, A).body), \
        f"{route}: the next request is answered as on a fresh instance"


def test_lock_timeout_on_a_nullifier_link_answers_500_not_an_error_score(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], db_url: str, clock: Clock,
        signer: StampSigner, make_scorer: MakeScorer) -> None:
    assert call_e1(e1, C, A, headers=key_headers(w_pinned)).body["error"] is None
    before = stored(db, A)
    add_stamp(db, signer, A, "Twitter", ["v0.0.0:contested"])
    clock.now = NOW + timedelta(minutes=5)
    route = f"E1 {e1_path(C, A)} while another session inserts the same nullifier (B3 waits for it)"
    with held(db_url, "INSERT INTO registry_hashscorerlink (hash, address, expires_at, community_id)"
                      " VALUES ('v0.0.0:contested', %s, %s, %s)", "0x" + "b" * 40, NOW + timedelta(days=9), C):
        reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert (reply.status, reply.body) == (500, DB_ERROR), route
    assert stored(db, A) == before, f"{route}: the previous score row stays (no ERROR state, P1.4)"
    after = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert after.status == 200 and after.body["error"] is None, f"{route}: next request"
    assert after.body == fresh_answer(make_scorer, w_pinned, clock, C, A).body, f"{route}: as on a fresh instance"


# --- P1.3: a failure never outlives its request -------------------------------------------------------------------

def test_failures_interleaved_with_traffic_never_change_later_answers(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], db_url: str, clock: Clock,
        make_scorer: MakeScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many rounds of the triggers that used to poison a warm instance (a failed statement in a pipeline, a lock
    timeout in B1 and in a cache write, malformed bulk posts), each followed by normal traffic. Every request is run
    more than five times, past psycopg's automatic-prepare threshold."""
    monkeypatch.setattr(tx, "LOCK_TIMEOUT", "150ms")
    expected = fresh_answer(make_scorer, w_pinned, clock, C, A)
    assert expected.status == 200 and expected.body["error"] is None
    token = bearer(hs256_token(A))
    long_path = e1_path(C, "0x" + "f" * 1100)  # longer than the analytics path column
    for round_ in range(8):
        where = f"round {round_}"
        reply = e1.call("GET", long_path, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (400, {"error": "Invalid address."}), f"{where}: long path"
        reply = e1.call("POST", "/ceramic-cache/stamps/bulk", headers=token,
                        body='[{"provider": "Google", "stamp": {"proof": {"proofValue": "x"}, "a": "\\u0000"}}]')
        assert (reply.status, reply.body) == (400, {"error": "An error has occurred"}), f"{where}: NUL in a stamp"
        reply = e1.call("POST", "/ceramic-cache/stamps/bulk", headers=token,
                        body=[{"provider": "Google"}, {"provider": "Google"}])
        assert reply.status == 400, f"{where}: malformed bulk post"
        with held(db_url, "SELECT id FROM registry_passport WHERE address = %s FOR UPDATE", A):
            reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
        assert (reply.status, reply.body) == (500, DB_ERROR), f"{where}: lock timeout in B1"
        with held(db_url, "SELECT pg_advisory_xact_lock(hashtext('ceramic_cache'), hashtext(%s))", A):
            reply = e1.call("DELETE", "/ceramic-cache/stamps/bulk", headers=token, body=[{"provider": "Nope"}])
        assert (reply.status, reply.body) == (500, DB_ERROR), f"{where}: lock timeout in a cache write"
        for _ in range(2):
            reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
            assert (reply.status, reply.body) == (expected.status, expected.body), f"{where}: normal traffic"
        reply = e1.call("GET", "/ceramic-cache/score/" + A, headers=token)
        assert reply.status == 200 and reply.body["score"] == expected.body["score"], f"{where}: E6"
    assert error_scores(db) == [], "no fault was stored as an ERROR score"


def test_connection_killed_mid_request_answers_500_and_the_next_request_reconnects(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], clock: Clock, make_scorer: MakeScorer) -> None:
    assert call_e1(e1, C, A, headers=key_headers(w_pinned)).status == 200
    before = stored(db, A)
    pid = e1.db.connection().info.backend_pid
    e1.app.ctx.verifier = HookedVerifier(lambda: db.execute("SELECT pg_terminate_backend(%s)", (pid,)))
    clock.now = NOW + timedelta(minutes=5)
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    route = f"E1 {e1_path(C, A)} with its connection terminated between phase A and phase B"
    assert (reply.status, reply.body) == (500, DB_ERROR), route
    assert stored(db, A) == before, f"{route}: the previous score stays"
    after = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert (after.status, after.body) == (200, fresh_answer(make_scorer, w_pinned, clock, C, A).body), route


# --- P2.1: a silent connection is cut -----------------------------------------------------------------------------

def test_a_silent_connection_answers_500_within_15_s_and_the_next_request_succeeds(
        w_pinned: DemoSeed, db_url: str, clock: Clock, make_scorer: MakeScorer) -> None:
    proxy = SilentProxy(db_url)
    scorer = Scorer(proxy.url, trusted_env(w_pinned.trusted_issuers, FF_API_ANALYTICS="on"), clock=clock)
    try:
        assert call_e1(scorer, C, A, headers=key_headers(w_pinned)).status == 200
        proxy.silence()  # the kept connection stops answering; new connections still work
        started = time.perf_counter()
        reply = call_e1(scorer, C, A, headers=key_headers(w_pinned))
        elapsed = time.perf_counter() - started
        assert (reply.status, reply.body) == (500, DB_ERROR), "E1 on a silent connection"
        assert elapsed < 15, f"answered after {elapsed:.1f} s"
        after = call_e1(scorer, C, A, headers=key_headers(w_pinned))
        assert (after.status, after.body) == (200, fresh_answer(make_scorer, w_pinned, clock, C, A).body), \
            "the request after a silent connection reconnects"
    finally:
        scorer.close()
        proxy.close()


# --- P5: the stored score follows a serial order of the address's cache writes ----------------------------------

def test_a_cache_write_committed_during_a_slow_run_is_in_the_stored_score(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], clock: Clock, make_scorer: MakeScorer) -> None:
    other = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, CERAMIC_CACHE_SCORER_ID=str(C))
    token = bearer(hs256_token(A))
    deleted: list[Reply] = []
    e1.app.ctx.verifier = HookedVerifier(lambda: deleted.append(
        other.call("DELETE", "/ceramic-cache/stamps/bulk", headers=token, body=[{"provider": "Google"}])))
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    (delete,) = deleted
    assert delete.status == 200 and "Google" not in delete.body["score"]["stamps"], "E4 while E1 verifies"
    route = f"E1 {e1_path(C, A)} with Google deleted after its rows were read"
    assert reply.status == 200 and reply.body["error"] is None, route
    assert sorted(reply.body["stamps"]) == ["Discord", "Ens"], f"{route}: scored from the current rows"
    serial = fresh_answer(make_scorer, w_pinned, clock, C, A)
    assert reply.body == serial.body, f"{route}: the answer of the serial order E4, E1"
    row = stored(db, A)
    assert sorted(row["stamps"]) == ["Discord", "Ens"], f"{route}: stored score"
    e6 = other.call("GET", "/ceramic-cache/score/" + A, headers=token)
    assert sorted(e6.body["stamps"]) == ["Discord", "Ens"], f"{route}: E6"


def test_a_kept_row_replaced_after_the_recheck_is_never_copied_and_the_run_starts_again(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], clock: Clock, make_scorer: MakeScorer,
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Scored stamps are copied from their cache rows by id; a row whose content changed after phase B's re-check
    (a writer that does not take the passport lock) is not copied as it is now: the run starts again instead."""
    plans = []

    def replace_then_plan(*args: Any, **kwargs: Any) -> Any:
        if not plans:  # between the re-check and the writes, another session rewrites Google's row in place
            db.execute("UPDATE ceramic_cache_ceramiccache SET stamp = stamp || '{\"note\": \"rewritten\"}',"
                       " updated_at = now() WHERE address = %s AND provider = 'Google' AND deleted_at IS NULL", (A,))
        plans.append(1)
        return plan_dedup(*args, **kwargs)

    monkeypatch.setattr(pipeline, "plan_dedup", replace_then_plan)
    with caplog.at_level(logging.INFO, logger="scorer_lambda.pipeline"):
        reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert len(plans) == 2, "the first attempt's copy found a changed row; the run started again"
    assert any("cache rows changed during the run" in r.getMessage() for r in caplog.records)
    route = f"E1 {e1_path(C, A)} with Google's row rewritten before the copy"
    assert reply.status == 200 and reply.body["error"] is None, route
    copied = rows(db, "SELECT s.provider, s.credential = c.stamp AS same FROM registry_stamp s"
                      " JOIN registry_passport p ON p.id = s.passport_id"
                      " JOIN ceramic_cache_ceramiccache c ON c.address = p.address AND c.provider = s.provider"
                      " AND c.deleted_at IS NULL WHERE p.address = %s AND p.community_id = %s ORDER BY s.id", A, C)
    assert [row["provider"] for row in copied] == sorted(reply.body["stamps"]), route
    assert all(row["same"] for row in copied), f"{route}: each stored credential is its cache row as scored"


def test_an_error_run_does_not_overwrite_a_score_of_newer_rows(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], clock: Clock, signer: StampSigner,
        make_scorer: MakeScorer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A run that fails on rows replaced meanwhile (here an unparseable expiry, deleted by a later write) scores
    the current rows instead of storing its ERROR over them."""
    broken_id, _ = add_stamp(db, signer, A, "Twitter")
    db.execute("UPDATE ceramic_cache_ceramiccache SET stamp = jsonb_set(stamp, '{expirationDate}', '\"bad\"')"
               " WHERE id = %s", (broken_id,))
    checks = []

    def delete_then_check(candidates: Any, *args: Any) -> Any:
        if not checks:  # the first run has read its rows; a cache write deletes the broken one now
            db.execute("UPDATE ceramic_cache_ceramiccache SET deleted_at = now(), updated_at = now() WHERE id = %s",
                       (broken_id,))
        checks.append(len(candidates))
        return stamps_to_verify(candidates, *args)

    monkeypatch.setattr(pipeline, "stamps_to_verify", delete_then_check)
    reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert checks == [4, 3], "the failed run (4 candidates) started again from the current rows (3)"
    assert reply.status == 200 and reply.body["error"] is None, "scored from the current rows, not an ERROR"
    assert stored(db, A)["status"] == "DONE"
    monkeypatch.undo()
    assert reply.body == fresh_answer(make_scorer, w_pinned, clock, C, A).body


# --- P7: every 5xx names its class and SQLSTATE ---------------------------------------------------------------------

def test_a_500_logs_the_error_class_and_sqlstate(e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    db.execute("ALTER TABLE registry_event ADD CONSTRAINT no_scu CHECK (action <> 'SCU')")
    with caplog.at_level(logging.INFO, logger="scorer_lambda.app"):
        reply = call_e1(e1, C, A, headers=key_headers(w_pinned))
    assert reply.status == 500
    (line,) = [r for r in caplog.records if r.getMessage() == "request"]
    assert (line.levelname, line.status, line.error_class, line.sqlstate) == ("ERROR", 500, "CheckViolation", "23514")
    assert "SCU" not in caplog.text and A not in caplog.text, "no SQL text or values in the log"
