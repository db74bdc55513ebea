"""Rollout health verdict: the scorer side of each ALB against the legacy side of the same endpoints (routing
contract §4.4, §5.4). Pure: metrics in, checks and a verdict out.

One scorer target group serves every shared endpoint of its ALB, and CloudWatch reports per target group, so the
comparison is per ALB: the scorer TG against the combined legacy TGs of that ALB's shared endpoints (with equal
weights on every rule, both sides see the same mix of endpoints). Checks, all on the window's totals:

| Check | Passes when |
|---|---|
| requests | scorer requests ≥ `minRequests`, else INSUFFICIENT DATA (no verdict on too little traffic) |
| 5xx vs legacy | scorer 5XX ratio ≤ legacy 5XX ratio + `max5xxRatioDelta` |
| Lambda errors vs legacy | scorer LambdaUserError ratio ≤ legacy ratio + `max5xxRatioDelta` (note 1) |
| 4xx vs legacy | scorer 4XX ratio ≤ legacy 4XX ratio + `max4xxRatioDelta` |
| p99 vs legacy | scorer p99 ≤ legacy p99 × `maxP99Ratio` + `p99ToleranceSeconds` |
| 5xx / 4xx / avg vs alarm | scorer value ≤ the scorer TG's `sustain` alarm threshold from the stack's `alarms` config |

Note 1: a function that raises or times out shows as an ELB 502/504 and as `LambdaUserError`, never as a target 5XX.

The "vs legacy" checks are skipped (reported as n/a) when legacy has fewer than `minRequests` requests (e.g. at
p = 100). Gating thresholds come from the optional `rolloutHealth` stack config object, defaults below.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Literal

from components.alarms import AlarmConfig

Verdict = Literal["PASS", "FAIL", "INSUFFICIENT DATA"]
HEALTHY: Verdict = "PASS"
UNHEALTHY: Verdict = "FAIL"
INSUFFICIENT: Verdict = "INSUFFICIENT DATA"
ROLLOUT_HEALTH_KEY = "rolloutHealth"

# (metric, statistic, TgMetrics field) fetched for every target group.
METRIC_STATS: tuple[tuple[str, str, str], ...] = (
    ("RequestCount", "Sum", "requests"),
    ("HTTPCode_Target_5XX_Count", "Sum", "target_5xx"),
    ("HTTPCode_Target_4XX_Count", "Sum", "target_4xx"),
    ("LambdaUserError", "Sum", "lambda_errors"),
    ("TargetResponseTime", "Average", "avg_latency"),
    ("TargetResponseTime", "p99", "p99_latency"),
)


@dataclass(frozen=True)
class HealthThresholds:
    """Gating thresholds (`rolloutHealth` config, camelCase keys in the stack file)."""

    min_requests: int = 100
    max_5xx_ratio_delta: float = 0.005
    max_4xx_ratio_delta: float = 0.02
    max_p99_ratio: float = 1.5
    p99_tolerance_seconds: float = 0.05


_CONFIG_NAMES = {"minRequests": "min_requests", "max5xxRatioDelta": "max_5xx_ratio_delta",
                 "max4xxRatioDelta": "max_4xx_ratio_delta", "maxP99Ratio": "max_p99_ratio",
                 "p99ToleranceSeconds": "p99_tolerance_seconds"}


def parse_health_thresholds(raw: str | None, stack: str) -> HealthThresholds:
    """Parse the optional `rolloutHealth` object (JSON text, as the stack file loader gives it); raise ValueError
    naming the key, the stack and the value."""
    if raw is None:
        return HealthThresholds()
    where = f"{ROLLOUT_HEALTH_KEY} for stack '{stack}'"
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if not isinstance(decoded, dict):
        raise ValueError(f"{where} must be an object, got {raw!r}")
    values: dict[str, float] = {}
    for key, value in decoded.items():
        if key not in _CONFIG_NAMES:
            raise ValueError(f"{where}: unknown key {key!r} (known: {', '.join(_CONFIG_NAMES)})")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{where}: {key} must be a number >= 0, got {value!r}")
        if key == "minRequests" and value != int(value):
            raise ValueError(f"{where}: minRequests must be an integer, got {value!r}")
        values[_CONFIG_NAMES[key]] = int(value) if key == "minRequests" else float(value)
    return HealthThresholds(**values)


@dataclass(frozen=True)
class TgMetrics:
    """One target group's (or one side's combined) totals over the window; latencies in seconds, None if no data."""

    requests: float = 0.0
    target_5xx: float = 0.0
    target_4xx: float = 0.0
    lambda_errors: float = 0.0
    avg_latency: float | None = None
    p99_latency: float | None = None

    def ratio(self, count: float) -> float | None:
        return count / self.requests if self.requests > 0 else None

    @property
    def ratio_5xx(self) -> float | None:
        return self.ratio(self.target_5xx)

    @property
    def ratio_4xx(self) -> float | None:
        return self.ratio(self.target_4xx)

    @property
    def ratio_lambda_errors(self) -> float | None:
        return self.ratio(self.lambda_errors)

    def as_dict(self) -> dict[str, float | None]:
        return {**asdict(self), "ratio_5xx": self.ratio_5xx, "ratio_4xx": self.ratio_4xx,
                "ratio_lambda_errors": self.ratio_lambda_errors}


def metrics_from_values(values: Mapping[str, Sequence[float]]) -> TgMetrics:
    """Build `TgMetrics` from CloudWatch values keyed by `TgMetrics` field (several periods: sums add up,
    averages are averaged, p99 takes the worst)."""
    out: dict[str, float | None] = {}
    for _metric, stat, name in METRIC_STATS:
        points = list(values.get(name, ()))
        if stat == "Sum":
            out[name] = float(sum(points))
        elif points:
            out[name] = max(points) if stat.startswith("p") else sum(points) / len(points)
        else:
            out[name] = None
    return TgMetrics(**out)


def combine(parts: Sequence[TgMetrics]) -> TgMetrics:
    """One side's totals: counts add up; latencies are request-weighted means of the parts (CloudWatch cannot
    merge percentiles across target groups, so the combined p99 is an approximation)."""
    total = sum(p.requests for p in parts)

    def weighted(name: str) -> float | None:
        pairs = [(p.requests, getattr(p, name)) for p in parts if getattr(p, name) is not None and p.requests > 0]
        weight = sum(w for w, _ in pairs)
        return sum(w * v for w, v in pairs) / weight if weight else None

    return TgMetrics(requests=total, target_5xx=sum(p.target_5xx for p in parts),
                     target_4xx=sum(p.target_4xx for p in parts), lambda_errors=sum(p.lambda_errors for p in parts),
                     avg_latency=weighted("avg_latency"), p99_latency=weighted("p99_latency"))


@dataclass(frozen=True)
class Check:
    """One comparison: the scorer's value, the limit it must not exceed (None: not evaluated) and the outcome."""

    name: str
    value: float | None
    limit: float | None
    outcome: Literal["ok", "FAIL", "n/a", "too few"]
    unit: Literal["count", "ratio", "seconds"]
    note: str = ""


