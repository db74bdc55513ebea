"""Per-request measurements and the CloudWatch Embedded Metric Format document of the request line (production
contract P10).

The request's log line *is* the metric document: CloudWatch Logs extracts the metrics from the ``_aws`` block, so
publishing them costs no API call, no extra round trip and no library (the format is written directly: see the
README for the import and per-request cost measured against aws-embedded-metrics and Powertools Metrics).

Only ``Route`` (a route key such as ``E1``, or ``unmatched``) is a dimension: never an address, a key or a token.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from .logs import EMF_KEY, RawJson

UNMATCHED_ROUTE = "unmatched"
MILLISECONDS = "Milliseconds"
COUNT = "Count"
# Dimension sets: per route, and one aggregate over all routes.
DIMENSIONS: list[list[str]] = [["Route"], []]


# Plain classes with slots, not dataclasses: building a slotted dataclass costs about a millisecond of cold start
# each, and these hold a few numbers.
class DbMeter:
    """Database cost of the current request, updated by the connection (``MeteredConnection``) at no round trip.

    ``seconds``: time spent in the driver sending to and waiting on PostgreSQL (and opening a connection);
    ``round_trips``: waits for the server, counted like ReadyForQuery messages on the wire (a non-pipelined
    statement, a pipeline sync or exit, a connection opened) plus pipeline flushes that wait for results.
    """

    __slots__ = ("round_trips", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.round_trips = 0

    def reset(self) -> None:
        self.seconds = 0.0
        self.round_trips = 0


class ScoringMeasures:
    """What a scoring run saw: set by the pipeline, read once by the request line."""

    __slots__ = ("dedup_clashes", "link_retries", "passing", "stamps_checked", "stamps_valid")

    def __init__(self, stamps_checked: int = 0, stamps_valid: int = 0, dedup_clashes: int = 0,
                 link_retries: int = 0, passing: bool = False) -> None:
        self.stamps_checked = stamps_checked
        self.stamps_valid = stamps_valid
        self.dedup_clashes = dedup_clashes  # LDP events written
        self.link_retries = link_retries  # dedup attempts that lost a race and were retried
        self.passing = passing


class RequestMeasures:
    """Everything the request line reports, gathered at the end of a request."""

    __slots__ = ("cold_start", "db_ms", "db_round_trips", "latency_ms", "route", "scoring", "status")

    def __init__(self, *, route: str | None, status: int, latency_ms: float, db_ms: float, db_round_trips: int,
                 cold_start: bool, scoring: ScoringMeasures | None) -> None:
        self.route = route
        self.status = status
        self.latency_ms = latency_ms
        self.db_ms = db_ms
        self.db_round_trips = db_round_trips
        self.cold_start = cold_start
        self.scoring = scoring  # None: no scoring run in this request


# Scoring metrics only when a scoring run happened, so that their averages are per run; the error, rate-limit and
# cold-start flags are 1/0 on every request, so that their averages are rates.
_METRICS = (("Latency", MILLISECONDS), ("DbTime", MILLISECONDS), ("DbRoundTrips", COUNT), ("ColdStart", COUNT),
            ("Errors5xx", COUNT), ("Errors4xx", COUNT), ("RateLimited", COUNT))
_SCORING_METRICS = (("StampsChecked", COUNT), ("StampsValid", COUNT), ("DedupClashes", COUNT),
                    ("LinkRetries", COUNT), ("ScorePassing", COUNT))


def metric_values(m: RequestMeasures) -> dict[str, float | int]:
    """Metric name → value, in the order of the ``_aws`` block."""
    values: dict[str, float | int] = {
        "Latency": m.latency_ms, "DbTime": m.db_ms, "DbRoundTrips": m.db_round_trips, "ColdStart": int(m.cold_start),
        "Errors5xx": int(m.status >= 500), "Errors4xx": int(400 <= m.status < 500),
        "RateLimited": int(m.status == 429),
    }
    if m.scoring is not None:
        s = m.scoring
        values.update(StampsChecked=s.stamps_checked, StampsValid=s.stamps_valid, DedupClashes=s.dedup_clashes,
                      LinkRetries=s.link_retries, ScorePassing=int(s.passing))
    return values


@lru_cache(maxsize=4)
def _directives(namespace: str, scoring: bool) -> str:
    """The ``CloudWatchMetrics`` member, the same for every request of a kind: encoded once per process."""
    metrics = _METRICS + _SCORING_METRICS if scoring else _METRICS
    directive = {"Namespace": namespace, "Dimensions": DIMENSIONS,
                 "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics]}
    return '"CloudWatchMetrics":' + json.dumps([directive], separators=(",", ":"))


def emf_fields(m: RequestMeasures, *, namespace: str, timestamp_ms: int) -> dict[str, Any]:
    """The EMF part of the request line: the ``_aws`` block (pre-encoded JSON, spliced in by the formatter), the
    ``Route`` dimension and one top-level number per metric; the line's other fields stay as they are."""
    aws = RawJson(f'{{"Timestamp":{timestamp_ms:d},{_directives(namespace, m.scoring is not None)}}}')
    return {EMF_KEY: aws, "Route": m.route or UNMATCHED_ROUTE, **metric_values(m)}
