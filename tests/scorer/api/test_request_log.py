"""One structured JSON log line per request, with fixed keys and no credentials (style guide 2.12)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from bench.roundtrip_proxy import RoundTripProxy
from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.local.seed import insert_api_key, make_api_key
from scorer_lambda.logs import JsonFormatter, RequestContext

from ..emf import emf_problems
from ..harness import Scorer, bearer, hs256_token
from .conftest import MakeScorer
from .v2_support import NOW, Clock, call_e1, events, key_headers

C = 3

FIXED_KEYS = {"level", "location", "message", "timestamp", "service", "function_request_id", "cold_start",
              "xray_trace_id"}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_each_request_logs_one_json_line_without_secrets(scorer_w: Scorer, fixture_w: DemoSeed,
                                                          log_lines: io.StringIO) -> None:
    token = hs256_token(fixture_w.address_a)
    scorer_w.call("GET", f"/v2/stamps/{fixture_w.community_id}/score/{fixture_w.address_a}",
                  headers={"x-api-key": fixture_w.api_key, "x-amzn-trace-id": "Root=1-abc"})
    scorer_w.call("POST", "/ceramic-cache/stamps/bulk", headers=bearer(token), body=[])
    scorer_w.call("GET", "/nowhere")
    text = log_lines.getvalue()
    assert fixture_w.api_key not in text and fixture_w.api_key.split(".")[1] not in text, "no API key in logs"
    assert token not in text, "no JWT in logs"
    assert scorer_w.settings.database_url not in text, "no database URL in logs"
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line["message"] == "request"]
    assert [(r["route"], r["surface"], r["status"]) for r in requests] == [
        ("E1", "v2", 200), ("E2", "ceramic", 201), (None, None, 404)]
    for line in requests:
        assert set(line) >= FIXED_KEYS, line
        assert isinstance(line["duration_ms"], float) and line["service"] == "passport-v2-scorer"
    assert requests[0]["xray_trace_id"] == "Root=1-abc"


# --- The request line as a CloudWatch Embedded Metric Format document (production contract P10) ---

METRICS = {"Latency", "DbTime", "DbRoundTrips", "ColdStart", "Errors5xx", "Errors4xx", "RateLimited"}
SCORING_METRICS = {"StampsChecked", "StampsValid", "DedupClashes", "LinkRetries", "ScorePassing"}


def request_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """The request lines written so far (the stream is emptied), each checked as an EMF document."""
    text = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    lines = [json.loads(line) for line in text.splitlines()]
    found = [line for line in lines if line["message"] == "request"]
    assert [line for line in lines if "_aws" in line] == found, "the request line is the only EMF document"
    for line in found:
        assert emf_problems(line) == [], line
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "PassportScorer"
        assert directive["Dimensions"] == [["Route"], []]
        names = {metric["Name"] for metric in directive["Metrics"]}
        assert names in (METRICS, METRICS | SCORING_METRICS), names
        assert {metric["Unit"] for metric in directive["Metrics"] if metric["Name"] in ("Latency", "DbTime")} \
            == {"Milliseconds"}
        assert abs(line["_aws"]["Timestamp"] - time.time() * 1000) < 60_000
        assert line["Latency"] == line["duration_ms"] and line["Latency"] >= line["DbTime"] >= 0
    return found


def metrics_of(line: dict[str, Any]) -> dict[str, Any]:
    names = [metric["Name"] for metric in line["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return {name: line[name] for name in names if name not in ("Latency", "DbTime")}


def test_a_scored_request_writes_one_emf_line_with_its_stamps_clashes_passing_and_round_trips(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], log_lines: io.StringIO) -> None:
    first = call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    (line,) = request_lines(log_lines)
    assert first.status == 200 and first.body["passing_score"] is True
    # A: Google, Ens and Discord, all valid (§7.8); nobody holds their nullifiers yet.
    # Round trips: connect, key + rows, phase B reads, the writes, COMMIT with the analytics row.
    assert metrics_of(line) == {"DbRoundTrips": 5, "ColdStart": 0, "Errors5xx": 0, "Errors4xx": 0,
                                "RateLimited": 0, "StampsChecked": 3, "StampsValid": 3, "DedupClashes": 0,
                                "LinkRetries": 0, "ScorePassing": 1}, line
    assert line["Route"] == "E1" and line["DbTime"] > 0

    second = call_e1(e1, C, w_pinned.address_b, headers=key_headers(w_pinned))
    (line,) = request_lines(log_lines)
    # B: Discord clashes with A's (one LDP event written); Github alone passes.
    assert len(events(db, "LDP", w_pinned.address_b)) == 1
    assert second.status == 200 and second.body["passing_score"] is True
    assert (line["StampsChecked"], line["StampsValid"], line["DedupClashes"], line["ScorePassing"]) == (2, 2, 1, 1)
    dimension_values = [line[name] for dimension_set in line["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
                        for name in dimension_set]
    assert dimension_values == ["E1"], "Route is the only dimension: no address, key or token"


def test_db_round_trips_equal_the_round_trips_on_the_wire(w_pinned: DemoSeed, db_url: str,
                                                           log_lines: io.StringIO) -> None:
    proxy = RoundTripProxy(parse_qs(urlsplit(db_url).query)["host"][0])
    scorer = Scorer(proxy.url(urlsplit(db_url).path.lstrip("/")),
                    {"TRUSTED_IAM_ISSUERS": json.dumps(list(w_pinned.trusted_issuers)), "FF_API_ANALYTICS": "on"},
                    clock=Clock(NOW))
    try:
        counted = []
        for address in (w_pinned.address_a, w_pinned.address_b, w_pinned.address_a, "0x" + "c" * 40):
            before = proxy.round_trips
            reply = call_e1(scorer, C, address, headers=key_headers(w_pinned))
            assert reply.status == 200
            (line,) = request_lines(log_lines)
            counted.append((proxy.round_trips - before, line["DbRoundTrips"]))
            last = line
        assert [wire for wire, _ in counted] == [metric for _, metric in counted], counted
        assert counted[0][0] == 5, "the first request opens the connection (its startup is one wait) and scores"
        assert (last["StampsChecked"], last["StampsValid"], last["ScorePassing"]) == (0, 0, 0), "no stamps: fails"
    finally:
        scorer.close()
        proxy.close()


def test_untrusted_stamps_are_checked_but_not_valid_and_the_score_does_not_pass(
        w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock, log_lines: io.StringIO) -> None:
    scorer = make_scorer(trusted=(), clock=clock)  # no trusted issuer: every stamp of A fails validation
    reply = call_e1(scorer, C, w_pinned.address_a, headers=key_headers(w_pinned))
    (line,) = request_lines(log_lines)
    assert reply.status == 200 and reply.body["passing_score"] is False
    assert (line["StampsChecked"], line["StampsValid"], line["DedupClashes"], line["ScorePassing"]) == (3, 0, 0, 0)


def test_a_4xx_and_an_unmatched_route_count_as_client_errors_without_scoring_metrics(
        scorer_w: Scorer, fixture_w: DemoSeed, log_lines: io.StringIO) -> None:
    scorer_w.call("GET", f"/v2/stamps/{fixture_w.community_id}/score/{fixture_w.address_a}",
                  headers={"x-api-key": "nope.nope"})
    scorer_w.call("GET", "/nowhere")
    unauthorised, unmatched = request_lines(log_lines)
    assert (unauthorised["status"], unauthorised["Route"]) == (401, "E1")
    assert {k: v for k, v in metrics_of(unauthorised).items() if k != "DbRoundTrips"} == {
        "ColdStart": 0, "Errors5xx": 0, "Errors4xx": 1, "RateLimited": 0}
    assert unauthorised["DbRoundTrips"] >= 1
    assert (unmatched["status"], unmatched["Route"]) == (404, "unmatched")
    assert metrics_of(unmatched) == {"DbRoundTrips": 0, "ColdStart": 0, "Errors5xx": 0, "Errors4xx": 1,
                                     "RateLimited": 0}
    assert unmatched["DbTime"] == 0


def test_a_5xx_counts_as_a_server_error_and_leaks_nothing_into_the_next_request(
        e1: Scorer, w_pinned: DemoSeed, db: psycopg.Connection[Any], log_lines: io.StringIO) -> None:
    db.execute("ALTER TABLE registry_event ADD CONSTRAINT no_scu CHECK (action <> 'SCU')")
    failed = call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    e1.call("GET", "/nowhere")
    line, after = request_lines(log_lines)
    assert failed.status == 500
    assert (line["level"], line["error_class"], line["sqlstate"]) == ("ERROR", "CheckViolation", "23514")
    assert (line["Errors5xx"], line["Errors4xx"], line["RateLimited"], line["StampsChecked"]) == (1, 0, 0, 3)
    assert line["DbRoundTrips"] >= 3
    assert metrics_of(after) == {"DbRoundTrips": 0, "ColdStart": 0, "Errors5xx": 0, "Errors4xx": 1,
                                 "RateLimited": 0}, "nothing of the failed request carried over"


def test_the_first_request_of_a_process_is_a_cold_start(e1: Scorer, w_pinned: DemoSeed,
                                                         log_lines: io.StringIO,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(RequestContext, "cold_start", True)
    call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    call_e1(e1, C, w_pinned.address_a, headers=key_headers(w_pinned))
    first, second = request_lines(log_lines)
    assert (first["ColdStart"], first["cold_start"], second["ColdStart"], second["cold_start"]) == (1, True, 0, False)


def test_a_rate_limited_request_counts_as_rate_limited(w_pinned: DemoSeed, make_scorer: MakeScorer, clock: Clock,
                                                       redis_url: str, db: psycopg.Connection[Any],
                                                       log_lines: io.StringIO) -> None:
    scorer = make_scorer(trusted=w_pinned.trusted_issuers, clock=clock, RATELIMIT_ENABLE="on",
                         CELERY_BROKER_URL=redis_url, SCORER_METRICS_NAMESPACE="Custom/Scorer")
    key = make_api_key("one")
    insert_api_key(db, key=key, account_id=w_pinned.account_id, rate_limit="1/m", pbkdf2_iterations=1000)
    statuses = [call_e1(scorer, C, w_pinned.address_a, headers={"x-api-key": key}).status for _ in range(2)]
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    allowed, limited = [line for line in lines if line["message"] == "request"]
    assert statuses == [200, 429]
    assert emf_problems(limited) == [] and limited["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Custom/Scorer"
    assert (allowed["RateLimited"], limited["RateLimited"], limited["Errors4xx"], limited["Errors5xx"]) == (0, 1, 1, 0)
    assert "ScorePassing" not in limited and allowed["ScorePassing"] == 1
    assert redis_url not in log_lines.getvalue() and key not in log_lines.getvalue()


def test_the_request_line_is_written_whatever_log_level_says(scorer_w: Scorer, log_lines: io.StringIO) -> None:
    logging.getLogger().setLevel(logging.WARNING)  # LOG_LEVEL=WARNING; the fixture restores the level
    scorer_w.call("GET", "/nowhere")
    (line,) = request_lines(log_lines)
    assert line["Errors4xx"] == 1
