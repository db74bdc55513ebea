"""The stack's CloudWatch dashboard (production contract P11.5), built as plain JSON from the routing plan.

Per ALB, legacy against scorer: requests, target 5XX and 4XX ratios, p50/p99 target response time (per target
group: percentiles of different target groups cannot be combined). Then the scorer's own EMF metrics (P10) and its
function's `AWS/Lambda` metrics. The target groups and the `LoadBalancer` dimension of each widget come from the same
plan the weighted rules are built from, so a widget can only name a target group behind the ALB it shows.
Pure: ARN suffixes are passed in resolved; `__main__` applies it to the Outputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from components.routing import ALB_KEYS, PlannedRule

ALB_NAMESPACE = "AWS/ApplicationELB"
LAMBDA_NAMESPACE = "AWS/Lambda"
DEFAULT_METRICS_NAMESPACE = "PassportScorer"  # the scorer's default for SCORER_METRICS_NAMESPACE (P10)
METRICS_NAMESPACE_ENV = "SCORER_METRICS_NAMESPACE"
PERIOD = 60
WIDTH, HEIGHT = 8, 6

Metric = list[Any]


def dashboard_name(stack: str) -> str:
    return f"passport-scorer-{stack}"


def alb_sides(plan: Sequence[PlannedRule], alb: str) -> tuple[list[tuple[str, str]], str | None]:
    """`([(route key, legacy TG)], scorer TG)` of one ALB's weighted rules, in plan order; scorer None if none."""
    weighted = [r for r in plan if r.alb == alb and r.is_weighted]
    legacy = [(r.key, r.targets[0].target_group) for r in weighted]
    return legacy, (weighted[0].targets[1].target_group if weighted else None)


def _tg_metric(metric: str, load_balancer: str, tg_suffix: str, options: Mapping[str, Any]) -> Metric:
    return [ALB_NAMESPACE, metric, "LoadBalancer", load_balancer, "TargetGroup", tg_suffix, dict(options)]


def _widget(title: str, metrics: list[Metric], region: str, *, stat: str = "Sum", y_label: str | None = None,
            width: int = WIDTH) -> dict[str, Any]:
    properties: dict[str, Any] = {"title": title, "view": "timeSeries", "region": region, "period": PERIOD,
                                  "stat": stat, "metrics": metrics}
    if y_label:
        properties["yAxis"] = {"left": {"label": y_label, "showUnits": False}}
    return {"type": "metric", "width": width, "height": HEIGHT, "properties": properties}


def _sum_ratio_widget(title: str, error_metric: str | None, legacy: Sequence[tuple[str, str]], scorer_tg: str,
                      load_balancer: str, tg_suffixes: Mapping[str, str], region: str) -> dict[str, Any]:
    """Legacy (all the ALB's shared-route TGs summed) against scorer: a count, or `errors / requests`."""
    metrics: list[Metric] = []
    sides = {"legacy": [tg for _, tg in legacy], "scorer": [scorer_tg]}
    for side, tgs in sides.items():
        req_ids, err_ids = [], []
        for i, tg in enumerate(tgs):
            req_ids.append(f"{side[0]}r{i}")
            metrics.append(_tg_metric("RequestCount", load_balancer, tg_suffixes[tg],
                                      {"id": req_ids[-1], "stat": "Sum", "visible": False}))
            if error_metric:
                err_ids.append(f"{side[0]}e{i}")
                metrics.append(_tg_metric(error_metric, load_balancer, tg_suffixes[tg],
                                          {"id": err_ids[-1], "stat": "Sum", "visible": False}))
        requests = f"SUM([{','.join(req_ids)}])"
        expression = f"FILL(SUM([{','.join(err_ids)}]), 0) / {requests}" if error_metric else requests
        metrics.append([{"expression": expression, "label": side, "id": side}])
    return _widget(title, metrics, region, y_label="ratio" if error_metric else "requests")


def _latency_widget(stat: str, legacy: Sequence[tuple[str, str]], scorer_tg: str, load_balancer: str,
                    tg_suffixes: Mapping[str, str], region: str) -> dict[str, Any]:
    metrics = [_tg_metric("TargetResponseTime", load_balancer, tg_suffixes[tg], {"label": f"legacy {key}"})
               for key, tg in legacy]
    metrics.append(_tg_metric("TargetResponseTime", load_balancer, tg_suffixes[scorer_tg], {"label": "scorer"}))
    return _widget(f"Target response time {stat}", metrics, region, stat=stat, y_label="seconds")


