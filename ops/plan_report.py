"""Offline plan report: the routing invariants of a stack's plan and what a percentage change would do (routing
contract §3.2, §3.3, §5.1, §5.3, §11). Pure: works on `components.routing` plans.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from components.routing import PlanError, PlannedRule, find_shadowed, stickiness_for, validate_plan, weights_for
from ops.drift import stickiness_text


@dataclass(frozen=True)
class Invariant:
    name: str
    is_ok: bool
    detail: str


@dataclass(frozen=True)
class RuleChange:
    """How one weighted rule changes between two percentages."""

    key: str
    alb: str
    priority: int
    weights_before: tuple[int, int]
    weights_after: tuple[int, int]
    stickiness_before: str
    stickiness_after: str


def check_invariants(plan: Sequence[PlannedRule], percent: int, function_names: Sequence[str] = (),
                     percent_by_route: Mapping[str, int] | None = None) -> list[Invariant]:
    """The invariants every plan must satisfy, each with a one-line detail; a weighted rule must carry its route's
    percentage (`percent_by_route`, else `percent`, P11.3)."""
    duplicates = [f"{alb} {priority} ×{count}" for (alb, priority), count in
                  Counter((r.alb, r.priority) for r in plan).items() if count > 1]
    shadowed = find_shadowed(plan)
    expected_weights = weights_for(percent)
    weighted = [r for r in plan if r.is_weighted]
    bad_weights = []
    by_route = percent_by_route or {}
    for rule in weighted:
        weights = tuple(t.weight for t in rule.targets)
        sticky = rule.stickiness
        own = by_route.get(rule.key, percent)
        expected_sticky = stickiness_for(own, sticky.duration if sticky else 0)
        if weights != weights_for(own) or sticky != expected_sticky:
            bad_weights.append(f"{rule.key} {list(weights)} stickiness {stickiness_text(sticky)}")
    try:
        validate_plan(plan, function_names)
        limits = ""
    except PlanError as exc:
        limits = "; ".join(line.strip() for line in str(exc).splitlines()[1:])
    return [
        Invariant("one rule per (listener, priority)", not duplicates,
                  ", ".join(duplicates) or f"{len(plan)} rules, {len({(r.alb, r.priority) for r in plan})} slots"),
        Invariant("no shadowed rule", not shadowed,
                  ", ".join(f"{key} shadowed by {winner}" for key, winner in shadowed)
                  or "every rule wins its own sample request"),
        Invariant("valid weights and stickiness", not bad_weights,
                  "; ".join(bad_weights) or _weights_detail(weighted, percent, by_route, expected_weights)),
        Invariant("AWS limits (validate_plan)", not limits, limits or "ok"),
        _override_invariant(plan),
    ]


def _weights_detail(weighted: Sequence[PlannedRule], percent: int, by_route: Mapping[str, int],
                    expected_weights: tuple[int, int]) -> str:
    own = {r.key: by_route[r.key] for r in weighted if r.key in by_route}
    text = (f"{len(weighted) - len(own)} weighted rules at {list(expected_weights)}, stickiness "
            f"{stickiness_text(stickiness_for(percent))}")
    return text + "".join(f"; {key} at {list(weights_for(p))}, stickiness {stickiness_text(stickiness_for(p))}"
                          for key, p in own.items())


def _override_invariant(plan: Sequence[PlannedRule]) -> Invariant:
    """Either no override rules at all (disabled) or, per weighted rule, one to each side, both evaluated first
    (production contract P11.1)."""
    overrides = [r for r in plan if r.is_override]
    if not overrides:
        return Invariant("override header rules", True, "disabled (scorerOverrideHeader: false)")
    problems = []
    for rule in (r for r in plan if r.is_weighted and not r.is_extra):  # extra routes have no override rules
        own = [r for r in overrides if r.override_of == rule.key]
        targets = sorted(r.targets[0].target_group for r in own)
        if len(own) != 2 or targets != sorted(t.target_group for t in rule.targets):
            problems.append(f"{rule.key}: {len(own)} override rules to {targets}")
        problems.extend(f"{r.key} ({r.priority}) after {rule.key} ({rule.priority})" for r in own
                        if r.priority > rule.priority)
    header = overrides[0].header
    detail = (f"{len(overrides)} rules, {header.name if header else '?'}: one to each side before each weighted rule"
              if not problems else "; ".join(problems))
    return Invariant("override header rules", not problems, detail)


def plan_changes(before: Sequence[PlannedRule], after: Sequence[PlannedRule]) -> list[RuleChange]:
    """Weighted rules whose weights or stickiness differ between two plans of the same stack."""
    old = {r.key: r for r in before if r.is_weighted}
    changes = []
    for rule in after:
        previous = old.get(rule.key)
        if previous is None or not rule.is_weighted:
            continue
        w_before = (previous.targets[0].weight or 0, previous.targets[1].weight or 0)
        w_after = (rule.targets[0].weight or 0, rule.targets[1].weight or 0)
        if w_before != w_after or previous.stickiness != rule.stickiness:
            changes.append(RuleChange(rule.key, rule.alb, rule.priority, w_before, w_after,
                                      stickiness_text(previous.stickiness), stickiness_text(rule.stickiness)))
    return changes
