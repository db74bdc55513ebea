"""The rate limiter on a real Redis (production contract P9): the legacy counters, fail open within 250 ms, reconnect.

Every test runs against a redis-server process started by the test session (``tests/scorer/redis_fixtures.py``);
tests that stop, freeze or restart Redis use one of their own.
"""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from scorer_lambda.domain.rate_limit import Rate, counter_key, parse_rate, window_for
from scorer_lambda.local.redis_server import RedisServer, running_redis
from scorer_lambda.rate_limiter import BUDGET_SECONDS, RateLimiter
from scorer_lambda.redis_counters import RedisCounterStore
from scorer_lambda.settings import SettingsError, parse_settings

from ..redis_fixtures import admin, require_redis_server

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "rl-Pa55word-never-logged"
# P9's first golden vector: 125/15m for DEMOKEY1 at ts 1796300000 (+0.25) lands in window 1796300166.
GOLDEN_NOW = datetime.fromtimestamp(1796300000.25, UTC)
GOLDEN_KEY = ":1:rl:65e327ba3f646b3c8fb4333377a5b52507055d54b983aab057a7f1a09173dc9f"


def limiter(url: str, **kwargs: Any) -> RateLimiter:
    return RateLimiter(RedisCounterStore(url), **kwargs)


def key_at(rate: str, prefix: str, now: datetime) -> str:
    parsed = parse_rate(rate)
    assert parsed is not None
    return counter_key(parsed, prefix, window_for(prefix, parsed.period, int(now.timestamp())))


def connections_received(url: str) -> int:
    with admin(url) as client:
        return int(client.info("stats")["total_connections_received"])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the probe is closed


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "scorer_lambda.rate_limiter" and r.levelno >= logging.WARNING]


def assert_no_secret(records: list[logging.LogRecord], *secrets: str) -> None:
    for record in records:
        text = record.getMessage() + json.dumps(vars(record), default=str)
        for secret in secrets:
            assert secret not in text, f"log line carries {secret!r}: {record.getMessage()}"


# --- the legacy counters -------------------------------------------------------------------------------------------

def test_counts_in_the_legacy_key_with_the_legacy_lifetime_and_encoding(redis_url: str) -> None:
    limits = limiter(redis_url)
    assert [limits.is_limited("DEMOKEY1", "125/15m", GOLDEN_NOW) for _ in range(2)] == [False, False]
    with admin(redis_url) as client:
        assert client.keys("*") == [GOLDEN_KEY.encode()], "exactly the key django-ratelimit uses (golden vector 1)"
        assert client.get(GOLDEN_KEY) == b"2", "a plain integer, as Django's Redis cache stores integers"
        assert 900 < client.ttl(GOLDEN_KEY) <= 905, "SET NX EX period + 5 (EXPIRATION_FUDGE)"


def test_a_counter_written_by_the_legacy_lambdas_is_honoured(redis_url: str) -> None:
    """As if legacy Lambdas had served 3 requests in this window: Django's cache.add(key, 1, 905) then two incr."""
    key = key_at("5/15m", "PARTNER1", GOLDEN_NOW)
    with admin(redis_url) as client:
        assert client.set(key, 1, ex=905, nx=True)  # what Django's RedisCache.add sends
        client.incr(key)
        client.incr(key)
        assert client.get(key) == b"3"
    limits = limiter(redis_url)
    assert [limits.is_limited("PARTNER1", "5/15m", GOLDEN_NOW) for _ in range(3)] == [False, False, True], \
        "requests 4 and 5 of the window pass, the 6th is limited"
    with admin(redis_url) as client:
        assert int(client.get(key) or 0) == 6, "the legacy side reads the scorer's counts from the same key"
        assert 0 < client.ttl(key) <= 905, "INCR keeps the lifetime the first writer gave the counter"


def test_every_request_counts_and_a_new_window_starts_afresh(redis_url: str) -> None:
    limits = limiter(redis_url)
    prefix, period = "WINDOWS1", 60
    ts = int(GOLDEN_NOW.timestamp())
    end = window_for(prefix, period, ts)
    at = lambda seconds: datetime.fromtimestamp(seconds + 0.5, UTC)  # noqa: E731
    assert [limits.is_limited(prefix, "3/m", at(ts)) for _ in range(5)] == [False] * 3 + [True] * 2
    assert limits.is_limited(prefix, "3/m", at(end)) is True, "the window's last second still belongs to it"
    assert limits.is_limited(prefix, "3/m", at(end + 1)) is False, "the next second opens the next window"


