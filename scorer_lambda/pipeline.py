"""One scoring run: phase A checks, then phase B in one transaction (scoring contract §5, §6, §7, §8).

Round trips (each a batch of statements, explicit transaction statements): one for BEGIN, B1/B2, the re-read of the
cache rows, the nullifier locks, the savepoint and the link read; one for every write of a dedup attempt (B3–B7)
with its checks; one for COMMIT. A lost race rolls back to the savepoint, re-reads the links and tries again.

Production rules (production contract P1.4, P5): only failures of the data become an ERROR score; operational
database faults answer ``DB Error``. A run whose cache rows were replaced between phase A and the passport lock
starts again from the current rows, so the stored score follows a serial order of the address's cache writes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from .db import tx
from .db.failures import is_data_failure
from .db.pending import Batch, Executor, Pending
from .db.queries import cache_snapshot, communities, events, human_points, links, registry_stamps, scores, stamp_cache
from .db.queries.cache_snapshot import snapshot
from .domain import human_points as points_domain
from .domain.credentials import select_candidates, stamps_to_verify
from .domain.dedup import DedupPlan, all_nullifiers, plan_dedup
from .domain.events import ldp_event_data, scu_event_data
from .domain.score_object import score_object
from .domain.scoring import ScoreResult, compute_score, effective_weights
from .errors import DatabaseFailure
from .metrics import ScoringMeasures
from .models import CacheRow, Candidate, Community, Link
from .settings import Settings
from .verify import SignatureVerifier

logger = logging.getLogger(__name__)

MAX_DEDUP_ATTEMPTS = 5
MAX_SNAPSHOT_ATTEMPTS = 3
_DEDUP_SAVEPOINT = "dedup"
_B7_SAVEPOINT = "b7"
LINKS_NOT_SAVED = "Failed to save HashScorerLinks"
_LOST_RACE = (pg_errors.UniqueViolation,)
_TRANSIENT = (pg_errors.DeadlockDetected, pg_errors.SerializationFailure)


class LinkConflict(Exception):
    """A planned link write lost a race; the attempt is rolled back to its savepoint and retried."""


class ScoringWriteError(Exception):
    """A statement of B3–B6 failed for a reason other than a race or a lost connection (scoring failure)."""


class LinksNotSaved(Exception):
    def __init__(self) -> None:
        super().__init__(LINKS_NOT_SAVED)


class CacheRowsKeptChanging(pg_errors.SerializationFailure):
    """The address's cache rows changed under every attempt of a run: an operational fault, never a score."""


class _RowsChanged:
    """Phase B found other live cache rows than phase A scored; the run starts again from the current rows."""


class _CopiedRowChanged(Exception):
    """A kept stamp's cache row changed after the re-check, before its copy to registry_stamp (rolled back)."""


# Statements to run right after a scoring run's COMMIT, in the same round trip (their own transaction): given the
# commit batch and the ScoreObject about to be returned. A failure of theirs does not undo the run.
AfterCommit = Callable[[Batch, dict[str, Any]], None]


def run_scoring(conn: psycopg.Connection[Any], settings: Settings, verifier: SignatureVerifier, *,
                community: Community, address: str, rows: Sequence[CacheRow], now: datetime,
                measures: ScoringMeasures | None = None, after_commit: AfterCommit | None = None) -> dict[str, Any]:
    """Score ``address`` in ``community`` from its cache rows and return the ScoreObject (§5.8).

    Scoring failures do not raise: they are stored and returned as an ERROR score (§5.6).

    The caller has authenticated, resolved the community, checked its scorer and validated the address.
    Raises ``DatabaseFailure`` for database failures that are not scoring failures. ``measures`` receives what
    the run saw (stamps checked and valid, dedup clashes, link retries, passing) for the request's metrics (P10).
    """
    measures = ScoringMeasures() if measures is None else measures
    for _ in range(MAX_SNAPSHOT_ATTEMPTS):
        outcome = _run_once(conn, settings, verifier, community=community, address=address, rows=rows, now=now,
                            measures=measures, after_commit=after_commit)
        if not isinstance(outcome, _RowsChanged):
            return outcome
        logger.info("cache rows changed during the run; scoring the current rows", extra={"community_id": community.id})
        try:
            rows = stamp_cache.load_cache_rows(conn, address=address).result()
        except psycopg.Error as exc:
            raise DatabaseFailure(exc) from exc
    raise DatabaseFailure(CacheRowsKeptChanging("the address's cache rows changed during every scoring attempt"))


