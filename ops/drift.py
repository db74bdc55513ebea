"""Compare the live weighted rules with the stack's routing plan, and build the rollback action (routing contract
§5.1, §5.3, §5.4). Pure: takes rules as `DescribeRules` returns them plus a target-group ARN → name map.

A live rule is identified by (listener, priority) from the plan. Its forward action must list exactly the plan's two
target groups, `[legacy, scorer]` by name; drift is any difference in weights or stickiness from what the stack
config's `p` gives, and a missing rule, other conditions or other targets are structural problems: the rule there is
not the one this program manages, so nothing may be modified automatically.

Override header rules (production contract P11.1) are compared the same way: their conditions (with the http-header
condition) and a plain forward to their one target group, with no stickiness.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from components.live_rollback import live_conditions
from components.routing import PlannedRule, Stickiness, planned_conditions

ProblemKind = Literal["missing", "conditions", "targets", "weights", "stickiness"]
STRUCTURAL: frozenset[str] = frozenset({"missing", "conditions", "targets"})


@dataclass(frozen=True)
class LiveTarget:
    target_group: str  # name, or the ARN when the name is unknown
    arn: str
    weight: int | None


@dataclass(frozen=True)
class LiveRule:
    """The parts of a live rule this tooling compares: conditions, forward targets and stickiness."""

    arn: str
    priority: int
    conditions: Mapping[str, tuple[str, ...]]  # field → sorted values; `http-header:<name>` for a header condition
    targets: tuple[LiveTarget, ...]
    stickiness: Stickiness | None  # None: not a forward with a ForwardConfig
    action_types: tuple[str, ...]
    action_order: int | None = None


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    message: str


@dataclass(frozen=True)
class RuleState:
    """One shared endpoint: what the plan expects, what is live, and every difference."""

    planned: PlannedRule
    live: LiveRule | None
    problems: tuple[Problem, ...]

    @property
    def has_drift(self) -> bool:
        return bool(self.problems)

    @property
    def is_structural(self) -> bool:
        return any(p.kind in STRUCTURAL for p in self.problems)

    @property
    def expected_weights(self) -> tuple[int, int]:
        legacy, scorer = self.planned.targets
        return legacy.weight or 0, scorer.weight or 0

    @property
    def live_weights(self) -> tuple[int | None, int | None] | None:
        """Live `(legacy, scorer)` weights by target-group name; None when the rule is missing."""
        if self.live is None:
            return None
        by_name = {t.target_group: t.weight for t in self.live.targets}
        legacy, scorer = self.planned.targets
        return by_name.get(legacy.target_group), by_name.get(scorer.target_group)


def parse_live_rule(raw: Mapping[str, Any], tg_names: Mapping[str, str]) -> LiveRule:
    """Reduce one `DescribeRules` rule to `LiveRule` (both AWS condition shapes; both forward shapes)."""
    conditions = live_conditions(raw)  # the same reading as the rollback's (components.live_rollback)
    actions = raw.get("Actions", [])
    forward = next((a for a in actions if a.get("Type") == "forward"), None)
    targets: tuple[LiveTarget, ...] = ()
    stickiness = None
    if forward is not None and forward.get("ForwardConfig", {}).get("TargetGroups"):
        config = forward["ForwardConfig"]
        targets = tuple(LiveTarget(tg_names.get(t["TargetGroupArn"], t["TargetGroupArn"]), t["TargetGroupArn"],
                                   int(t["Weight"]) if t.get("Weight") is not None else None)
                        for t in config["TargetGroups"])
        sticky = config.get("TargetGroupStickinessConfig") or {}
        stickiness = Stickiness(enabled=bool(sticky.get("Enabled", False)),
                                duration=int(sticky.get("DurationSeconds") or 0))
    elif forward is not None and forward.get("TargetGroupArn"):
        arn = forward["TargetGroupArn"]
        targets = (LiveTarget(tg_names.get(arn, arn), arn, None),)
    return LiveRule(arn=raw["RuleArn"], priority=int(raw["Priority"]), conditions=conditions, targets=targets,
                    stickiness=stickiness, action_types=tuple(a.get("Type", "") for a in actions),
                    action_order=forward.get("Order") if forward else None)


def _missing(planned: PlannedRule) -> RuleState:
    return RuleState(planned, None, (Problem("missing", f"no rule at priority {planned.priority}"),))


def _condition_problems(planned: PlannedRule, live: LiveRule) -> list[Problem]:
    expected = planned_conditions(planned)
    if live.conditions == expected:
        return []
    return [Problem("conditions", f"conditions {_conditions_text(live.conditions)} instead of "
                                  f"{_conditions_text(expected)}")]


def compare_rule(planned: PlannedRule, live: LiveRule | None) -> RuleState:
    """Every difference between a planned weighted rule and the live rule at its priority."""
    if live is None:
        return _missing(planned)
    problems = _condition_problems(planned, live)
    expected_names = [t.target_group for t in planned.targets]
    live_names = [t.target_group for t in live.targets]
    if live.action_types != ("forward",) or sorted(live_names) != sorted(expected_names) or live.stickiness is None:
        problems.append(Problem("targets", f"forwards to {live_names or list(live.action_types)} instead of a "
                                           f"weighted forward to {expected_names}"))
        return RuleState(planned, live, tuple(problems))
    by_name = {t.target_group: t.weight for t in live.targets}
    live_weights = [by_name[name] for name in expected_names]
    expected_weights = [t.weight for t in planned.targets]
    if live_weights != expected_weights:
        problems.append(Problem("weights", f"weights {live_weights} instead of {expected_weights}"))
    assert planned.stickiness is not None  # weighted rules always carry stickiness
    if live.stickiness.enabled != planned.stickiness.enabled:
        problems.append(Problem("stickiness", f"stickiness {stickiness_text(live.stickiness)} instead of "
                                              f"{stickiness_text(planned.stickiness)}"))
    elif planned.stickiness.enabled and live.stickiness.duration != planned.stickiness.duration:
        # A disabled config's duration is not compared: AWS may report it as 0 (§12.4).
        problems.append(Problem("stickiness", f"stickiness duration {live.stickiness.duration}s instead of "
                                              f"{planned.stickiness.duration}s"))
    return RuleState(planned, live, tuple(problems))


def compare_listener(plan: Sequence[PlannedRule], alb: str, live_rules: Sequence[LiveRule]) -> list[RuleState]:
    """Compare every weighted rule of one ALB in the plan with the live rule at the same priority."""
    by_priority = {rule.priority: rule for rule in live_rules}
    return [compare_rule(rule, by_priority.get(rule.priority))
            for rule in plan if rule.alb == alb and rule.is_weighted]


def compare_override(planned: PlannedRule, live: LiveRule | None) -> RuleState:
    """Every difference between a planned override header rule and the live rule at its priority (P11.1)."""
    if live is None:
        return _missing(planned)
    problems = _condition_problems(planned, live)
    expected = [t.target_group for t in planned.targets]
    live_names = [t.target_group for t in live.targets]
    if live.action_types != ("forward",) or live_names != expected:
        problems.append(Problem("targets", f"forwards to {live_names or list(live.action_types)} instead of "
                                           f"{expected}"))
    elif live.stickiness is not None and live.stickiness.enabled:
        problems.append(Problem("stickiness", f"stickiness {stickiness_text(live.stickiness)} instead of none"))
    return RuleState(planned, live, tuple(problems))


def compare_overrides(plan: Sequence[PlannedRule], alb: str, live_rules: Sequence[LiveRule]) -> list[RuleState]:
    """Compare every override header rule of one ALB in the plan with the live rule at the same priority."""
    by_priority = {rule.priority: rule for rule in live_rules}
    return [compare_override(rule, by_priority.get(rule.priority))
            for rule in plan if rule.alb == alb and rule.is_override]


def looks_rolled_back(states: Sequence[RuleState]) -> bool:
    """Whether the live rules are rolled back while the stack file still splits (P11.6): every shared rule is live at
    `[100, 0]` with stickiness off and at least one expects a scorer weight above 0. That is what the automatic
    rollback function (or a `rollback --now` whose stack file change was not committed) leaves behind."""
    if not states or any(s.live is None or s.is_structural for s in states):
        return False
    live_rolled_back = all(s.live_weights is not None and list(s.live_weights) == [100, 0] and
                           s.live.stickiness is not None and not s.live.stickiness.enabled for s in states)
    return live_rolled_back and any(s.expected_weights[1] > 0 for s in states)


def stickiness_text(stickiness: Stickiness | None) -> str:
    if stickiness is None:
        return "-"
    return f"on ({stickiness.duration}s)" if stickiness.enabled else "off"


def _conditions_text(conditions: Mapping[str, tuple[str, ...]]) -> str:
    return "; ".join(f"{field}={','.join(values)}" for field, values in sorted(conditions.items())) or "none"
