"""The request line's EMF document built from a request's measurements (production contract P10), and its cost."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest

from scorer_lambda.logs import JsonFormatter
from scorer_lambda.metrics import RequestMeasures, ScoringMeasures, emf_fields
from scorer_lambda.settings import SettingsError, parse_settings

from ..emf import emf_problems

SCORED = RequestMeasures(route="E1", status=200, latency_ms=12.5, db_ms=3.25, db_round_trips=5, cold_start=True,
                         scoring=ScoringMeasures(stamps_checked=4, stamps_valid=3, dedup_clashes=1, link_retries=2,
                                                 passing=True))


def document(measures: RequestMeasures, namespace: str = "PassportScorer") -> dict[str, Any]:
    """The request line as CloudWatch reads it, through the Lambda's formatter."""
    record = logging.LogRecord("scorer_lambda.app", logging.INFO, __file__, 1, "request", None, None)
    record.__dict__.update({"route": measures.route, "status": measures.status,
                            **emf_fields(measures, namespace=namespace, timestamp_ms=1796300000123)})
    text = JsonFormatter().format(record)
    assert "\n" not in text, "one line"
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def test_a_scored_request_becomes_a_valid_emf_document_with_every_metric() -> None:
    line = document(SCORED)
    assert emf_problems(line) == []
    assert line["_aws"] == {"Timestamp": 1796300000123, "CloudWatchMetrics": [{
        "Namespace": "PassportScorer", "Dimensions": [["Route"], []],
        "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "DbTime", "Unit": "Milliseconds"},
                    {"Name": "DbRoundTrips", "Unit": "Count"}, {"Name": "ColdStart", "Unit": "Count"},
                    {"Name": "Errors5xx", "Unit": "Count"}, {"Name": "Errors4xx", "Unit": "Count"},
                    {"Name": "RateLimited", "Unit": "Count"}, {"Name": "StampsChecked", "Unit": "Count"},
                    {"Name": "StampsValid", "Unit": "Count"}, {"Name": "DedupClashes", "Unit": "Count"},
                    {"Name": "LinkRetries", "Unit": "Count"}, {"Name": "ScorePassing", "Unit": "Count"}]}]}
    assert {k: line[k] for k in ("Route", "Latency", "DbTime", "DbRoundTrips", "ColdStart", "Errors5xx",
                                 "Errors4xx", "RateLimited", "StampsChecked", "StampsValid", "DedupClashes",
                                 "LinkRetries", "ScorePassing")} == {
        "Route": "E1", "Latency": 12.5, "DbTime": 3.25, "DbRoundTrips": 5, "ColdStart": 1, "Errors5xx": 0,
        "Errors4xx": 0, "RateLimited": 0, "StampsChecked": 4, "StampsValid": 3, "DedupClashes": 1,
        "LinkRetries": 2, "ScorePassing": 1}
    assert line["service"] == "passport-v2-scorer" and line["status"] == 200, "the line's own fields stay"


@pytest.mark.parametrize(("status", "route", "flags"), [
    (500, "E2", {"Errors5xx": 1, "Errors4xx": 0, "RateLimited": 0}),
    (429, "E1", {"Errors5xx": 0, "Errors4xx": 1, "RateLimited": 1}),
    (400, "E3", {"Errors5xx": 0, "Errors4xx": 1, "RateLimited": 0}),
    (404, None, {"Errors5xx": 0, "Errors4xx": 1, "RateLimited": 0}),
])
def test_errors_are_flags_and_a_request_without_scoring_has_no_scoring_metrics(
        status: int, route: str | None, flags: dict[str, int]) -> None:
    line = document(RequestMeasures(route=route, status=status, latency_ms=1.0, db_ms=0.0, db_round_trips=0,
                                    cold_start=False, scoring=None), namespace="Custom/Scorer")
    assert emf_problems(line) == []
    assert line["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Custom/Scorer"
    assert {k: line[k] for k in flags} == flags and line["ColdStart"] == 0
    assert line["Route"] == (route or "unmatched"), "a dimension value is always a string"
    assert not {"StampsChecked", "StampsValid", "DedupClashes", "LinkRetries", "ScorePassing"} & set(line)


def test_the_checker_rejects_what_cloudwatch_rejects() -> None:
    good = document(SCORED)
    assert emf_problems({**good, "Route": None}) != [], "a dimension must be a string field"
    assert emf_problems({**good, "Latency": "12"}) != [], "a metric must be a number"
    assert emf_problems({**good, "_aws": {**good["_aws"], "Timestamp": 1.5}}) != []
    assert emf_problems({k: v for k, v in good.items() if k != "ScorePassing"}) != []


def test_the_namespace_comes_from_the_environment_and_an_unusable_one_stops_the_cold_start() -> None:
    assert parse_settings({}).metrics_namespace == "PassportScorer"
    assert parse_settings({"SCORER_METRICS_NAMESPACE": ""}).metrics_namespace == "PassportScorer"
    assert parse_settings({"SCORER_METRICS_NAMESPACE": "Passport/Scorer-2"}).metrics_namespace == "Passport/Scorer-2"
    for bad in ("AWS/Lambda", "x" * 256, "émoji"):
        with pytest.raises(SettingsError, match="SCORER_METRICS_NAMESPACE") as raised:
            parse_settings({"SCORER_METRICS_NAMESPACE": bad})
        assert bad not in str(raised.value) or bad == "AWS/Lambda"


def test_building_and_writing_the_metrics_costs_well_under_a_tenth_of_a_millisecond() -> None:
    """The cost the metrics add to the request line: the line with them against the line without (P10)."""
    formatter = JsonFormatter()
    base = {"route": "E1", "surface": "v2", "method": "GET", "status": 200, "duration_ms": 12.5}

    def line(with_metrics: bool) -> str:
        record = logging.LogRecord("scorer_lambda.app", logging.INFO, __file__, 1, "request", None, None)
        extra = dict(base)
        if with_metrics:
            measures = RequestMeasures(route="E1", status=200, latency_ms=12.5, db_ms=3.25, db_round_trips=5,
                                       cold_start=False, scoring=ScoringMeasures(4, 4, 0, 0, True))
            extra.update(emf_fields(measures, namespace="PassportScorer", timestamp_ms=int(time.time() * 1000)))
        record.__dict__.update(extra)
        return formatter.format(record)

    def per_line(with_metrics: bool, n: int = 2000) -> float:
        started = time.perf_counter()
        for _ in range(n):
            line(with_metrics)
        return (time.perf_counter() - started) / n

    added = min(per_line(True) - per_line(False) for _ in range(5))
    assert added < 0.0001, f"{added * 1e6:.1f} µs per request"