def _run_once(conn: psycopg.Connection[Any], settings: Settings, verifier: SignatureVerifier, *, community: Community,
              address: str, rows: Sequence[CacheRow], now: datetime, measures: ScoringMeasures,
              after_commit: AfterCommit | None) -> dict[str, Any] | _RowsChanged:
    measures.passing = False  # until a score is stored (an ERROR score does not pass)
    try:
        valid = _valid_stamps(settings, verifier, address, rows, now, measures)
        outcome = _persist(conn, settings, community=community, address=address, scored_rows=rows, stamps=valid,
                           now=now, measures=measures, after_commit=after_commit)
    except DatabaseFailure:
        raise
    except psycopg.Error as exc:  # a statement outside the classified steps: only data failures become scores
        if not is_data_failure(exc):
            raise DatabaseFailure(exc) from exc
        return _fail(conn, community=community, address=address, scored_rows=rows, exc=exc)
    except Exception as exc:
        return _fail(conn, community=community, address=address, scored_rows=rows, exc=exc)
    if isinstance(outcome, _RowsChanged):
        return outcome
    result, answer = outcome
    measures.passing = result.passes
    return answer


def _fail(conn: psycopg.Connection[Any], *, community: Community, address: str, scored_rows: Sequence[CacheRow],
          exc: Exception) -> dict[str, Any] | _RowsChanged:
    logger.info("scoring failed", extra={"community_id": community.id, "error_class": type(exc).__name__})
    return _write_error(conn, community=community, address=address, scored_rows=scored_rows, message=str(exc))


def _valid_stamps(settings: Settings, verifier: SignatureVerifier, address: str, rows: Sequence[CacheRow],
                  now: datetime, measures: ScoringMeasures) -> list[Candidate]:
    """A2/A3: one candidate per provider, trusted issuer and expiry first, then signatures concurrently."""
    selected = select_candidates(rows)
    measures.stamps_checked, measures.stamps_valid = len(selected), 0
    candidates = stamps_to_verify(selected, address, settings.trusted_iam_issuers, now)
    verdicts = verifier.verify_all([candidate.document or candidate.credential for candidate in candidates])
    valid = [candidate for candidate, valid in zip(candidates, verdicts, strict=True) if valid]
    measures.stamps_valid = len(valid)
    return valid


def _persist(conn: psycopg.Connection[Any], settings: Settings, *, community: Community, address: str,
             scored_rows: Sequence[CacheRow], stamps: list[Candidate], now: datetime, measures: ScoringMeasures,
             after_commit: AfterCommit | None) -> tuple[ScoreResult, dict[str, Any]] | _RowsChanged:
    """Phase B: three round trips on the happy path (rows + locks + links, the writes, the commit); returns the
    result and its ScoreObject."""
    hashes = all_nullifiers(stamps, settings.multi_nullifier)
    try:
        try:
            with Batch(conn) as batch:
                tx.begin(batch)
                tx.bound_lock_waits(batch)
                scores.insert_passport(batch, address=address, community_id=community.id)
                passport = scores.lock_passport(batch, address=address, community_id=community.id)
                current = cache_snapshot.load_snapshot(batch, address=address)  # under the passport lock (P5)
                scores.insert_score(batch, address=address, community_id=community.id)
                score = scores.get_score_id(batch, address=address, community_id=community.id)
                if hashes:
                    links.lock_nullifiers(batch, community_id=community.id, hashes=hashes)
                tx.savepoint(batch, _DEDUP_SAVEPOINT)
                existing = links.load_links(batch, community_id=community.id, hashes=hashes) if hashes else None
                overlay = communities.load_overlay(batch, community_id=community.id) \
                    if community.has_customization else None
        except psycopg.Error as exc:
            raise DatabaseFailure(exc) from exc
        if current.result() != snapshot(scored_rows):
            return _RowsChanged()  # the finally block rolls the transaction back
        weights = effective_weights(community.scorer.weights, overlay.result() if overlay else ())
        try:
            result = _dedup_and_write(conn, settings, community=community, address=address, stamps=stamps,
                                       weights=weights, hashes=hashes,
                                       links_now=existing.result() if existing else [],
                                       passport_id=passport.result(), score_id=score.result(), now=now,
                                       measures=measures)
        except _CopiedRowChanged:
            return _RowsChanged()  # as if the re-check had seen it (the finally block rolls back)
        answer = score_object(address=address, evidence=result.evidence, last_score_timestamp=now,
                              expiration=result.expiration, error=None, stamps=result.stamps)
        _commit(conn, answer, after_commit)
        return result, answer
    finally:
        tx.ensure_idle(conn)  # any failure above leaves the transaction open: roll it back


