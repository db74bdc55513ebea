"""Shared pieces of the E1 acceptance tests (scoring contract §9.1, §10): a pinned clock, stamps, table reads.

Every E1 test runs the application with a clock pinned to ``NOW`` (the instant of the worked example, §7.8), so
fixture W keeps the §7.8 dates and bodies stay byte-for-byte comparable on any day. Stamps are issued a day before
``NOW`` (in the past of the wall clock, which didkit needs) and expire relative to ``NOW``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_cache_row
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.response import RESPONSE_HEADERS

from ..databases import template_copy
from ..harness import Reply, Scorer

NOW = datetime(2026, 11, 22, 13, 49, 56, 680383, tzinfo=UTC)
ISSUED = NOW.replace(microsecond=0) - timedelta(days=1)
SCORE_KEYS = ["address", "score", "passing_score", "last_score_timestamp", "expiration_timestamp", "threshold",
              "error", "stamps", "points_data", "possible_points_data", "linked_score"]

# The worked example of §7.8, step 1 (address A in community C = 3), with NOW as its timestamp.
A_BODY: dict[str, Any] = {
    "address": "0x" + "a" * 40, "score": "1.24900", "passing_score": True,
    "last_score_timestamp": "2026-11-22T13:49:56.680383+00:00",
    "expiration_timestamp": "2027-01-15T10:20:30.456000+00:00", "threshold": "1.24900", "error": None,
    "stamps": {"Discord": {"score": "0.51600", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
               "Ens": {"score": "0.20800", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
               "Google": {"score": "0.52500", "dedup": False, "expiration_date": "2027-01-15T10:20:30.456000+00:00"}},
    "points_data": None, "possible_points_data": None, "linked_score": None,
}
A_EVIDENCE = {"type": "ThresholdScoreCheck", "success": True, "rawScore": "1.249000000000000026867397196",
              "threshold": "1.24900"}


class Clock:
    """The application's clock: returns ``now`` until a test moves it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def e1_path(scorer_id: int | str, address: str) -> str:
    return f"/v2/stamps/{scorer_id}/score/{address}"


def key_headers(seed: DemoSeed) -> dict[str, str]:
    return {"x-api-key": seed.api_key}


def call_e1(scorer: Scorer, scorer_id: int | str, address: str, *, headers: Mapping[str, str], **kwargs: Any) -> Reply:
    """Call E1; every V2 response, success or error, carries exactly RESPONSE_HEADERS (§2.3)."""
    reply = scorer.call("GET", e1_path(scorer_id, address), headers=dict(headers), **kwargs)
    assert reply.headers == RESPONSE_HEADERS, f"E1 {address}: response headers"
    if reply.status == 200:
        assert list(reply.body) == SCORE_KEYS, f"E1 {address}: ScoreObject key order"
    return reply


def issue(signer: StampSigner, address: str, provider: str, nullifiers: list[str] | None = None, *,
          expires: datetime | str | None = None, issued: datetime | str = ISSUED, **kwargs: Any) -> dict[str, Any]:
    """A valid EIP-712 stamp from the trusted did:ethr issuer, issued a day before NOW, expiring 60 days after it.

    Without ``nullifiers`` (and without a legacy ``hash``) the stamp gets its own ``v0.0.0:<provider>:<address>``.
    """
    if nullifiers is None and "hash" not in kwargs:
        nullifiers = [f"v0.0.0:{provider}:{address}"]
    return signer.issue_eip712(address=address, provider=provider, nullifiers=nullifiers, issuance_date=issued,
                               expiration_date=expires if expires is not None else NOW + timedelta(days=60), **kwargs)


def add_stamp(db: psycopg.Connection[Any], signer: StampSigner, address: str, provider: str,
              nullifiers: list[str] | None = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """Issue a stamp and store it as a live type-1 cache row of ``address``; returns (cache id, stamp)."""
    stamp = issue(signer, address, provider, nullifiers, **kwargs)
    return insert_cache_row(db, address=address, provider=provider, stamp=stamp, created_at=NOW), stamp


def address(n: int) -> str:
    """A distinct lowercase test address, ``0x`` + 40 hex digits."""
    return f"0x{n:040x}"


# --- direct reads of what a scoring run writes -------------------------------------------------------------------

def rows(db: psycopg.Connection[Any], sql: str, *params: Any) -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def links(db: psycopg.Connection[Any], community_id: int) -> dict[str, tuple[str, datetime]]:
    """hash -> (owner address, expires_at) of a community's nullifier links."""
    return {r["hash"]: (r["address"], r["expires_at"]) for r in rows(
        db, "SELECT hash, address, expires_at FROM registry_hashscorerlink WHERE community_id = %s", community_id)}


def events(db: psycopg.Connection[Any], action: str, address: str) -> list[dict[str, Any]]:
    return rows(db, "SELECT action, address, community_id, data, created_at FROM registry_event"
                " WHERE action = %s AND address = %s ORDER BY id", action, address)


def score_row(db: psycopg.Connection[Any], address: str, community_id: int) -> dict[str, Any] | None:
    found = rows(db, "SELECT s.*, p.requires_calculation FROM registry_score s"
                 " JOIN registry_passport p ON p.id = s.passport_id WHERE p.address = %s AND p.community_id = %s",
                 address, community_id)
    return found[0] if found else None


def stamp_providers(db: psycopg.Connection[Any], address: str, community_id: int) -> list[str]:
    """The providers of the passport's ``registry_stamp`` rows, in insertion order."""
    return [r["provider"] for r in rows(
        db, "SELECT st.provider FROM registry_stamp st JOIN registry_passport p ON p.id = st.passport_id"
        " WHERE p.address = %s AND p.community_id = %s ORDER BY st.id", address, community_id)]


def analytics(db: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    return rows(db, "SELECT *, jsonb_typeof(response) AS response_type FROM account_accountapikeyanalytics"
                " ORDER BY id")


def count(db: psycopg.Connection[Any], table: str) -> int:
    found = db.execute(f"SELECT count(*) FROM {table}").fetchone()  # table names are literals of the tests
    assert found is not None
    return int(found[0])


def write_counts(db: psycopg.Connection[Any]) -> dict[str, int]:
    """Row counts of every table a scoring run writes."""
    return {table: count(db, table) for table in (
        "registry_passport", "registry_score", "registry_stamp", "registry_hashscorerlink", "registry_event",
        "registry_humanpoints", "registry_humanpointscommunityqualifiedusers")}


def without_timestamp(body: Mapping[str, Any]) -> dict[str, Any]:
    copied = dict(body)
    copied.pop("last_score_timestamp")
    return copied


# --- a database shared by the tests of one module ----------------------------------------------------------------

def module_database(pg_server: Any) -> AbstractContextManager[str]:
    """A fresh database from the schema template for a module whose tests only read after a shared setup."""
    return template_copy(pg_server, "v2_module")


def trusted_env(trusted: tuple[str, ...], **env: str) -> dict[str, str]:
    return {"TRUSTED_IAM_ISSUERS": json.dumps(list(trusted)), **env}
