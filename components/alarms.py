"""Alarm definitions and threshold defaults for every target group (routing contract §4.4).

Pure data and parsing: which six alarms each target group gets, their AWS names and their thresholds after merging
the code defaults, the default per-TG overrides and the `alarms` stack config object. `LambdaService` turns the
definitions into `aws.cloudwatch.MetricAlarm` resources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

KINDS = ("target5xx", "target4xx", "responseTime")
VARIANTS = ("burst", "sustain")
AlarmKey = tuple[str, str]  # (kind, variant)

# Config field name (camelCase, as in the stack file) → Threshold attribute.
_FIELDS = {"threshold": "threshold", "datapoints": "datapoints", "evaluationPeriods": "evaluation_periods",
           "period": "period"}
MAX_EVALUATION_SECONDS = 86_400  # CloudWatch: evaluation_periods × period ≤ one day


@dataclass(frozen=True)
class Threshold:
    """When one alarm fires: `datapoints` breaching periods out of the last `evaluation_periods` periods."""

    threshold: float
    datapoints: int
    evaluation_periods: int
    period: int


DEFAULT_THRESHOLDS: Mapping[AlarmKey, Threshold] = MappingProxyType({
    ("target5xx", "burst"): Threshold(0.2, 3, 5, 60),
    ("target5xx", "sustain"): Threshold(0.01, 3, 4, 600),
    ("target4xx", "burst"): Threshold(0.85, 4, 5, 60),
    ("target4xx", "sustain"): Threshold(0.5, 3, 4, 600),
    ("responseTime", "burst"): Threshold(20, 3, 5, 60),
    ("responseTime", "sustain"): Threshold(2, 30, 40, 60),
})

DEFAULT_OVERRIDES: Mapping[str, Mapping[AlarmKey, Mapping[str, float]]] = MappingProxyType({
    "l-passport-v2-stamp-score": {("responseTime", "burst"): {"datapoints": 7, "evaluation_periods": 10},
                                  ("responseTime", "sustain"): {"threshold": 4}},
    "l-passport-v2-model-score": {("responseTime", "burst"): {"datapoints": 7, "evaluation_periods": 10}},
    "l-cc-v1-st-bulk-PATCH-0": {("responseTime", "burst"): {"datapoints": 10, "evaluation_periods": 15}},
    "l-cc-v1-st-bulk-DELETE-0": {("responseTime", "burst"): {"datapoints": 7, "evaluation_periods": 10}},
})


@dataclass(frozen=True)
class AlarmConfig:
    """Thresholds after merging config onto the defaults; `overrides` holds partial per-TG field values."""

    defaults: Mapping[AlarmKey, Threshold]
    overrides: Mapping[str, Mapping[AlarmKey, Mapping[str, float]]]

    def thresholds_for(self, tg_name: str) -> dict[AlarmKey, Threshold]:
        """Return the six resolved thresholds of one target group."""
        per_tg = self.overrides.get(tg_name, {})
        return {key: replace(base, **per_tg.get(key, {})) for key, base in self.defaults.items()}


DEFAULT_ALARM_CONFIG = AlarmConfig(defaults=DEFAULT_THRESHOLDS, overrides=DEFAULT_OVERRIDES)


@dataclass(frozen=True)
class AlarmDefinition:
    """One CloudWatch alarm of a target group, without the dimensions (those are Outputs, added by the component).

    Ratio alarms (`error_metric` set) are metric math `e1 = FILL(m2, 0) / m1` over `m1 = RequestCount` and
    `m2 = error_metric`; the response-time alarm is the plain metric `metric_name`.
    """

    suffix: str  # logical-name suffix, e.g. "5xx-burst"
    name: str  # AWS alarm name, e.g. "HTTP-Target-5XX-l-passport-v2-scorer-burst"
    kind: str
    variant: str
    threshold: Threshold
    statistic: str
    metric_name: str | None = None
    error_metric: str | None = None

    @property
    def is_ratio(self) -> bool:
        return self.error_metric is not None


def alarm_definitions(tg_name: str, config: AlarmConfig = DEFAULT_ALARM_CONFIG) -> list[AlarmDefinition]:
    """Return the six alarms of one target group (§4.4), in a fixed order."""
    thresholds = config.thresholds_for(tg_name)
    out: list[AlarmDefinition] = []
    for variant in VARIANTS:
        out.append(AlarmDefinition(f"5xx-{variant}", f"HTTP-Target-5XX-{tg_name}-{variant}", "target5xx", variant,
                                   thresholds[("target5xx", variant)], "Sum",
                                   error_metric="HTTPCode_Target_5XX_Count"))
        out.append(AlarmDefinition(f"4xx-{variant}", f"HTTP-Target-4XX-{tg_name}-{variant}", "target4xx", variant,
                                   thresholds[("target4xx", variant)], "Sum",
                                   error_metric="HTTPCode_Target_4XX_Count"))
        out.append(AlarmDefinition(f"latency-{variant}", f"TargetResponseTime-{tg_name}-{variant}", "responseTime",
                                   variant, thresholds[("responseTime", variant)], "Average",
                                   metric_name="TargetResponseTime"))
    return out


def threshold_problems(value: Threshold, where: str) -> list[str]:
    """Return the CloudWatch-limit violations of one threshold (empty when valid)."""
    problems = []
    if value.threshold < 0:
        problems.append(f"{where}: threshold must be >= 0, got {value.threshold}")
    if value.datapoints < 1 or value.evaluation_periods < 1:
        problems.append(f"{where}: datapoints and evaluationPeriods must be >= 1")
    if value.datapoints > value.evaluation_periods:
        problems.append(f"{where}: datapoints ({value.datapoints}) must not exceed evaluationPeriods "
                        f"({value.evaluation_periods})")
    if value.period < 60 or value.period % 60:
        problems.append(f"{where}: period must be a positive multiple of 60 seconds, got {value.period}")
    if value.evaluation_periods * value.period > MAX_EVALUATION_SECONDS:
        problems.append(f"{where}: evaluationPeriods × period = {value.evaluation_periods * value.period} s exceeds "
                        f"CloudWatch's {MAX_EVALUATION_SECONDS} s")
    return problems


def parse_alarm_config(raw: Any, tg_names: Iterable[str]) -> tuple[AlarmConfig, list[str]]:
    """Merge the `alarms` config object onto the defaults and validate every TG's thresholds (§4.4, §8.1).

    `raw` is the decoded JSON object (or `None`): `{"defaults": {kind: {variant: {field: n}}},
    "overrides": {tg_name: {kind: {variant: {field: n}}}}}`. Returns the config and a list of problems; the caller
    decides how to report them.
    """
    problems: list[str] = []
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        return DEFAULT_ALARM_CONFIG, [f"alarms must be an object, got {raw!r}"]
    tg_names = tuple(tg_names)
    for extra in sorted(set(raw) - {"defaults", "overrides"}):
        problems.append(f"alarms.{extra}: unknown key (expected 'defaults' or 'overrides')")

    default_fields = _parse_kinds(raw.get("defaults", {}), "alarms.defaults", problems)
    defaults = {key: replace(base, **default_fields.get(key, {})) for key, base in DEFAULT_THRESHOLDS.items()}

    overrides = {tg: dict(per) for tg, per in DEFAULT_OVERRIDES.items()}
    raw_overrides = raw.get("overrides", {})
    if not isinstance(raw_overrides, dict):
        problems.append("alarms.overrides must be an object keyed by target group name")
        raw_overrides = {}
    for tg_name, per_tg in raw_overrides.items():
        if tg_name not in tg_names:
            problems.append(f"alarms.overrides.{tg_name}: not a target group of this program")
            continue
        merged = overrides.setdefault(tg_name, {})
        for key, fields in _parse_kinds(per_tg, f"alarms.overrides.{tg_name}", problems).items():
            merged[key] = {**merged.get(key, {}), **fields}

    config = AlarmConfig(defaults=MappingProxyType(defaults), overrides=MappingProxyType(overrides))
    for tg_name in tg_names:
        for (kind, variant), value in config.thresholds_for(tg_name).items():
            problems.extend(threshold_problems(value, f"alarms for {tg_name} {kind}.{variant}"))
    return config, problems


def _parse_kinds(raw: Any, where: str, problems: list[str]) -> dict[AlarmKey, dict[str, float]]:
    """Parse `{kind: {variant: {field: number}}}` into partial Threshold field values."""
    out: dict[AlarmKey, dict[str, float]] = {}
    if not isinstance(raw, dict):
        problems.append(f"{where} must be an object keyed by alarm kind {KINDS}")
        return out
    for kind, variants in raw.items():
        if kind not in KINDS or not isinstance(variants, dict):
            problems.append(f"{where}.{kind}: unknown alarm kind or not an object (kinds: {', '.join(KINDS)})")
            continue
        for variant, fields in variants.items():
            if variant not in VARIANTS or not isinstance(fields, dict):
                problems.append(f"{where}.{kind}.{variant}: unknown variant or not an object (burst, sustain)")
                continue
            out[(kind, variant)] = _parse_fields(fields, f"{where}.{kind}.{variant}", problems)
    return out


def _parse_fields(raw: dict[str, Any], where: str, problems: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in raw.items():
        if name not in _FIELDS:
            problems.append(f"{where}.{name}: unknown field (fields: {', '.join(_FIELDS)})")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(f"{where}.{name} must be a number, got {value!r}")
        elif name != "threshold" and value != int(value):
            problems.append(f"{where}.{name} must be an integer, got {value!r}")
        else:
            out[_FIELDS[name]] = value if name == "threshold" else int(value)
    return out


# Alarms of the target groups' scorer side that trigger the automatic rollback (P11.6): the sustained ones, so a
# short burst pages a human but does not pull the scorer out of production.
ROLLBACK_TRIGGER_KEYS: frozenset[AlarmKey] = frozenset({("target5xx", "sustain"), ("responseTime", "sustain")})
# p99 Duration alarms at this share of the function's timeout: requests are about to time out.
DURATION_TIMEOUT_SHARE = 0.8


@dataclass(frozen=True)
class FunctionAlarmDefinition:
    """One CloudWatch alarm on a Lambda function's own metrics (`AWS/Lambda`, dimension `FunctionName`), P11.5.

    `statistic` is a plain statistic (`Sum`) or a percentile (`p99`, an extended statistic in CloudWatch's API).
    """

    suffix: str
    name: str
    metric_name: str
    statistic: str
    threshold: Threshold
    triggers_rollback: bool = False

    @property
    def is_percentile(self) -> bool:
        return self.statistic.startswith("p")


def function_alarm_definitions(function_name: str, timeout_s: int) -> list[FunctionAlarmDefinition]:
    """The scorer function's alarms: `Errors` (unhandled errors, sustained: it triggers the rollback), `Throttles`
    (the reserved concurrency or the account pool is exhausted) and p99 `Duration` above 80 % of the timeout."""
    duration_ms = round(timeout_s * 1000 * DURATION_TIMEOUT_SHARE, 1)
    return [
        FunctionAlarmDefinition("errors", f"Lambda-Errors-{function_name}", "Errors", "Sum",
                                Threshold(5, 3, 5, 60), triggers_rollback=True),
        FunctionAlarmDefinition("throttles", f"Lambda-Throttles-{function_name}", "Throttles", "Sum",
                                Threshold(0, 3, 5, 60)),
        FunctionAlarmDefinition("duration-p99", f"Lambda-Duration-p99-{function_name}", "Duration", "p99",
                                Threshold(duration_ms, 3, 5, 60)),
    ]
