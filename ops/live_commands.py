"""Commands that read or change live AWS state: `status`, `health` and `rollback --now` (routing contract §4.4,
§5.3, §5.4). They compose `ops.live` (boto3) with the pure `ops.drift` / `ops.health` logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components import live_rollback
from components.routing import ALB_KEYS, SCORER_TARGET_GROUPS, rollback_plan
from ops import live
from ops.config_commands import rollback_file_change
from ops.context import StackContext, load_context
from ops.drift import (
    LiveRule,
    RuleState,
    compare_listener,
    compare_overrides,
    looks_rolled_back,
    parse_live_rule,
    stickiness_text,
)
from ops.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INSUFFICIENT_DATA,
    EXIT_OK,
    CheckFailed,
    ConfigError,
    aws_errors,
    describe_aws_error,
)
from ops.health import (
    DEFAULT_METRICS_NAMESPACE,
    EMF_STATS,
    INSUFFICIENT,
    METRIC_STATS,
    ROLLOUT_HEALTH_KEY,
    UNHEALTHY,
    AlbHealth,
    alarm_limits,
    evaluate_alb,
    metrics_from_values,
    overall_verdict,
    parse_health_thresholds,
    scorer_emf_summary,
    thresholds_dict,
)
from ops.render import command_line, health_text, percent_change_text, status_text
from ops.result import PartialFailure, Result


@dataclass(frozen=True)
class AwsTarget:
    """Where the live commands point: the stack and the AWS options of the command line."""

    stack: str
    stack_dir: Path
    region: str | None = None
    profile: str | None = None
    public_listener_arn: str | None = None
    internal_listener_arn: str | None = None

    def context(self, percent_override: str | None = None) -> StackContext:
        return load_context(self.stack, self.stack_dir, region=self.region, percent_override=percent_override,
                            listener_overrides={"public": self.public_listener_arn,
                                                "internal": self.internal_listener_arn})

    def clients(self, context: StackContext) -> live.AwsClients:
        clients = live.make_clients(context.region, self.profile)
        context.check_region(clients.region)
        return clients


def read_planned_priorities(context: StackContext, clients: live.AwsClients, *,
                            with_overrides: bool) -> dict[str, list[LiveRule]]:
    """Per listener, the live rules at the plan's weighted priorities (and override priorities), TG names resolved."""
    plan = context.plan()
    by_alb: dict[str, list[LiveRule]] = {}
    for alb in ALB_KEYS:
        priorities = {r.priority for r in plan if r.alb == alb and (r.is_weighted or (with_overrides and
                                                                                    r.is_override))}
        raw = [r for r in live.list_rules(clients.elbv2, context.listener_arn(alb)) if int(r["Priority"]) in priorities]
        arns = {t["TargetGroupArn"] for r in raw for a in r.get("Actions", [])
                for t in a.get("ForwardConfig", {}).get("TargetGroups", [])}
        arns |= {a["TargetGroupArn"] for r in raw for a in r.get("Actions", []) if a.get("TargetGroupArn")}
        names = live.target_group_names(clients.elbv2, arns) if arns else {}
        by_alb[alb] = [parse_live_rule(r, names) for r in raw]
    return by_alb


def read_rule_states(context: StackContext, clients: live.AwsClients) -> list[RuleState]:
    """Every weighted rule of the plan compared with the live rule at its (listener, priority)."""
    plan = context.plan()
    by_alb = read_planned_priorities(context, clients, with_overrides=False)
    return [state for alb in ALB_KEYS for state in compare_listener(plan, alb, by_alb[alb])]


def status_command(target: AwsTarget) -> Result:
    """Live weights and stickiness of every shared rule and the override header rules, with drift marked."""
    context = target.context()
    plan = context.plan()
    with aws_errors(context.region):
        clients = target.clients(context)
        by_alb = read_planned_priorities(context, clients, with_overrides=True)
    states = [state for alb in ALB_KEYS for state in compare_listener(plan, alb, by_alb[alb])]
    overrides = [state for alb in ALB_KEYS for state in compare_overrides(plan, alb, by_alb[alb])]
    header = context.settings.override_header
    data = {"stack": context.stack, "region": clients.region, "stack_file": context.path.name,
            "percent": context.settings.scorer_percent,
            "percent_by_route": dict(context.settings.scorer_percent_by_route),
            "rules": [_state_data(s) for s in states],
            "override_header": None if header is None else {"name": header.name, "scorer": header.scorer,
                                                             "legacy": header.legacy},
            "overrides": [_override_data(s) for s in overrides]}
    data["drift"] = any(s.has_drift for s in [*states, *overrides])
    # P11.6: the automatic rollback changes the live rules but cannot change the committed stack file.
    data["rolled_back"] = looks_rolled_back(states)
    return Result(data, status_text(data), EXIT_CHECK_FAILED if data["drift"] else EXIT_OK)


