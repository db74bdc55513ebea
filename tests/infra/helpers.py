"""Plain helpers for the infrastructure tests: constants, stack files and the wire form of registered rules.

Kept apart from `conftest.py` so that importing them can never run `set_mocks` a second time (§10.1).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Hashable, Iterable
from pathlib import Path
from typing import Any

from components.listener_rules import HeaderMatch
from components.settings import load_stack_file

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "000000000000", "us-west-2"
STACKS = ("staging", "review", "production")
TG_TYPE = "aws:lb/targetGroup:TargetGroup"
RULE_TYPE = "aws:lb/listenerRule:ListenerRule"
FUNCTION_TYPE = "aws:lambda/function:Function"
ALARM_TYPE = "aws:cloudwatch/metricAlarm:MetricAlarm"
PERMISSION_TYPE = "aws:lambda/permission:Permission"
ATTACHMENT_TYPE = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
LOG_GROUP_TYPE = "aws:cloudwatch/logGroup:LogGroup"
DASHBOARD_TYPE = "aws:cloudwatch/dashboard:Dashboard"
TOPIC_TYPE = "aws:sns/topic:Topic"
SUBSCRIPTION_TYPE = "aws:sns/topicSubscription:TopicSubscription"


def tg_arn(name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/{name}/0123456789abcdef"


def tg_arn_suffix(name: str) -> str:
    return f"targetgroup/{name}/0123456789abcdef"


def fn_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def rule_arn(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest()[:16]
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener-rule/app/mock/0000000000000000/{digest}"


def stack_config(stack: str, **overrides: str | None) -> dict[str, str]:
    """The committed stack file's project config (bare keys); keyword overrides replace keys, None removes them."""
    raw = dict(load_stack_file(ROOT / f"Pulumi.{stack}.yaml").config)
    for key, value in overrides.items():
        if value is None:
            raw.pop(key, None)
        else:
            raw[key] = value
    return raw


def wire_targets(rule: Any) -> list[tuple[str, int | None]]:
    """`[(tg arn, weight)]` of a registered rule's single action, from the wire form (camelCase, float numbers)."""
    (action,) = rule.inputs["actions"]
    if "forward" in action:
        return [(t["arn"], int(t["weight"])) for t in action["forward"]["targetGroups"]]
    return [(action["targetGroupArn"], None)]


def wire_stickiness(rule: Any) -> tuple[bool, int] | None:
    """`(enabled, duration)` of a registered weighted rule, None for a plain forward."""
    (action,) = rule.inputs["actions"]
    if "forward" not in action:
        return None
    sticky = action["forward"]["stickiness"]
    return bool(sticky.get("enabled", False)), int(sticky["duration"])


def wire_conditions(rule: Any) -> dict[str, list[str]]:
    """`{"pathPattern": [...], "httpRequestMethod": [...], "hostHeader": [...], "httpHeader": [...]}` of a
    registered rule (values only; `wire_header` gives the header condition with its name)."""
    out: dict[str, list[str]] = {}
    for condition in rule.inputs["conditions"]:
        for kind, value in condition.items():
            out[kind] = list(value["values"])
    return out


def wire_header(rule: Any) -> HeaderMatch | None:
    """The http-header condition of a registered rule, None when it has none."""
    for condition in rule.inputs["conditions"]:
        if "httpHeader" in condition:
            header = condition["httpHeader"]
            return HeaderMatch(header["httpHeaderName"], tuple(header["values"]))
    return None


def duplicates(items: Iterable[Hashable]) -> list[Hashable]:
    """Items that occur more than once."""
    return [item for item, count in Counter(items).items() if count > 1]
