"""Thin boto3 wrappers for the live ALB listeners and CloudWatch (routing contract §5.4, §6.4, §4.4).

Each function makes the calls it names and returns plain data; errors are left to `ops.cli`, which turns them into
one line. No decisions are taken here: comparing with the plan is `ops.drift`, judging metrics is `ops.health`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

logger = logging.getLogger(__name__)

NAMESPACE = "AWS/ApplicationELB"
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=30)
_DESCRIBE_TG_BATCH = 20


@dataclass(frozen=True)
class AwsClients:
    """The two clients the commands use, and the region they talk to."""

    elbv2: Any
    cloudwatch: Any
    region: str | None
    cloudtrail: Any = None  # `advance` only: who changed the weighted rules last, and when


def make_clients(region: str | None, profile: str | None = None) -> AwsClients:
    """Clients for `region` (None: the SDK's default chain) with standard retries (throttling is retried 4 times)."""
    session = boto3.Session(profile_name=profile, region_name=region)
    return AwsClients(elbv2=session.client("elbv2", config=_CLIENT_CONFIG),
                      cloudwatch=session.client("cloudwatch", config=_CLIENT_CONFIG),
                      region=session.region_name, cloudtrail=session.client("cloudtrail", config=_CLIENT_CONFIG))


def list_rules(elbv2: Any, listener_arn: str) -> list[dict[str, Any]]:
    """Every non-default rule of a listener (`DescribeRules`, paginated), as AWS returns them."""
    rules: list[dict[str, Any]] = []
    for page in elbv2.get_paginator("describe_rules").paginate(ListenerArn=listener_arn):
        rules.extend(rule for rule in page["Rules"] if not rule.get("IsDefault"))
    logger.info("listener %s: %d rules", listener_arn, len(rules))
    return rules


def target_group_names(elbv2: Any, arns: Iterable[str]) -> dict[str, str]:
    """Target group ARN → name (`DescribeTargetGroups` by ARN, in batches)."""
    return {g["TargetGroupArn"]: g["TargetGroupName"] for g in _describe_target_groups(elbv2, "TargetGroupArns", arns)}


def target_group_arns(elbv2: Any, names: Iterable[str]) -> dict[str, str]:
    """Target group name → ARN (`DescribeTargetGroups` by name, in batches)."""
    return {g["TargetGroupName"]: g["TargetGroupArn"] for g in _describe_target_groups(elbv2, "Names", names)}


def _describe_target_groups(elbv2: Any, parameter: str, values: Iterable[str]) -> list[dict[str, Any]]:
    wanted = sorted(set(values))
    groups: list[dict[str, Any]] = []
    for start in range(0, len(wanted), _DESCRIBE_TG_BATCH):
        batch = wanted[start:start + _DESCRIBE_TG_BATCH]
        groups.extend(elbv2.describe_target_groups(**{parameter: batch})["TargetGroups"])
    return groups


def modify_rule_actions(elbv2: Any, rule_arn: str, actions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Replace a rule's actions in one `ModifyRule` call (conditions and priority stay); return the rule after."""
    logger.info("ModifyRule %s", rule_arn)
    return elbv2.modify_rule(RuleArn=rule_arn, Actions=list(actions))["Rules"][0]


@dataclass(frozen=True)
class RuleChange:
    """One `ModifyRule` call recorded by CloudTrail: when, on which rule, by whom."""

    at: datetime
    rule_arn: str
    by: str


def last_rule_change(cloudtrail: Any, rule_arns: Collection[str], since: datetime) -> RuleChange | None:
    """The latest `ModifyRule` on one of `rule_arns` since `since` (CloudTrail `LookupEvents`, paginated), or None.

    Whoever made it (`pulumi up`, `ops rollback --now`, the console) is recorded the same way.
    """
    latest: RuleChange | None = None
    pages = cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "ModifyRule"}], StartTime=since)
    for page in pages:
        for event in page.get("Events", []):
            try:
                detail = json.loads(event.get("CloudTrailEvent") or "{}")
            except ValueError:
                continue
            arn = (detail.get("requestParameters") or {}).get("ruleArn")
            if arn not in rule_arns or (detail.get("errorCode") is not None):
                continue  # another rule, or a call AWS refused (no change)
            identity = detail.get("userIdentity") or {}
            change = RuleChange(event["EventTime"], arn, identity.get("arn") or event.get("Username") or "unknown")
            if latest is None or change.at > latest.at:
                latest = change
    logger.info("last ModifyRule on %d rules since %s: %s", len(rule_arns), since.isoformat(), latest)
    return latest


@dataclass(frozen=True)
class MetricQuery:
    """One statistic of one ALB metric for one target group; `qid` is unique within a request."""

    qid: str
    metric: str
    stat: str
    load_balancer: str
    target_group: str  # the TG's ARN suffix, `targetgroup/<name>/<id>`


def get_metric_values(cloudwatch: Any, queries: Sequence[MetricQuery], start: datetime, end: datetime,
                      period: int) -> dict[str, list[float]]:
    """Run `GetMetricData` (paginated) over [start, end) with one `period`; return the values of each query id."""
    request = [{"Id": q.qid, "ReturnData": True,
                "MetricStat": {"Metric": {"Namespace": NAMESPACE, "MetricName": q.metric,
                                          "Dimensions": [{"Name": "LoadBalancer", "Value": q.load_balancer},
                                                         {"Name": "TargetGroup", "Value": q.target_group}]},
                               "Period": period, "Stat": q.stat}}
               for q in queries]
    values: dict[str, list[float]] = {q.qid: [] for q in queries}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=request, StartTime=start, EndTime=end):
        for result in page["MetricDataResults"]:
            values[result["Id"]].extend(float(v) for v in result.get("Values", []))
    return values


def target_group_suffix(arn: str) -> str:
    """CloudWatch `TargetGroup` dimension of a target group ARN: `targetgroup/<name>/<id>`."""
    return arn.split(":", 5)[5]


def get_namespace_values(cloudwatch: Any, namespace: str, stats: Sequence[tuple[str, str, str]], start: datetime,
                         end: datetime, period: int) -> dict[str, list[float]]:
    """`GetMetricData` of metrics without dimensions in `namespace` (the scorer's EMF dimension set `[]`); `stats` are
    `(metric, statistic, field)`; return the values by field."""
    request = [{"Id": f"e{i}", "ReturnData": True,
                "MetricStat": {"Metric": {"Namespace": namespace, "MetricName": metric, "Dimensions": []},
                               "Period": period, "Stat": stat}}
               for i, (metric, stat, _) in enumerate(stats)]
    by_id = {f"e{i}": field for i, (_, _, field) in enumerate(stats)}
    values: dict[str, list[float]] = {field: [] for field in by_id.values()}
    for page in cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=request, StartTime=start, EndTime=end):
        for result in page["MetricDataResults"]:
            values[by_id[result["Id"]]].extend(float(v) for v in result.get("Values", []) if v is not None)
    return values