def _override_data(state: RuleState) -> dict[str, Any]:
    rule, current = state.planned, state.live
    assert rule.header is not None  # override rules always carry their header condition
    return {"key": rule.key, "alb": rule.alb, "priority": rule.priority, "route": rule.override_of,
            "header": f"{rule.header.name}: {','.join(rule.header.values)}",
            "expected_target": rule.targets[0].target_group,
            "live": None if current is None else {
                "rule_arn": current.arn, "targets": [t.target_group for t in current.targets],
                "stickiness": stickiness_text(current.stickiness)},
            "drift": [p.message for p in state.problems]}


def _state_data(state: RuleState) -> dict[str, Any]:
    rule, current = state.planned, state.live
    return {"key": rule.key, "alb": rule.alb, "priority": rule.priority, "percent": state.expected_weights[1],
            "extra": rule.is_extra,
            "expected": {"weights": list(state.expected_weights), "stickiness": stickiness_text(rule.stickiness)},
            "live": None if current is None else {
                "rule_arn": current.arn, "weights": list(state.live_weights or ()),
                "stickiness": stickiness_text(current.stickiness),
                "targets": [{"target_group": t.target_group, "weight": t.weight} for t in current.targets]},
            "drift": [p.message for p in state.problems]}


def rollback_now_command(target: AwsTarget) -> Result:
    """Set every live shared rule to `[100, 0]` with stickiness off (one ModifyRule each) and `scorerPercent: 0`.

    The live part is `components.live_rollback.roll_back`, the code the automatic rollback function runs (P11.6).
    Refuses, changing nothing, when a shared priority holds no rule or a rule that is not this program's weighted
    rule (other conditions or targets). Idempotent: rules already rolled back are left alone.
    """
    context = target.context(percent_override="0")
    plan = rollback_plan(context.plan(), {alb: context.listener_arn(alb) for alb in ALB_KEYS},
                         context.settings.stickiness_seconds)
    with aws_errors(context.region):
        clients = target.clients(context)
        try:
            # Refusal is checked on the live rules before the stack file is written, as before.
            live_rollback.check(clients.elbv2, plan)
        except live_rollback.RollbackRefused as exc:
            raise CheckFailed(str(exc)) from None
    file_data = rollback_file_change(context.path, context.stack, context.settings.stickiness_seconds)
    with aws_errors(context.region):
        try:
            changes = live_rollback.roll_back(
                clients.elbv2, plan, modify=lambda arn, actions: live.modify_rule_actions(clients.elbv2, arn, actions))
        except live_rollback.RollbackRefused as exc:
            raise CheckFailed(str(exc)) from None
        except live_rollback.RollbackInterrupted as exc:
            done = _rollback_result(context, clients.region, file_data, [c.as_dict() for c in exc.changes])
            count = sum(1 for c in exc.changes if c.action == "modified")
            cause = exc.cause
            message = describe_aws_error(cause, clients.region) if isinstance(cause, ClientError | BotoCoreError) \
                else str(cause)
            raise PartialFailure(f"{message}; {count} rule(s) were modified before the error (listed above); run "
                                 "`rollback --now` again to finish", done) from cause
    return _rollback_result(context, clients.region, file_data, [c.as_dict() for c in changes])


def _rollback_result(context: StackContext, region: str | None, file_data: dict[str, Any],
                     changes: list[dict[str, Any]]) -> Result:
    stack = context.stack
    data = {"stack": stack, **file_data, "live": {"region": region, "rules": changes},
            "next": [command_line(f"git diff {context.path.name}", "every percentage 0; commit it"),
                     command_line(f"pulumi refresh --stack {stack}", "record the modified rules in the state"),
                     command_line(f"pulumi preview --stack {stack}", "expect no change on the 8 weighted rules"),
                     command_line(f"python -m ops status --stack {stack}", "confirm: no drift")]}
    return Result(data, percent_change_text(data))


def parse_window(raw: str) -> timedelta:
    """`30m`, `1h`, `6h`, `2d` → timedelta (1 minute .. 15 days, CloudWatch's 1-minute data retention)."""
    units = {"m": 60, "h": 3600, "d": 86400}
    text = raw.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or not text[:-1].isascii():
        raise ConfigError(f"--since must be a number followed by m, h or d (e.g. 30m, 1h, 2d), got {raw!r}")
    seconds = int(text[:-1]) * units[text[-1]]
    if not 60 <= seconds <= 15 * 86400:
        raise ConfigError(f"--since must be between 1m and 15d, got {raw!r}")
    return timedelta(seconds=seconds)