def alb_widgets(alb: str, plan: Sequence[PlannedRule], load_balancer: str, tg_suffixes: Mapping[str, str],
                region: str) -> list[dict[str, Any]]:
    """The five widgets of one ALB, preceded by a title."""
    legacy, scorer_tg = alb_sides(plan, alb)
    if scorer_tg is None:
        return []
    title = {"type": "text", "width": 24, "height": 1,
             "properties": {"markdown": f"## {alb} ALB `{load_balancer}`: legacy against scorer "
                                        f"(`{scorer_tg}`)"}}
    return [title,
            _sum_ratio_widget(f"{alb}: requests", None, legacy, scorer_tg, load_balancer, tg_suffixes, region),
            _sum_ratio_widget(f"{alb}: target 5XX ratio", "HTTPCode_Target_5XX_Count", legacy, scorer_tg,
                              load_balancer, tg_suffixes, region),
            _sum_ratio_widget(f"{alb}: target 4XX ratio", "HTTPCode_Target_4XX_Count", legacy, scorer_tg,
                              load_balancer, tg_suffixes, region),
            {**_latency_widget("p50", legacy, scorer_tg, load_balancer, tg_suffixes, region), "width": 12},
            {**_latency_widget("p99", legacy, scorer_tg, load_balancer, tg_suffixes, region), "width": 12}]


def scorer_widgets(namespace: str, function_name: str, region: str) -> list[dict[str, Any]]:
    """The scorer's EMF metrics (dimension set `[]`: all routes together) and its function's metrics."""
    def emf(metric: str, **options: Any) -> Metric:
        return [namespace, metric, options] if options else [namespace, metric]

    def fn(metric: str, **options: Any) -> Metric:
        return [LAMBDA_NAMESPACE, metric, "FunctionName", function_name, options]

    title = {"type": "text", "width": 24, "height": 1,
             "properties": {"markdown": f"## Scorer metrics (`{namespace}`, all routes) and function "
                                        f"`{function_name}`"}}
    return [
        title,
        _widget("Scorer latency and DB time (ms)", [
            emf("Latency", stat="p50", label="Latency p50"), emf("Latency", stat="p99", label="Latency p99"),
            emf("DbTime", stat="p50", label="DbTime p50"), emf("DbTime", stat="p99", label="DbTime p99")],
            region, stat="p50", y_label="ms"),
        _widget("Credential validation rate", [
            emf("StampsValid", id="valid", visible=False), emf("StampsChecked", id="checked", visible=False),
            [{"expression": "valid / checked", "label": "StampsValid / StampsChecked", "id": "rate"}]],
            region, y_label="ratio"),
        _widget("Score passing rate and DB round trips", [
            emf("ScorePassing", label="ScorePassing (share)"),
            emf("DbRoundTrips", label="DbRoundTrips per request", yAxis="right")], region, stat="Average"),
        _widget("Dedup clashes, link retries, cold starts, rate limited", [
            emf("DedupClashes"), emf("LinkRetries"), emf("ColdStart"), emf("RateLimited")], region),
        _widget("Scorer responses 5XX / 4XX (EMF)", [emf("Errors5xx"), emf("Errors4xx")], region),
        _widget("Scorer function", [
            fn("Invocations"), fn("Errors"), fn("Throttles"), fn("ConcurrentExecutions", stat="Maximum"),
            fn("Duration", stat="p99", label="Duration p99 (ms)", yAxis="right")], region),
    ]


def dashboard_body(*, plan: Sequence[PlannedRule], region: str, load_balancers: Mapping[str, str],
                   tg_suffixes: Mapping[str, str], scorer_function: str,
                   metrics_namespace: str = DEFAULT_METRICS_NAMESPACE) -> dict[str, Any]:
    """The dashboard JSON: both ALBs' widgets (in `ALB_KEYS` order), then the scorer's.

    `load_balancers` maps an ALB key to its `LoadBalancer` dimension (`app/<name>/<id>`); `tg_suffixes` maps every
    target group name of the plan's weighted rules to its `TargetGroup` dimension (`targetgroup/<name>/<id>`).
    """
    widgets = [w for alb in ALB_KEYS for w in alb_widgets(alb, plan, load_balancers[alb], tg_suffixes, region)]
    widgets += scorer_widgets(metrics_namespace, scorer_function, region)
    return {"start": "-PT3H", "periodOverride": "inherit", "widgets": widgets}


def metric_dimensions(body: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every metric's dimensions in a dashboard body, as `{name: value}` (tests and `ops` inspect them)."""
    found = []
    for widget in body.get("widgets", []):
        for metric in widget.get("properties", {}).get("metrics", []) if widget.get("type") == "metric" else []:
            if metric and isinstance(metric[0], str):
                plain = [m for m in metric[2:] if isinstance(m, str)]
                found.append({"Namespace": metric[0], "MetricName": metric[1],
                              **dict(zip(plain[::2], plain[1::2], strict=True))})
    return found
