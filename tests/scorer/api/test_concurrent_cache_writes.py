"""Concurrent bulk writes for one address are serialised: no unique-index failure, one live row per provider."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.signing import StampSigner

from ..harness import Reply, bearer, hs256_token
from .conftest import MakeScorer

ADDRESS = "0x" + "5e" * 20
ROUNDS = 10


def test_parallel_posts_for_one_address_all_succeed(fixture_w: DemoSeed, make_scorer: MakeScorer,
                                                     db: psycopg.Connection[Any], signer: StampSigner) -> None:
    env = {"CERAMIC_CACHE_SCORER_ID": str(fixture_w.community_id)}
    scorers = [make_scorer(trusted=fixture_w.trusted_issuers, **env) for _ in range(2)]
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    auth = bearer(hs256_token(ADDRESS))
    for round_no in range(ROUNDS):
        stamps = [signer.issue_eip712(address=ADDRESS, provider="Google", nullifiers=[f"v0.0.0:g{round_no}-{i}"],
                                      issuance_date=issued, expiration_date=issued + timedelta(days=30))
                  for i in range(2)]
        barrier = threading.Barrier(2)
        replies: list[Reply | BaseException] = [RuntimeError("not run")] * 2

        def post(i: int, stamps: list[dict[str, Any]] = stamps, barrier: threading.Barrier = barrier,
                 replies: list[Reply | BaseException] = replies) -> None:
            try:
                barrier.wait(timeout=10)
                replies[i] = scorers[i].call("POST", "/ceramic-cache/stamps/bulk", headers=auth,
                                             body=[{"provider": "Google", "stamp": stamps[i]}])
            except BaseException as exc:
                replies[i] = exc

        threads = [threading.Thread(target=post, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        for reply in replies:
            assert isinstance(reply, Reply) and reply.status == 201, f"round {round_no}: {reply!r}"
            assert reply.body["score"]["error"] is None, f"round {round_no}: {reply.body}"
        live = db.execute("SELECT count(*) FROM ceramic_cache_ceramiccache WHERE address = %s AND provider = 'Google'"
                          " AND deleted_at IS NULL", (ADDRESS,)).fetchone()
        assert live == (1,), f"round {round_no}: exactly one live Google row"