@dataclass(frozen=True)
class AlbHealth:
    alb: str
    scorer_target_group: str
    legacy: Mapping[str, TgMetrics]  # route key → its legacy TG's metrics
    legacy_combined: TgMetrics
    scorer: TgMetrics
    checks: tuple[Check, ...]
    verdict: Verdict


def alarm_limits(alarms: AlarmConfig, scorer_tg: str) -> dict[str, float]:
    """The scorer TG's sustain alarm thresholds (§4.4): 5XX ratio, 4XX ratio, average response time."""
    thresholds = alarms.thresholds_for(scorer_tg)
    return {"ratio_5xx": thresholds[("target5xx", "sustain")].threshold,
            "ratio_4xx": thresholds[("target4xx", "sustain")].threshold,
            "avg_latency": thresholds[("responseTime", "sustain")].threshold}


def evaluate_alb(alb: str, scorer_tg: str, legacy: Mapping[str, TgMetrics], scorer: TgMetrics,
                 thresholds: HealthThresholds, limits: Mapping[str, float]) -> AlbHealth:
    """Judge one ALB's scorer side against its legacy side and the alarm limits (module docstring)."""
    legacy_all = combine(list(legacy.values()))
    checks = [Check("requests", scorer.requests, thresholds.min_requests,
                    "ok" if scorer.requests >= thresholds.min_requests else "too few", "count",
                    "" if scorer.requests >= thresholds.min_requests else "too little scorer traffic for a verdict")]
    has_legacy = legacy_all.requests >= thresholds.min_requests

    def versus_legacy(name: str, value: float | None, base: float | None, limit_of, unit) -> None:
        if not has_legacy or base is None:
            checks.append(Check(name, value, None, "n/a", unit, "legacy has too little traffic to compare"))
        else:
            limit = limit_of(base)
            checks.append(Check(name, value, limit, _outcome(value, limit), unit))

    versus_legacy("5xx ratio vs legacy", scorer.ratio_5xx, legacy_all.ratio_5xx,
                  lambda base: base + thresholds.max_5xx_ratio_delta, "ratio")
    versus_legacy("Lambda error ratio vs legacy", scorer.ratio_lambda_errors, legacy_all.ratio_lambda_errors,
                  lambda base: base + thresholds.max_5xx_ratio_delta, "ratio")
    versus_legacy("4xx ratio vs legacy", scorer.ratio_4xx, legacy_all.ratio_4xx,
                  lambda base: base + thresholds.max_4xx_ratio_delta, "ratio")
    versus_legacy("p99 latency vs legacy", scorer.p99_latency, legacy_all.p99_latency,
                  lambda base: base * thresholds.max_p99_ratio + thresholds.p99_tolerance_seconds, "seconds")
    for name, value, key, unit in (("5xx ratio vs alarm", scorer.ratio_5xx, "ratio_5xx", "ratio"),
                                   ("4xx ratio vs alarm", scorer.ratio_4xx, "ratio_4xx", "ratio"),
                                   ("avg latency vs alarm", scorer.avg_latency, "avg_latency", "seconds")):
        checks.append(Check(name, value, limits[key], _outcome(value, limits[key]), unit))

    if scorer.requests < thresholds.min_requests:
        verdict: Verdict = INSUFFICIENT
    elif any(c.outcome == "FAIL" for c in checks):
        verdict = UNHEALTHY
    else:
        verdict = HEALTHY
    return AlbHealth(alb, scorer_tg, dict(legacy), legacy_all, scorer, tuple(checks), verdict)


