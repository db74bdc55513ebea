"""E1 rate limiting on a real Redis (scoring contract §4.3, §4.4, §9.1; production contract P9).

The application runs as fixture W with ``RATELIMIT_ENABLE=on`` and ``CELERY_BROKER_URL`` naming the session's
redis-server, on the E1 tests' pinned clock (moved to cross windows).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from scorer_lambda.domain.rate_limit import counter_key, parse_rate, window_for
from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.redis_server import RedisServer
from scorer_lambda.local.seed import insert_api_key, make_api_key
from scorer_lambda.settings import DEFAULT_RATE_LIMITING_FORM

from ..harness import Scorer
from ..redis_fixtures import admin
from .conftest import MakeScorer
from .v2_support import A_BODY, NOW, Clock, analytics, call_e1, e1_path, key_headers

ROOT = Path(__file__).resolve().parents[3]
C = 3
A = "0x" + "a" * 40
LIMITED = {"error": "You have been rate limited! Use this form to request a rate limit elevation: "
                    + DEFAULT_RATE_LIMITING_FORM}
MAX_RATE_LIMIT_COST_MS = 250


def limited_scorer(make_scorer: MakeScorer, seed: DemoSeed, clock: Clock, url: str, **env: str) -> Scorer:
    return make_scorer(trusted=seed.trusted_issuers, clock=clock, FF_API_ANALYTICS="on", RATELIMIT_ENABLE="on",
                       CELERY_BROKER_URL=url, CERAMIC_CACHE_SCORER_ID=str(seed.community_id), **env)


def new_key(db: psycopg.Connection[Any], seed: DemoSeed, name: str, rate_limit: str | None) -> str:
    key = make_api_key(name)
    insert_api_key(db, key=key, account_id=seed.account_id, rate_limit=rate_limit, pbkdf2_iterations=1000)
    return key


def redis_key(rate: str, key: str, now: datetime) -> str:
    parsed = parse_rate(rate)
    assert parsed is not None
    prefix = key.split(".")[0]
    return counter_key(parsed, prefix, window_for(prefix, parsed.period, int(now.timestamp())))


def statuses(scorer: Scorer, key: str, n: int, scorer_id: int | str = C, address: str = A) -> list[int]:
    return [call_e1(scorer, scorer_id, address, headers={"x-api-key": key}).status for _ in range(n)]


def test_e1_key_limited_to_3_answers_200_200_200_429_429_and_a_new_window_allows_again(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, redis_url: str,
        db: psycopg.Connection[Any]) -> None:
    scorer = limited_scorer(make_scorer, w_pinned, clock, redis_url)
    key = new_key(db, w_pinned, "three", "3/m")
    replies = [call_e1(scorer, C, A, headers={"x-api-key": key}) for _ in range(5)]
    assert [r.status for r in replies] == [200, 200, 200, 429, 429], f"E1 {e1_path(C, A)} with 3/m"
    assert replies[0].body == A_BODY
    assert replies[3].body == replies[4].body == LIMITED, "§2.4: the message quotes PASSPORT_API_RATE_LIMITING_FORM"
    assert replies[3].raw["statusDescription"] == "429 Too Many Requests"

    prefix = key.split(".")[0]
    end = window_for(prefix, 60, int(NOW.timestamp()))
    clock.now = datetime.fromtimestamp(end, UTC)  # the window's last second
    assert statuses(scorer, key, 1) == [429], "still the same window"
    clock.now = datetime.fromtimestamp(end + 1, UTC)
    assert statuses(scorer, key, 4) == [200, 200, 200, 429], "a new window allows again"
    with admin(redis_url) as client:
        assert client.get(redis_key("3/m", key, NOW)) == b"6", "every request counted, rejected ones too"
        assert client.get(redis_key("3/m", key, clock.now)) == b"4"


def test_e1_429_analytics_row_has_no_payload_and_an_empty_error(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                                clock: Clock, redis_url: str,
                                                                db: psycopg.Connection[Any]) -> None:
    scorer = limited_scorer(make_scorer, w_pinned, clock, redis_url)
    key = new_key(db, w_pinned, "one", "1/m")
    headers = {"x-api-key": key}
    assert call_e1(scorer, C, A, headers=headers, body={"k": "v"}).status == 200
    assert call_e1(scorer, C, A, headers=headers, body={"k": "v"}).status == 429
    ok, limited = analytics(db)
    assert (ok["status_code"], ok["payload"], ok["error"]) == (200, {"k": "v"}, None)
    assert (limited["status_code"], limited["payload"], limited["error"]) == (429, None, ""), \
        "§4.4: payload NULL (the body was never parsed), error ''"
    assert limited["response_type"] == "string" and json.loads(limited["response"]) == LIMITED
    assert limited["headers"]["x-api-key"] == "***"
    assert limited["path"] == e1_path(C, A) and limited["query_params"] == {}


def test_e1_rate_limit_comes_after_authentication_and_before_everything_else(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, redis_url: str,
        db: psycopg.Connection[Any]) -> None:
    scorer = limited_scorer(make_scorer, w_pinned, clock, redis_url)
    key = new_key(db, w_pinned, "order", "1/m")
    wrong_secret = key[:-1] + ("x" if key[-1] != "x" else "y")
    assert [call_e1(scorer, C, A, headers={"x-api-key": wrong_secret}).status for _ in range(3)] == [401] * 3
    with admin(redis_url) as client:
        assert client.dbsize() == 0, "a request that fails authentication is not counted"
    assert statuses(scorer, key, 1) == [200]
    headers = {"x-api-key": key}
    for case, reply in (
        ("unknown scorer id (else 404)", call_e1(scorer, 999, A, headers=headers)),
        ("another account's scorer (else 404)", call_e1(scorer, "not-mine", A, headers=headers)),
        ("invalid address (else 400)", call_e1(scorer, C, "0x123", headers=headers)),
        ("body that is not JSON (else 500)", call_e1(scorer, C, A, headers=headers, body="{not json")),
    ):
        assert (reply.status, reply.body) == (429, LIMITED), f"E1: {case}"
    assert [r["payload"] for r in analytics(db)] == [{}, None, None, None, None]


def test_e1_keys_without_a_limit_never_touch_redis(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                   redis_url: str, db: psycopg.Connection[Any]) -> None:
    with admin(redis_url) as client:
        before = int(client.info("stats")["total_connections_received"])
    scorer = limited_scorer(make_scorer, w_pinned, clock, redis_url)
    null_key, empty_key = new_key(db, w_pinned, "null", None), new_key(db, w_pinned, "empty", "")
    for key in (null_key, empty_key, w_pinned.api_key):  # the demo key is seeded with rate_limit ''
        assert statuses(scorer, key, 5) == [200] * 5, f"E1 with rate_limit of {key.split('.')[0]}"
    with admin(redis_url) as client:
        assert int(client.info("stats")["total_connections_received"]) == before + 1, \
            "the scorer never connected: only this INFO connection"
        assert client.dbsize() == 0


def test_e1_honours_a_counter_written_by_the_legacy_lambdas(w_pinned: DemoSeed, make_scorer: MakeScorer,
                                                           clock: Clock, redis_url: str,
                                                           db: psycopg.Connection[Any]) -> None:
    """The default tier's counter after 3 legacy requests in this window, written as Django's cache writes it."""
    key = new_key(db, w_pinned, "legacy", "5/15m")
    counter = redis_key("5/15m", key, NOW)
    with admin(redis_url) as client:
        client.set(counter, 1, ex=905, nx=True)  # django-ratelimit: cache.add(key, 1, period + 5) ...
        client.incr(counter, 2)  # ... then cache.incr for the 2nd and 3rd request
    scorer = limited_scorer(make_scorer, w_pinned, clock, redis_url)
    assert statuses(scorer, key, 3) == [200, 200, 429], "requests 4 and 5 of the window pass, the 6th does not"


def test_e1_with_redis_down_answers_200_with_one_warning_per_request(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, own_redis: RedisServer,
        db: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture) -> None:
    url = own_redis.url
    scorer = limited_scorer(make_scorer, w_pinned, clock, url)
    key = new_key(db, w_pinned, "down", "1/m")
    own_redis.stop()
    with caplog.at_level(logging.WARNING, logger="scorer_lambda"):
        assert statuses(scorer, key, 3) == [200, 200, 200], "fail open (deliberate difference 23)"
    warnings = [r for r in caplog.records if r.name == "scorer_lambda.rate_limiter"]
    assert len(warnings) == 3 and all(r.levelno == logging.WARNING for r in warnings), "one line per request"
    assert all(getattr(r, "elapsed_ms", 1e9) < MAX_RATE_LIMIT_COST_MS for r in warnings)
    assert [r["status_code"] for r in analytics(db)] == [200, 200, 200]


def test_e1_with_redis_hung_answers_200_within_the_budget_then_limits_again(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, own_redis: RedisServer,
        db: psycopg.Connection[Any], caplog: pytest.LogCaptureFixture) -> None:
    scorer = limited_scorer(make_scorer, w_pinned, clock, own_redis.url)
    key = new_key(db, w_pinned, "hung", "1/m")
    assert statuses(scorer, key, 1) == [200]
    own_redis.freeze()
    try:
        with caplog.at_level(logging.WARNING, logger="scorer_lambda"):
            started = time.monotonic()
            assert statuses(scorer, key, 1) == [200], "over the limit, but the counter store did not answer"
            elapsed = time.monotonic() - started
    finally:
        own_redis.thaw()
    [warning] = [r for r in caplog.records if r.name == "scorer_lambda.rate_limiter"]
    assert 240 <= getattr(warning, "elapsed_ms", 0) <= 400, "the budget, not a socket timeout of seconds"
    assert elapsed < 2, f"the request took {elapsed:.2f} s"
    assert statuses(scorer, key, 1) == [429], "the next request reconnected and the limit holds again"


WORKER = """
import json, sys, time
from datetime import UTC, datetime
from tests.scorer.harness import Scorer
db_url, redis_url, trusted, key, n, start_at, now = sys.argv[1:8]
scorer = Scorer(db_url, {"TRUSTED_IAM_ISSUERS": trusted, "RATELIMIT_ENABLE": "on", "CELERY_BROKER_URL": redis_url},
                clock=lambda: datetime.fromtimestamp(float(now), UTC))
