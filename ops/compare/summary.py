"""Per-route summary of a comparison: requests, identical, different, errors on each side, latency p50/p95 of each
side (production contract P11.2). Pure."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ops.compare.engine import RequestResult
from ops.compare.routes import COMPARE_ROUTES


@dataclass(frozen=True)
class RouteSummary:
    route: str
    requests: int
    identical: int
    different: int
    legacy_errors: int
    scorer_errors: int
    legacy_p50_ms: float | None
    legacy_p95_ms: float | None
    scorer_p50_ms: float | None
    scorer_p95_ms: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (`q` in 0..100) of `values`; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


def summarise(results: Sequence[RequestResult]) -> list[RouteSummary]:
    """One row per route that was sent, in route order, plus a total row when more than one route was sent.

    Latencies count the calls that returned an answer (a reply or a function error), not calls that never reached
    the function, so an outage does not pass for speed."""
    by_route = {key: [r for r in results if r.request.route.key == key] for key in COMPARE_ROUTES}
    rows = [_row(key, group) for key, group in by_route.items() if group]
    if len(rows) > 1:
        rows.append(_row("all", list(results)))
    return rows


def _row(route: str, results: Sequence[RequestResult]) -> RouteSummary:
    legacy = [r.legacy.latency_ms for r in results if r.legacy.reply is not None]
    scorer = [r.scorer.latency_ms for r in results if r.scorer.reply is not None]
    return RouteSummary(
        route=route, requests=len(results),
        identical=sum(1 for r in results if r.verdict == "identical"),
        different=sum(1 for r in results if r.verdict == "different"),
        legacy_errors=sum(1 for r in results if r.legacy.error is not None),
        scorer_errors=sum(1 for r in results if r.scorer.error is not None),
        legacy_p50_ms=percentile(legacy, 50), legacy_p95_ms=percentile(legacy, 95),
        scorer_p50_ms=percentile(scorer, 50), scorer_p95_ms=percentile(scorer, 95))
