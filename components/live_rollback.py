"""The live rollback of production contract P11.6 / routing contract §5.4, shared by `ops rollback --now` and the
automatic rollback function: every shared weighted rule to `[100, 0]` with stickiness off, one `ModifyRule` each.

One implementation for both callers, so this module imports only the standard library (boto3 is passed in, or taken
from the Lambda runtime in `handler`): the program zips this file alone as the rollback function's code. What to roll
back is a `RollbackPlan` (listener ARNs + the shared rules' priorities, conditions and target group names), built from
the routing plan by `components.routing.rollback_plan` and handed to the function as JSON in its environment.

Safety: the rule at each planned priority must be this program's weighted rule (same conditions, a forward to exactly
the planned legacy and scorer target groups); otherwise nothing at all is modified. Rules already at `[100, 0]`
without stickiness are left alone, so running it twice changes nothing the second time. Legacy-only and override
header rules are never read for modification: only the planned priorities are considered.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger(__name__)

PLAN_ENV = "ROLLBACK_PLAN"
NOTIFY_TOPIC_ENV = "NOTIFY_TOPIC_ARN"
STACK_ENV = "STACK"
_CONDITION_CONFIG = {"path-pattern": "PathPatternConfig", "http-request-method": "HttpRequestMethodConfig",
                     "host-header": "HostHeaderConfig"}

Conditions = Mapping[str, tuple[str, ...]]  # field → sorted values; `http-header:<name>` for a header condition
ModifyRule = Callable[[str, list[dict[str, Any]]], dict[str, Any]]  # (rule ARN, actions) → rule after


@dataclass(frozen=True)
class SharedRule:
    """One weighted rule as the rollback needs it: where it is, what it matches and its two target groups."""

    key: str
    alb: str
    priority: int
    legacy_target_group: str
    scorer_target_group: str
    conditions: Conditions

    @property
    def where(self) -> str:
        return f"{self.alb} {self.priority} ({self.key})"


@dataclass(frozen=True)
class RollbackPlan:
    """The listeners by ALB key, the shared rules in report order and the stickiness duration to write."""

    listener_arns: Mapping[str, str]
    rules: tuple[SharedRule, ...]
    stickiness_seconds: int

    def to_json(self) -> str:
        # Compact: the plan travels in a Lambda environment variable (4 KB for all variables together).
        return json.dumps({"listeners": dict(self.listener_arns), "duration": self.stickiness_seconds,
                           "rules": [[r.key, r.alb, r.priority, r.legacy_target_group, r.scorer_target_group,
                                      {k: list(v) for k, v in r.conditions.items()}] for r in self.rules]},
                          separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RollbackPlan:
        data = json.loads(text)
        rules = tuple(SharedRule(key, alb, int(priority), legacy, scorer, {k: tuple(v) for k, v in cond.items()})
                      for key, alb, priority, legacy, scorer, cond in data["rules"])
        return cls(dict(data["listeners"]), rules, int(data["duration"]))


@dataclass(frozen=True)
class RuleChange:
    """What the rollback did to one rule: weights `[legacy, scorer]` and stickiness text before and after."""

    key: str
    alb: str
    priority: int
    rule_arn: str
    before: dict[str, Any]
    after: dict[str, Any]
    action: str  # "modified" | "unchanged"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class RollbackRefused(ValueError):
    """A planned priority holds no rule or another rule: nothing was modified. `problems` name each rule."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("refusing to roll back, nothing changed: the live rules do not match the plan's shared "
                         "priorities: " + " | ".join(problems))
        self.problems = list(problems)


class RollbackInterrupted(RuntimeError):
    """A `ModifyRule` failed; `changes` lists what was done before it (rerunning finishes the job)."""

    def __init__(self, cause: Exception, changes: Sequence[RuleChange]) -> None:
        super().__init__(str(cause))
        self.cause, self.changes = cause, list(changes)