scorer.call("GET", "/ceramic-cache/weights")  # connect to the database before the start line
time.sleep(max(0.0, float(start_at) - time.time()))
codes = [scorer.call("GET", "/v2/stamps/3/score/0x" + "a" * 40, headers={"x-api-key": key}).status
         for _ in range(int(n))]
print(json.dumps(codes))
"""


def test_e1_requests_from_several_processes_never_exceed_the_limit(w_pinned: DemoSeed, db_url: str, redis_url: str,
                                                                   db: psycopg.Connection[Any]) -> None:
    key = new_key(db, w_pinned, "concurrent", "10/15m")
    processes, per_process = 4, 6
    start_at = time.time() + 3
    now = (NOW + timedelta(seconds=1)).timestamp()
    argv = [db_url, redis_url, json.dumps(list(w_pinned.trusted_issuers)), key, str(per_process), str(start_at),
            str(now)]
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, *argv], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(processes)]
    codes: list[int] = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        codes += json.loads(out.strip().splitlines()[-1])
    assert sorted(codes) == [200] * 10 + [429] * (processes * per_process - 10), \
        f"E1 from {processes} processes, limit 10/15m: {codes}"
    with admin(redis_url) as client:
        assert client.get(redis_key("10/15m", key, datetime.fromtimestamp(now, UTC))) == b"24"


def test_e1_demo_alias_counts_on_the_real_keys_prefix(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                      redis_url: str, db: psycopg.Connection[Any]) -> None:
    db.execute("UPDATE account_accountapikey SET rate_limit = '2/m' WHERE id = %s", (w_pinned.api_key_id,))
    scorer = limited_scorer(make_scorer, w_pinned, clock, redis_url, DEMO_API_KEY=w_pinned.api_key,
                            DEMO_API_KEY_ALIASES='["demo"]')
    codes = [call_e1(scorer, C, A, headers=h).status for h in
             ({"x-api-key": "demo"}, key_headers(w_pinned), {"x-api-key": "demo"})]
    assert codes == [200, 200, 429], "the alias and the key itself share one counter"