def _commit(conn: psycopg.Connection[Any], answer: dict[str, Any], after_commit: AfterCommit | None) -> None:
    """COMMIT, with the caller's after-commit statements in the same round trip. Sent as a pipeline, which tells
    after a failure whether the COMMIT itself went through: only its failure is the run's."""
    batch = Batch(conn, pipelined=after_commit is not None)
    committed = tx.commit(batch)
    if after_commit is not None:
        after_commit(batch, answer)
    try:
        batch.send()
    except psycopg.Error as exc:
        if not committed.has_succeeded():
            raise DatabaseFailure(exc) from exc
        # The run is committed; the after-commit statements failed (the caller sees it in their results), and the
        # transaction they opened is rolled back by the caller's ensure_idle.


def _dedup_and_write(conn: psycopg.Connection[Any], settings: Settings, *, community: Community, address: str,
                     stamps: list[Candidate], weights: Mapping[str, Any] | None, hashes: list[str],
                     links_now: list[Link], passport_id: int, score_id: int, now: datetime,
                     measures: ScoringMeasures) -> ScoreResult:
    """B3–B7, retried from the dedup savepoint when a link write lost a race (§6.4).

    A failing B3–B6 statement is a scoring failure; a failing B7 statement is a database failure (§5.1). A
    savepoint sent between them tells, after a failure, which side of it the failure happened on.
    """
    transient: psycopg.Error | None = None
    for attempt in range(1, MAX_DEDUP_ATTEMPTS + 1):
        plan = plan_dedup(stamps, links_now, address=address, now=now, multi_nullifier=settings.multi_nullifier)
        result = compute_score(plan.kept, plan.clashing, weights, community.scorer.threshold)
        check = _AttemptCheck(plan)
        try:
            with Batch(conn) as batch:
                _write_attempt(batch, settings, check, community=community, address=address, plan=plan,
                               result=result, passport_id=passport_id, score_id=score_id, now=now)
            check.raise_if_copy_incomplete()
            check.raise_if_lost()
            measures.dedup_clashes = len(plan.ldp_events)
            return result
        except (LinkConflict, *_LOST_RACE) as exc:
            logger.info("dedup attempt lost a race", extra={"attempt": attempt, "reason": type(exc).__name__})
            transient = None
        except _TRANSIENT as exc:
            logger.info("dedup attempt lost a race", extra={"attempt": attempt, "reason": type(exc).__name__})
            transient = exc
        except psycopg.Error as exc:
            if not is_data_failure(exc) or _reached_b7(conn):
                raise DatabaseFailure(exc) from exc  # B7, or an operational fault: never stored as a score (P1.4)
            raise ScoringWriteError(str(exc)) from exc  # e.g. a value a column rejects: the run fails
        measures.link_retries += 1
        try:
            with Batch(conn) as batch:
                tx.rollback_to(batch, _DEDUP_SAVEPOINT)
                reread = links.load_links(batch, community_id=community.id, hashes=hashes) if hashes else None
        except psycopg.Error as exc:
            raise DatabaseFailure(exc) from exc
        links_now = reread.result() if reread else []
    if transient is not None:  # deadlocks or serialization failures beyond the retries are faults, not data (P1.4)
        raise DatabaseFailure(transient)
    raise LinksNotSaved()


def _reached_b7(conn: psycopg.Connection[Any]) -> bool:
    """After a failed attempt: whether every B3–B6 statement had run, i.e. its batch had set the B7 savepoint.

    One more round trip, on this failure path only; the transaction is rolled back by the caller either way.
    """
    try:
        tx.rollback_to(conn, _B7_SAVEPOINT).result()
    except pg_errors.InvalidSavepointSpecification:
        return False
    except psycopg.Error:
        return True  # the server cannot say: count it as a database failure, never as a score
    return True


@dataclass
class _AttemptCheck:
    """What one attempt's round trip must confirm: the caller's own link writes all landed."""

    plan: DedupPlan
    inserted: Pending[list[str]] | None = None
    updated: Pending[list[int]] | None = None
    owned: Pending[int] | None = None
    copied: Pending[int] | None = None

    def raise_if_copy_incomplete(self) -> None:
        if self.copied is not None and self.copied.result() != len(self.plan.kept):
            raise _CopiedRowChanged()

    def raise_if_lost(self) -> None:
        if self.inserted is not None and len(self.inserted.result()) != len(self.plan.own_inserts):
            raise LinkConflict("a nullifier was claimed concurrently")
        if self.updated is not None and len(self.updated.result()) != len(self.plan.own_updates):
            raise LinkConflict("a link was reclaimed concurrently")
        if self.owned is not None and self.owned.result() != len(self.plan.own_hashes):
            raise LinkConflict("self-check mismatch")


