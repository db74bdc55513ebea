"""Fixtures for end-to-end tests: the Lambda application on a fresh database, and the worked-example seed."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from scorer_lambda.local.demo import DemoSeed, seed_demo
from scorer_lambda.local.signing import StampSigner

from ..harness import Scorer
from .v2_support import NOW, Clock

MakeScorer = Callable[..., Scorer]


@pytest.fixture
def fixture_w(db: psycopg.Connection[Any], signer: StampSigner) -> DemoSeed:
    """Fixture W of scoring contract §10.1: community 3 on scorer 7, key K, A's and B's stamps of §7.8."""
    return seed_demo(db, signer, now=datetime.now(UTC), pbkdf2_iterations=1000)


@pytest.fixture
def make_scorer(db_url: str) -> Iterator[MakeScorer]:
    """Build the application with extra environment variables; closes what it opened."""
    opened: list[Scorer] = []

    def build(trusted: tuple[str, ...] | list[str] = (), clock: Any = None, **env: str) -> Scorer:
        environ = {"TRUSTED_IAM_ISSUERS": json.dumps(list(trusted)), **env}
        scorer = Scorer(db_url, environ) if clock is None else Scorer(db_url, environ, clock=clock)
        opened.append(scorer)
        return scorer

    yield build
    for scorer in opened:
        scorer.close()


@pytest.fixture
def scorer_w(fixture_w: DemoSeed, make_scorer: MakeScorer) -> Scorer:
    """The application configured as fixture W says: analytics on, the ceramic scorer is community C."""
    return make_scorer(trusted=fixture_w.trusted_issuers, FF_API_ANALYTICS="on",
                       CERAMIC_CACHE_SCORER_ID=str(fixture_w.community_id))


@pytest.fixture
def clock() -> Clock:
    """The E1 tests' clock, pinned to the worked example's instant (tests may move it)."""
    return Clock(NOW)


@pytest.fixture
def w_pinned(db: psycopg.Connection[Any], signer: StampSigner) -> DemoSeed:
    """Fixture W seeded at ``NOW`` of the E1 tests: the §7.8 dates and bodies hold on any day."""
    return seed_demo(db, signer, now=NOW, pbkdf2_iterations=1000)


@pytest.fixture
def e1(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock) -> Scorer:
    """The application configured as fixture W says, running on the pinned clock."""
    return make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, FF_API_ANALYTICS="on",
                       CERAMIC_CACHE_SCORER_ID=str(w_pinned.community_id))