@dataclass(frozen=True)
class _Live:
    """The parts of one live rule the rollback looks at."""

    raw: dict[str, Any]
    conditions: Conditions
    weights: dict[str, int | None] = field(default_factory=dict)  # target group name → weight
    tg_arns: dict[str, str] = field(default_factory=dict)  # target group name → ARN
    sticky: tuple[bool, int] | None = None  # None: no ForwardConfig
    single_forward: bool = False


def live_conditions(raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """A live rule's conditions as `{field: sorted values}`; hosts and header names/values compare lowercased."""
    conditions: dict[str, tuple[str, ...]] = {}
    for condition in raw.get("Conditions", []):
        field_name = condition.get("Field", "")
        config = condition.get(_CONDITION_CONFIG.get(field_name, ""), {})
        values = config.get("Values") or condition.get("Values") or []
        header = condition.get("HttpHeaderConfig") or {}
        if field_name == "http-header" and header.get("HttpHeaderName"):
            field_name, values = f"http-header:{header['HttpHeaderName'].lower()}", header.get("Values") or []
        if field_name == "host-header" or field_name.startswith("http-header:"):
            values = [v.lower() for v in values]
        conditions[field_name] = tuple(sorted(values))
    return conditions


def stickiness_text(sticky: tuple[bool, int] | None) -> str:
    if sticky is None:
        return "-"
    return f"on ({sticky[1]}s)" if sticky[0] else "off"


def _parse(raw: dict[str, Any], tg_names: Mapping[str, str]) -> _Live:
    actions = raw.get("Actions", [])
    live = _Live(raw, live_conditions(raw))
    forward = next((a for a in actions if a.get("Type") == "forward"), None)
    if [a.get("Type") for a in actions] != ["forward"] or forward is None:
        return live
    groups = (forward.get("ForwardConfig") or {}).get("TargetGroups") or []
    if not groups:
        arn = forward.get("TargetGroupArn", "")
        return _Live(raw, live.conditions, {tg_names.get(arn, arn): None}, {tg_names.get(arn, arn): arn},
                     single_forward=True)
    sticky_config = forward["ForwardConfig"].get("TargetGroupStickinessConfig") or {}
    sticky = (bool(sticky_config.get("Enabled", False)), int(sticky_config.get("DurationSeconds") or 0))
    pairs = [(tg_names.get(t["TargetGroupArn"], t["TargetGroupArn"]), t) for t in groups]
    return _Live(raw, live.conditions,
                 {n: (int(t["Weight"]) if t.get("Weight") is not None else None) for n, t in pairs},
                 {n: t["TargetGroupArn"] for n, t in pairs}, sticky)


def _problems(rule: SharedRule, live: _Live | None) -> list[str]:
    """Why the live rule at a planned priority is not this program's weighted rule (empty: it is)."""
    if live is None:
        return [f"no rule at priority {rule.priority}"]
    problems = []
    expected = {k: tuple(v) for k, v in rule.conditions.items()}
    if dict(live.conditions) != expected:
        problems.append(f"conditions {_conditions_text(live.conditions)} instead of {_conditions_text(expected)}")
    names = [rule.legacy_target_group, rule.scorer_target_group]
    if live.sticky is None or sorted(live.weights) != sorted(names):
        problems.append(f"forwards to {list(live.weights) or [a.get('Type') for a in live.raw.get('Actions', [])]} "
                        f"instead of a weighted forward to {names}")
    return problems


def _state(rule: SharedRule, live: _Live) -> dict[str, Any]:
    return {"weights": [live.weights.get(rule.legacy_target_group), live.weights.get(rule.scorer_target_group)],
            "stickiness": stickiness_text(live.sticky)}


def _is_rolled_back(rule: SharedRule, live: _Live) -> bool:
    return _state(rule, live)["weights"] == [100, 0] and live.sticky is not None and not live.sticky[0]


def rollback_actions(rule: SharedRule, live: _Live, duration: int) -> list[dict[str, Any]]:
    """`[legacy 100, scorer 0]` with stickiness off, in the program's shape: both targets stay (the scorer at weight
    0) and the duration is the program's, never 0 (AWS rejects 0 even for a disabled config)."""
    action: dict[str, Any] = {"Type": "forward", "ForwardConfig": {
        "TargetGroups": [{"TargetGroupArn": live.tg_arns[rule.legacy_target_group], "Weight": 100},
                         {"TargetGroupArn": live.tg_arns[rule.scorer_target_group], "Weight": 0}],
        "TargetGroupStickinessConfig": {"Enabled": False, "DurationSeconds": duration}}}
    order = live.raw["Actions"][0].get("Order")
    if order is not None:
        action["Order"] = order
    return [action]


def read_live(elbv2: Any, plan: RollbackPlan) -> dict[str, _Live | None]:
    """The live rule at each planned priority by route key (`DescribeRules`, `DescribeTargetGroups`), or None."""
    found: dict[str, _Live | None] = {}
    for alb, listener_arn in plan.listener_arns.items():
        wanted = {r.priority: r for r in plan.rules if r.alb == alb}
        if not wanted:
            continue
        raw_rules = []
        for page in elbv2.get_paginator("describe_rules").paginate(ListenerArn=listener_arn):
            raw_rules.extend(r for r in page["Rules"] if not r.get("IsDefault") and int(r["Priority"]) in wanted)
        arns = sorted({t["TargetGroupArn"] for r in raw_rules for a in r.get("Actions", [])
                       for t in (a.get("ForwardConfig") or {}).get("TargetGroups", [])}
                      | {a["TargetGroupArn"] for r in raw_rules for a in r.get("Actions", [])
                         if a.get("TargetGroupArn")})
        names: dict[str, str] = {}
        for start in range(0, len(arns), 20):
            groups = elbv2.describe_target_groups(TargetGroupArns=arns[start:start + 20])["TargetGroups"]
            names.update({g["TargetGroupArn"]: g["TargetGroupName"] for g in groups})
        by_priority = {int(r["Priority"]): _parse(r, names) for r in raw_rules}
        found.update({rule.key: by_priority.get(priority) for priority, rule in wanted.items()})
    return found


def check(elbv2: Any, plan: RollbackPlan) -> dict[str, _Live | None]:
    """Read the planned priorities; raise `RollbackRefused` unless each holds this program's weighted rule."""
    live = read_live(elbv2, plan)
    problems = [f"{r.where}: " + "; ".join(p) for r in plan.rules if (p := _problems(r, live.get(r.key)))]
    if problems:
        raise RollbackRefused(problems)
    return live


def roll_back(elbv2: Any, plan: RollbackPlan, modify: ModifyRule | None = None) -> list[RuleChange]:
    """Put every shared rule of `plan` at `[100, 0]` with stickiness off; return one `RuleChange` per rule.

    Raises `RollbackRefused` (nothing modified) when a planned priority holds no rule or another rule, and
    `RollbackInterrupted` (with the changes so far) when a `ModifyRule` fails. `modify` defaults to
    `elbv2.modify_rule`; the CLI passes its own wrapper.
    """
    def default_modify(rule_arn: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
        return elbv2.modify_rule(RuleArn=rule_arn, Actions=actions)["Rules"][0]

    modify = modify or default_modify
    live = check(elbv2, plan)
    changes: list[RuleChange] = []
    for rule in plan.rules:
        current = live[rule.key]
        assert current is not None  # a missing rule was refused above
        before = _state(rule, current)
        common = {"key": rule.key, "alb": rule.alb, "priority": rule.priority, "rule_arn": current.raw["RuleArn"],
                  "before": before}
        if _is_rolled_back(rule, current):
            changes.append(RuleChange(**common, after=before, action="unchanged"))
            continue
        try:
            raw_after = modify(current.raw["RuleArn"], rollback_actions(rule, current, plan.stickiness_seconds))
        except Exception as exc:  # any failure: report what was already done; rerunning finishes the job
            raise RollbackInterrupted(exc, changes) from exc
        after = _parse(raw_after, {arn: name for name, arn in current.tg_arns.items()})
        changes.append(RuleChange(**common, after=_state(rule, after), action="modified"))
        logger.info("rolled back %s: %s -> %s", rule.where, before, changes[-1].after)
    return changes


def _conditions_text(conditions: Conditions) -> str:
    return "; ".join(f"{name}={','.join(values)}" for name, values in sorted(conditions.items())) or "none"


# --- the automatic rollback function (P11.6) -------------------------------------------------------------------

def triggering_alarms(event: Mapping[str, Any]) -> list[str]:
    """Names of the CloudWatch alarms in an SNS event (a message that is not an alarm is reported as such)."""
    names = []
    for record in event.get("Records", []):
        message = (record.get("Sns") or {}).get("Message") or ""
        try:
            names.append(str(json.loads(message).get("AlarmName") or "unknown alarm"))
        except (ValueError, AttributeError):
            names.append("not an alarm message")
    return names


def run_rollback(elbv2: Any, plan: RollbackPlan, stack: str, alarms: Sequence[str]) -> dict[str, Any]:
    """Roll back and return the report (never raises for a refusal or a failed ModifyRule: both are reported)."""
    report: dict[str, Any] = {"stack": stack, "trigger": list(alarms)}
    try:
        changes = roll_back(elbv2, plan)
        report["status"] = "rolled back" if any(c.action == "modified" for c in changes) else "already rolled back"
    except RollbackRefused as exc:
        return {**report, "status": "refused", "error": str(exc), "rules": []}
    except RollbackInterrupted as exc:
        changes = exc.changes
        report.update(status="failed", error=f"{exc.cause}; {len(changes)} rule(s) handled before the error")
    report["rules"] = [c.as_dict() for c in changes]
    return report


def notification_text(report: Mapping[str, Any]) -> str:
    """One line per rule, before → after, and how to reconcile the stack file."""
    lines = [f"Automatic rollback of stack {report['stack']}: {report['status']} "
             f"(alarm: {', '.join(report['trigger']) or 'none'})"]
    if report.get("error"):
        lines.append(f"error: {report['error']}")
    for rule in report.get("rules", []):
        lines.append(f"  {rule['alb']} {rule['priority']} {rule['key']}: {rule['before']['weights']} "
                     f"{rule['before']['stickiness']} -> {rule['after']['weights']} {rule['after']['stickiness']} "
                     f"({rule['action']})")
    lines.append(f"Reconcile: python -m ops rollback --stack {report['stack']}, commit Pulumi.{report['stack']}.yaml, "
                 f"then python -m ops status --stack {report['stack']}")
    return "\n".join(lines)


def handler(event: Mapping[str, Any], context: object = None, *, clients: Mapping[str, Any] | None = None
            ) -> dict[str, Any]:
    """Lambda entry point: an SNS alarm notification → roll back → log and publish before → after."""
    if clients is None:  # boto3 comes from the Lambda runtime; imported here so the CLI never needs it at import
        import boto3
        clients = {"elbv2": boto3.client("elbv2"), "sns": boto3.client("sns")}
    plan = RollbackPlan.from_json(os.environ[PLAN_ENV])
    stack = os.environ.get(STACK_ENV, "?")
    report = run_rollback(clients["elbv2"], plan, stack, triggering_alarms(event))
    text = notification_text(report)
    print(json.dumps({"rollback": report}))  # one structured line in the function's log group
    topic = os.environ.get(NOTIFY_TOPIC_ENV)
    if topic:
        clients["sns"].publish(TopicArn=topic, Subject=f"Scorer automatic rollback: {stack} {report['status']}"[:100],
                               Message=text)
    report["notified"] = topic or None
    return report