def overall_verdict(albs: Sequence[AlbHealth]) -> Verdict:
    """FAIL if any ALB fails; otherwise INSUFFICIENT DATA if any ALB lacks scorer traffic; otherwise PASS."""
    verdicts = {a.verdict for a in albs}
    if UNHEALTHY in verdicts:
        return UNHEALTHY
    return INSUFFICIENT if INSUFFICIENT in verdicts or not albs else HEALTHY


def _outcome(value: float | None, limit: float) -> Literal["ok", "FAIL", "n/a"]:
    if value is None:
        return "n/a"
    return "FAIL" if value > limit + 1e-12 else "ok"


def thresholds_dict(thresholds: HealthThresholds) -> dict[str, float]:
    """Thresholds under their stack-config names, for JSON output."""
    by_field = {v: k for k, v in _CONFIG_NAMES.items()}
    return {by_field[f.name]: getattr(thresholds, f.name) for f in fields(thresholds)}


# The scorer's own EMF metrics (production contract P10), dimension set `[]` (all routes), shown next to the ALB
# metrics for information only: they never change the verdict. (metric, statistic, field).
EMF_STATS: tuple[tuple[str, str, str], ...] = (
    ("StampsChecked", "Sum", "stamps_checked"),
    ("StampsValid", "Sum", "stamps_valid"),
    ("DedupClashes", "Sum", "dedup_clashes"),
    ("DbTime", "Average", "db_time_avg_ms"),
    ("DbTime", "p99", "db_time_p99_ms"),
)
DEFAULT_METRICS_NAMESPACE = "PassportScorer"


def scorer_emf_summary(values: Mapping[str, Sequence[float]], namespace: str) -> dict[str, object]:
    """Window totals of the EMF counts, the credential validation rate `StampsValid / StampsChecked` and DB time.

    `values` maps each EMF_STATS field to the values of a single whole-window period (empty: no data)."""
    def window_value(name: str) -> float | None:
        found = values.get(name) or []
        return float(found[0]) if found else None

    checked, valid = window_value("stamps_checked"), window_value("stamps_valid")
    return {"namespace": namespace, "stamps_checked": checked, "stamps_valid": valid,
            "validation_rate": (valid or 0.0) / checked if checked else None,
            "dedup_clashes": window_value("dedup_clashes"), "db_time_avg_ms": window_value("db_time_avg_ms"),
            "db_time_p99_ms": window_value("db_time_p99_ms"),
            "note": "scorer EMF metrics, for information: not part of the verdict"}
