"""Demo data for the local server and the end-to-end tests: fixture W of the scoring contract (§10.1, §7.8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg

from scorer_lambda.local.seed import (
    PBKDF2_ITERATIONS,
    insert_account,
    insert_api_key,
    insert_cache_row,
    insert_community,
    insert_scorer,
)
from scorer_lambda.local.signing import TRUSTED_TEST_ISSUERS, StampSigner

DEMO_API_KEY = "DEMOKEY1.abcdefghijklmnopqrstuvwxyz012345"
DEMO_ACCOUNT_ID = 1
DEMO_SCORER_ID = 7
DEMO_COMMUNITY_ID = 3
DEMO_WEIGHTS: dict[str, Any] = {"Google": 0.525, "Ens": 0.208, "Discord": 0.516, "Github": "1.5"}
DEMO_THRESHOLD = Decimal("1.24900")
ADDRESS_A = "0x" + "a" * 40
ADDRESS_B = "0x" + "b" * 40
# The expiration dates of §7.8; used while they are still in the future so the demo answers the worked example.
W_EXPIRY_SHORT = datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC)
W_EXPIRY_LONG = datetime(2027, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DemoSeed:
    """What :func:`seed_demo` created, for settings and requests against the local server."""

    api_key: str
    api_key_id: str
    account_id: int
    community_id: int
    scorer_id: int
    address_a: str
    address_b: str
    trusted_issuers: tuple[str, ...]
    cache_ids: dict[tuple[str, str], int]


def demo_dates(now: datetime) -> tuple[datetime, datetime, datetime]:
    """(issuance, short expiry, long expiry) of the demo stamps: §7.8's dates while they lie a day after ``now``."""
    issued = now.astimezone(UTC).replace(microsecond=0) - timedelta(days=1)
    if now + timedelta(days=1) < W_EXPIRY_SHORT:
        return issued, W_EXPIRY_SHORT, W_EXPIRY_LONG
    short = now.astimezone(UTC).replace(microsecond=456000) + timedelta(days=54)
    return issued, short, short.replace(microsecond=0) + timedelta(days=45)


def seed_demo(
    conn: psycopg.Connection[Any],
    signer: StampSigner,
    *,
    now: datetime,
    pbkdf2_iterations: int = PBKDF2_ITERATIONS,
) -> DemoSeed:
    """Seed fixture W (§10.1): community 3 on scorer 7, a sha256 fast-path key and A's and B's stamps of §7.8.

    Deterministic given ``now``: stamps are issued a day before ``now`` and expire on the §7.8 dates while those
    lie more than a day after ``now`` (else 54 and 99 days after ``now``). ``now`` must not be more than a day
    ahead of the wall clock, because didkit rejects proofs created in the future.
    """
    issued, short, long = demo_dates(now)
    insert_account(conn, account_id=DEMO_ACCOUNT_ID, address="0x" + "1" * 40, user_id=1)
    insert_scorer(conn, scorer_id=DEMO_SCORER_ID, weights=DEMO_WEIGHTS, threshold=DEMO_THRESHOLD)
    insert_community(
        conn,
        community_id=DEMO_COMMUNITY_ID,
        account_id=DEMO_ACCOUNT_ID,
        scorer_id=DEMO_SCORER_ID,
        name="Demo community",
        created_at=now,
    )
    api_key_id = insert_api_key(
        conn,
        key=DEMO_API_KEY,
        account_id=DEMO_ACCOUNT_ID,
        pbkdf2_iterations=pbkdf2_iterations,
        name="demo key",
        created=now,
    )
    rows = [
        (ADDRESS_A, "Google", ["v0.0.0:g-A"], short),
        (ADDRESS_A, "Ens", ["v0.0.0:e-A", "v1:e-A"], long),
        (ADDRESS_A, "Discord", ["v0.0.0:shared"], long),
        (ADDRESS_B, "Discord", ["v0.0.0:shared"], short),
        (ADDRESS_B, "Github", ["v0.0.0:gh-B"], long),
    ]
    cache_ids: dict[tuple[str, str], int] = {}
    for address, provider, nullifiers, expires in rows:
        stamp = signer.issue_eip712(
            address=address,
            provider=provider,
            nullifiers=nullifiers,
            issuance_date=issued,
            expiration_date=expires,
        )
        cache_ids[(address, provider)] = insert_cache_row(
            conn, address=address, provider=provider, stamp=stamp, created_at=now
        )
    return DemoSeed(
        api_key=DEMO_API_KEY,
        api_key_id=api_key_id,
        account_id=DEMO_ACCOUNT_ID,
        community_id=DEMO_COMMUNITY_ID,
        scorer_id=DEMO_SCORER_ID,
        address_a=ADDRESS_A,
        address_b=ADDRESS_B,
        trusted_issuers=TRUSTED_TEST_ISSUERS,
        cache_ids=cache_ids,
    )