def health_command(target: AwsTarget, since: str, *, until: datetime | None = None,
                   min_requests: int | None = None) -> Result:
    """CloudWatch metrics of each ALB's legacy and scorer target groups over the window, and the verdict."""
    window = parse_window(since)
    context = target.context()
    try:
        thresholds = parse_health_thresholds(context.stack_file.config.get(ROLLOUT_HEALTH_KEY), context.stack)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if min_requests is not None:
        thresholds = type(thresholds)(**{**asdict(thresholds), "min_requests": min_requests})
    end = (until or datetime.now(UTC)).astimezone(UTC).replace(second=0, microsecond=0)
    start = end - window
    plan = context.plan()
    shared = {alb: [(r.key, r.targets[0].target_group) for r in plan if r.alb == alb and r.is_weighted]
              for alb in ALB_KEYS}
    names = [tg for routes in shared.values() for _, tg in routes] + list(SCORER_TARGET_GROUPS.values())
    with aws_errors(context.region):
        clients = target.clients(context)
        tg_arns = live.target_group_arns(clients.elbv2, names)  # TargetGroupNotFound if one is missing
        queries, fields = [], {}
        for alb in ALB_KEYS:
            for tg in [tg for _, tg in shared[alb]] + [SCORER_TARGET_GROUPS[alb]]:
                for metric, stat, field in METRIC_STATS:
                    qid = f"q{len(fields)}"
                    fields[qid] = (tg, field)
                    queries.append(live.MetricQuery(qid, metric, stat, context.load_balancer(alb),
                                                    live.target_group_suffix(tg_arns[tg])))
        values = live.get_metric_values(clients.cloudwatch, queries, start, end, int(window.total_seconds()))
        namespace = context.settings.scorer_env.get("SCORER_METRICS_NAMESPACE", DEFAULT_METRICS_NAMESPACE)
        emf = live.get_namespace_values(clients.cloudwatch, namespace, EMF_STATS, start, end,
                                        int(window.total_seconds()))
    per_tg: dict[str, dict[str, list[float]]] = {}
    for qid, (tg, field) in fields.items():
        per_tg.setdefault(tg, {})[field] = values.get(qid, [])
    metrics = {tg: metrics_from_values(v) for tg, v in per_tg.items()}
    albs = [evaluate_alb(alb, SCORER_TARGET_GROUPS[alb], {key: metrics[tg] for key, tg in shared[alb]},
                         metrics[SCORER_TARGET_GROUPS[alb]], thresholds,
                         alarm_limits(context.settings.alarms, SCORER_TARGET_GROUPS[alb]))
            for alb in ALB_KEYS]
    verdict = overall_verdict(albs)
    exit_code = {UNHEALTHY: EXIT_CHECK_FAILED, INSUFFICIENT: EXIT_INSUFFICIENT_DATA}.get(verdict, EXIT_OK)
    data = {"stack": context.stack, "region": clients.region, "percent": context.settings.scorer_percent,
            "window": {"since": since, "start": start.isoformat(), "end": end.isoformat(),
                       "seconds": int(window.total_seconds())},
            "thresholds": thresholds_dict(thresholds),
            "albs": [_alb_data(a, context, shared[a.alb]) for a in albs], "verdict": verdict, "exit_code": exit_code,
            # P11.3: one scorer TG serves every shared route of its ALB, so its metrics cannot be split per route.
            "granularity": "per ALB: the scorer side is one target group per ALB; legacy is listed per route",
            "scorer_metrics": scorer_emf_summary(emf, namespace)}
    mixed = {alb: sorted({context.settings.percent_for(key) for key, _ in shared[alb]}) for alb in ALB_KEYS}
    data["mixed_percentages"] = {alb: p for alb, p in mixed.items() if len(p) > 1}
    return Result(data, health_text(data), exit_code)


def _alb_data(health: AlbHealth, context: StackContext, routes: Sequence[tuple[str, str]]) -> dict[str, Any]:
    return {"alb": health.alb, "load_balancer": context.load_balancer(health.alb),
            "legacy": [{"route": key, "target_group": tg, "metrics": health.legacy[key].as_dict()}
                       for key, tg in routes],
            "legacy_combined": health.legacy_combined.as_dict(), "scorer_target_group": health.scorer_target_group,
            "scorer": health.scorer.as_dict(), "checks": [asdict(c) for c in health.checks], "verdict": health.verdict}