def test_unlimited_keys_and_a_disabled_limiter_never_touch_redis(redis_url: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    before = connections_received(redis_url)
    limits = limiter(redis_url)
    for rate_limit in (None, "", None, ""):
        assert limits.is_limited("UNLIMITD", rate_limit, GOLDEN_NOW) is False
    assert RateLimiter(None).is_limited("UNLIMITD", "1/m", GOLDEN_NOW) is False
    assert connections_received(redis_url) == before + 1, "only this test's own INFO connection"
    with admin(redis_url) as client:
        assert client.dbsize() == 0
    assert warnings_of(caplog) == []


@pytest.mark.parametrize("rate_limit", ["abc", "15m", " 125/15m", "5/0m"])
def test_a_key_whose_rate_limit_is_not_a_rate_is_allowed_with_a_warning(redis_url: str, rate_limit: str,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    before = connections_received(redis_url)
    with caplog.at_level(logging.WARNING):
        assert limiter(redis_url).is_limited("BADRATE1", rate_limit, GOLDEN_NOW) is False
    [warning] = warnings_of(caplog)
    assert "not a rate" in warning.getMessage() and getattr(warning, "rate_limit", None) == rate_limit
    assert connections_received(redis_url) == before + 1, "nothing counted"


def test_a_counter_that_expires_between_set_and_incr_allows_and_gets_a_lifetime(redis_url: str) -> None:
    """The race P9 names: SET NX finds the key, it expires, INCR recreates it at 1 (without a lifetime)."""
    store = RedisCounterStore(redis_url)
    key = key_at("2/m", "VANISHES", GOLDEN_NOW)
    with admin(redis_url) as client:
        client.set(key, 5, ex=65)
        real_command = store._command

        def command(conn: Any, deadline: float, *args: Any) -> Any:
            reply = real_command(conn, deadline, *args)
            if args[0] == "SET":
                client.delete(key)  # the counter's window ends right here
            return reply

        store._command = command  # type: ignore[method-assign]
        assert RateLimiter(store).is_limited("VANISHES", "2/m", GOLDEN_NOW) is False, "allowed, as the contract says"
        assert client.get(key) == b"1"
        assert 0 < client.ttl(key) <= 65, "no counter may live forever"


# --- fail open, bounded, reconnected -------------------------------------------------------------------------------

def test_redis_down_allows_at_once_with_one_warning_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{closed_port()}/0"
    limits = limiter(url)
    with caplog.at_level(logging.WARNING):
        for n in range(3):
            caplog.clear()
            started = time.monotonic()
            assert limits.is_limited("DOWNKEY1", "1/m", GOLDEN_NOW) is False, f"request {n + 1} allowed"
            assert time.monotonic() - started < BUDGET_SECONDS
            [warning] = warnings_of(caplog)
            assert getattr(warning, "error_class", None) == "ConnectionError"
            assert_no_secret(caplog.records, PASSWORD, url)


def test_a_hung_redis_costs_at_most_the_budget_then_the_connection_is_opened_anew(
        own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    limits = limiter(own_redis.url)
    assert limits.is_limited("HUNGKEY1", "3/m", GOLDEN_NOW) is False  # connected, counted 1
    own_redis.freeze()  # SIGSTOP: the kept connection's next command is never answered
    try:
        with caplog.at_level(logging.WARNING):
            for case, check in (("kept connection", limits), ("new connection", limiter(own_redis.url))):
                caplog.clear()
                started = time.monotonic()
                assert check.is_limited("HUNGKEY1", "1/m", GOLDEN_NOW) is False, f"{case}: allowed"
                elapsed = time.monotonic() - started
                # The budget, not a socket timeout of seconds (the margin is for a loaded CI machine).
                assert BUDGET_SECONDS - 0.01 <= elapsed < BUDGET_SECONDS + 0.15, f"{case}: waited {elapsed:.3f} s"
                [warning] = warnings_of(caplog)
                assert getattr(warning, "error_class", None) == "CounterStoreTimeout", case
    finally:
        own_redis.thaw()
    assert limits.is_limited("HUNGKEY1", "3/m", GOLDEN_NOW) is False, "reconnected and counting again"
    with admin(own_redis.url) as client:
        assert client.get(key_at("3/m", "HUNGKEY1", GOLDEN_NOW)) == b"2"


def test_a_slow_redis_within_the_budget_is_waited_for_and_one_beyond_it_is_not(own_redis: RedisServer) -> None:
    limits = limiter(own_redis.url)
    key = key_at("1/m", "SLOWKEY1", GOLDEN_NOW)
    assert limits.is_limited("SLOWKEY1", "1/m", GOLDEN_NOW) is False
    with admin(own_redis.url) as client:
        client.execute_command("CLIENT", "PAUSE", 50)  # every client's commands wait 50 ms
        started = time.monotonic()
        assert limits.is_limited("SLOWKEY1", "1/m", GOLDEN_NOW) is True, "answered in time: the limit holds"
        assert 0.04 < time.monotonic() - started < BUDGET_SECONDS
        client.execute_command("CLIENT", "PAUSE", 1000)
        started = time.monotonic()
        assert limits.is_limited("SLOWKEY1", "1/m", GOLDEN_NOW) is False, "too slow: allowed"
        assert time.monotonic() - started < BUDGET_SECONDS + 0.15
        client.execute_command("CLIENT", "UNPAUSE")
        assert client.get(key) in (b"2", b"3"), "the late INCR may still have landed"


def test_an_answer_after_the_budget_allows_even_over_the_limit(redis_url: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    calls: list[float] = []

    def late_clock() -> float:
        """The limiter's clock: true at the start (so the store gets a real deadline), 300 ms later afterwards."""
        calls.append(time.monotonic())
        return calls[-1] + (0.3 if len(calls) > 1 else 0.0)

    limits = limiter(redis_url, monotonic=late_clock)
    with admin(redis_url) as client:
        client.set(key_at("3/m", "LATEKEY1", GOLDEN_NOW), 10, ex=65)
    with caplog.at_level(logging.WARNING):
        assert limits.is_limited("LATEKEY1", "3/m", GOLDEN_NOW) is False
    [warning] = warnings_of(caplog)
    assert "too late" in warning.getMessage()


def test_a_restarted_redis_costs_one_allowed_request_then_counting_resumes(
        own_redis: RedisServer, caplog: pytest.LogCaptureFixture) -> None:
    limits = limiter(own_redis.url)
    assert [limits.is_limited("RESTART1", "2/m", GOLDEN_NOW) for _ in range(3)] == [False, False, True]
    own_redis.restart()  # the kept connection is dead and the counters are gone (a failover to an empty node)
    with caplog.at_level(logging.WARNING):
        assert limits.is_limited("RESTART1", "2/m", GOLDEN_NOW) is False
    [warning] = warnings_of(caplog)
    assert getattr(warning, "error_class", None) == "ConnectionError"
    assert [limits.is_limited("RESTART1", "2/m", GOLDEN_NOW) for _ in range(3)] == [False, False, True], \
        "the next request opened a new connection"


def test_a_password_and_a_database_number_in_the_url_are_used_and_never_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    """As in production: an AUTH token in CELERY_BROKER_URL and the legacy cache's database number."""
    with running_redis(require_redis_server(), password=PASSWORD) as server:
        url = server.url.rsplit("/", 1)[0] + "/3"
        assert limiter(url).is_limited("AUTHKEY1", "1/m", GOLDEN_NOW) is False
        with admin(url) as db3, admin(server.url) as db0:
            assert db3.get(key_at("1/m", "AUTHKEY1", GOLDEN_NOW)) == b"1", "counted in database 3"
            assert db0.dbsize() == 0
        wrong = url.replace(PASSWORD, "not-the-password")
        with caplog.at_level(logging.WARNING):
            assert limiter(wrong).is_limited("AUTHKEY1", "1/m", GOLDEN_NOW) is False
        [warning] = warnings_of(caplog)
        assert getattr(warning, "error_class", None) == "AuthenticationError"
        assert_no_secret(caplog.records, PASSWORD, "not-the-password")


# --- cold start ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", [f"rediss://:{PASSWORD}@cache:6380/0?ssl_cert_reqs=sometimes",
                                 f"redis://:{PASSWORD}@cache:6379/0?no_such_option=1"],
                         ids=["bad-tls-option", "unknown-option"])
def test_a_url_redis_py_cannot_use_stops_the_cold_start_without_echoing_it(url: str) -> None:
    settings = parse_settings({"RATELIMIT_ENABLE": "on", "CELERY_BROKER_URL": url})
    with pytest.raises(SettingsError) as raised:
        RateLimiter.from_settings(settings)
    assert "CELERY_BROKER_URL" in str(raised.value)
    assert PASSWORD not in str(raised.value) and raised.value.__cause__ is None and raised.value.__suppress_context__


def test_from_settings_enables_only_with_rate_limiting_on(redis_url: str) -> None:
    assert not RateLimiter.from_settings(parse_settings({"CELERY_BROKER_URL": redis_url})).enabled
    enabled = RateLimiter.from_settings(parse_settings({"RATELIMIT_ENABLE": "on", "CELERY_BROKER_URL": redis_url}))
    assert enabled.enabled and enabled.is_limited("FROMSETS", "1/m", GOLDEN_NOW) is False


def test_the_redis_client_is_imported_only_when_rate_limiting_is_enabled() -> None:
    """Cold start with rate limiting off must not grow: it loads neither redis-py nor the rate-limiting modules."""
    script = ("import sys\n"
              "from scorer_lambda.handler import build_app\n"
              "loaded = lambda: [m in sys.modules for m in ('redis', 'scorer_lambda.rate_limiter')]\n"
              "app = build_app({'DATABASE_URL': 'postgresql://db/x'})\n"
              "print(*loaded(), app.ctx.rate_limiter is None)\n"
              "app = build_app({'DATABASE_URL': 'postgresql://db/x', 'RATELIMIT_ENABLE': 'on',"
              " 'CELERY_BROKER_URL': 'redis://127.0.0.1:1/0'})\n"
              "print(*loaded(), app.ctx.rate_limiter.enabled)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60,
                            cwd=ROOT)
    assert result.stdout.split() == ["False", "False", "True", "True", "True", "True"]


# --- several processes, one counter --------------------------------------------------------------------------------

WORKER = """
import sys, time
from datetime import UTC, datetime
from scorer_lambda.rate_limiter import RateLimiter
from scorer_lambda.redis_counters import RedisCounterStore
url, start_at, hits, now = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
limits = RateLimiter(RedisCounterStore(url), budget_seconds=5.0)
limits.is_limited("warmup", "1000000/d", datetime.now(UTC))  # connect before the start line
time.sleep(max(0.0, start_at - time.time()))
print(sum(not limits.is_limited("CONCURR1", "150/15m", datetime.fromtimestamp(now, UTC)) for _ in range(hits)))
"""


def test_processes_hitting_one_key_never_let_more_than_the_limit_through(redis_url: str) -> None:
    processes, hits, limit = 4, 100, Rate(150, 900).count
    for window_shift in (0, 900):  # this window, then the next one
        now = GOLDEN_NOW.timestamp() + window_shift
        start_at = time.time() + 3
        workers = [subprocess.Popen([sys.executable, "-c", WORKER, redis_url, str(start_at), str(hits), str(now)],
                                    cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                   for _ in range(processes)]
        allowed = []
        for worker in workers:
            out, err = worker.communicate(timeout=60)
            assert worker.returncode == 0, err
            allowed.append(int(out.strip()))
        assert sum(allowed) == limit, f"window +{window_shift}s: {allowed} allowed of {processes * hits}"
        assert sum(n > 0 for n in allowed) >= 2, f"the processes really overlapped: {allowed}"


# --- the skip/fail rule of the Redis fixtures ----------------------------------------------------------------------

def test_without_a_redis_binary_tests_skip_unless_redis_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCORER_REDIS_SERVER_BIN", "/nonexistent/redis-server")
    monkeypatch.delenv("SCORER_REQUIRE_REDIS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        require_redis_server()
    monkeypatch.setenv("SCORER_REQUIRE_REDIS", "1")
    with pytest.raises(pytest.fail.Exception, match="SCORER_REQUIRE_REDIS=1 requires it"):
        require_redis_server()