def _write_attempt(batch: Batch, settings: Settings, check: _AttemptCheck, *, community: Community,
                   address: str, plan: DedupPlan, result: ScoreResult, passport_id: int, score_id: int,
                   now: datetime) -> None:
    """Queue every write of B3–B7 in one batch, recording in ``check`` what must be read once it has run."""
    if plan.own_inserts:
        check.inserted = links.insert_links(batch, community_id=community.id, links=plan.own_inserts)
    if plan.own_updates:
        check.updated = links.update_links(batch, address=address, now=now, links=plan.own_updates)
    if plan.backfills:
        links.insert_links(batch, community_id=community.id, links=plan.backfills)
    if plan.own_hashes:
        check.owned = links.count_owned(batch, address=address, community_id=community.id, hashes=plan.own_hashes)
    if plan.ldp_events:
        events.insert_events(batch, action="LDP", address=address, community_id=community.id,
                             payloads=[ldp_event_data(e, community.id) for e in plan.ldp_events], created_at=now)
    check.copied = registry_stamps.replace_stamps(batch, passport_id=passport_id, stamps=plan.kept)
    if points_domain.is_write_gate_open(write_enabled=settings.human_points_write_enabled,
                                        community_in_program=community.human_points_program,
                                        passes=result.passes, now=now,
                                        start_timestamp=settings.human_points_start_timestamp):
        _write_human_points(batch, settings, community=community, address=address, kept=plan.kept, now=now)
    tx.savepoint(batch, _B7_SAVEPOINT)
    events.insert_events(batch, action="SCU", address=address, community_id=community.id,
                         payloads=[scu_event_data(result, score_id=score_id, passport_id=passport_id,
                                                  timestamp=now)], created_at=now)
    scores.update_score_done(batch, score_id=score_id, score=result.binary, timestamp=now, evidence=result.evidence,
                             stamp_scores=result.stamp_scores, stamps=result.stamps, expiration=result.expiration)


def _write_human_points(conn: Executor, settings: Settings, *, community: Community, address: str,
                        kept: Sequence[Candidate], now: datetime) -> None:
    human_points.insert_qualified_community(conn, address=address, community_id=community.id)
    claims = points_domain.human_key_claims(kept)
    actions = points_domain.provider_actions(kept)
    if claims or actions:
        human_points.insert_stamp_actions(conn, address=address, now=now, human_keys=claims, actions=actions)
    human_points.insert_scoring_bonus(conn, address=address, now=now,
                                      min_communities=points_domain.SCORING_BONUS_COMMUNITIES)
    human_points.insert_list_awards(conn, address=address, now=now,
                                    awards=points_domain.list_awards(settings.human_points_mta_enabled))


def _write_error(conn: psycopg.Connection[Any], *, community: Community, address: str,
                 scored_rows: Sequence[CacheRow], message: str) -> dict[str, Any] | _RowsChanged:
    """§5.6: a new transaction that upserts passport and score rows and stores the ERROR state (one round trip).

    The ERROR state is written only if the live cache rows are still those that failed (P5); otherwise the run
    starts again from the current rows.
    """
    try:
        with Batch(conn) as batch:
            tx.begin(batch)
            tx.bound_lock_waits(batch)
            scores.insert_passport(batch, address=address, community_id=community.id)
            scores.lock_passport(batch, address=address, community_id=community.id)
            scores.insert_score(batch, address=address, community_id=community.id)
            current = cache_snapshot.load_snapshot(batch, address=address)
            row = scores.update_score_error(batch, address=address, community_id=community.id, message=message,
                                            scored_rows=scored_rows)
            tx.commit(batch)
    except psycopg.Error as exc:
        raise DatabaseFailure(exc) from exc
    finally:
        tx.ensure_idle(conn)
    stored = row.result()
    if stored is None and current.result() != snapshot(scored_rows):
        return _RowsChanged()
    return score_object(address=address, evidence=stored.evidence if stored else None,
                        last_score_timestamp=stored.last_score_timestamp if stored else None,
                        expiration=stored.expiration_date if stored else None, error=message,
                        stamps=stored.stamps if stored else None)
