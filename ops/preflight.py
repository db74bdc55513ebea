"""Pre-flight of the first `pulumi up` on listeners that already hold rules owned by another program (routing
contract §3.1, §6.3, §6.4). Pure: compares the stack's rule plan with the live rules of both listeners, as
`ops.drift.parse_live_rule` gives them.

Per planned rule, in this order:

- `conflict`: a live rule at our priority with other conditions; its owner must move it (do not import it).
- `shadowed`: a live rule with a lower number on the same listener matches our sample request (§3.3); our rule would
  never be reached.
- `may-shadow`: such a rule has conditions this check cannot evaluate (query-string, source-ip, http-header, …) and
  its path / method / host conditions do not rule our sample request out; treated like `shadowed` until checked.
- `adopt`: a live rule at our priority with the same conditions (the same endpoint); import it or have its owner
  remove it.
- `free`: our priority is free and nothing shadows it.

Live rules at one of our own priorities are not counted as shadowing: `pulumi up` puts our rule there, and the plan's
own order is checked by `components.routing.find_shadowed`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

from components.routing import PlannedRule, sample_request
from ops.drift import LiveRule, planned_conditions

Status = Literal["free", "adopt", "conflict", "shadowed", "may-shadow"]
Match = Literal["match", "no-match", "maybe"]
BLOCKING: frozenset[str] = frozenset({"conflict", "shadowed", "may-shadow"})
STATUSES: tuple[Status, ...] = ("conflict", "shadowed", "may-shadow", "adopt", "free")
EVALUATED_FIELDS = frozenset({"path-pattern", "http-request-method", "host-header"})
RULE_IMPORT_TYPE = "aws:lb/listenerRule:ListenerRule"


def match_live_rule(rule: LiveRule, path: str, method: str, host: str) -> Match:
    """Whether a live rule matches a request, with the semantics of `first_match` (§3.1).

    Path case-sensitive with `*` spanning `/`; method exact; host case-insensitive with `*` / `?`. Conditions are
    ANDed and a condition's values ORed. `maybe`: nothing evaluated rules the request out, but the rule has other
    conditions (query-string, source-ip, http-header, …) that cannot be judged from a path, method and host.
    """
    checks = {
        "path-pattern": lambda value: fnmatchcase(path, value),
        "http-request-method": lambda value: method == value,
        "host-header": lambda value: fnmatchcase(host.lower(), value.lower()),
    }
    for field, values in rule.conditions.items():
        if field in checks and not any(checks[field](v) for v in values):
            return "no-match"
    return "maybe" if set(rule.conditions) - EVALUATED_FIELDS else "match"


@dataclass(frozen=True)
class Shadow:
    rule: LiveRule
    certain: bool  # False: "may shadow" (unevaluated conditions)


@dataclass(frozen=True)
class RuleCheck:
    """One planned rule: the live rule at its priority, the lower-numbered live rules that catch its sample request,
    and the resulting status."""

    planned: PlannedRule
    at_priority: LiveRule | None
    shadows: tuple[Shadow, ...]

    @property
    def same_endpoint(self) -> bool:
        return self.at_priority is not None and self.at_priority.conditions == planned_conditions(self.planned)

    @property
    def status(self) -> Status:
        if self.at_priority is not None and not self.same_endpoint:
            return "conflict"
        if any(s.certain for s in self.shadows):
            return "shadowed"
        if self.shadows:
            return "may-shadow"
        return "adopt" if self.at_priority is not None else "free"

    @property
    def blocking(self) -> bool:
        return self.status in BLOCKING


def check_rule(planned: PlannedRule, live_rules: Sequence[LiveRule], our_priorities: frozenset[int]) -> RuleCheck:
    """Compare one planned rule with the live rules of its listener."""
    at_priority = next((r for r in live_rules if r.priority == planned.priority), None)
    request = sample_request(planned)
    shadows = []
    for rule in sorted(live_rules, key=lambda r: r.priority):
        if rule.priority >= planned.priority or rule.priority in our_priorities:
            continue
        match = match_live_rule(rule, *request)
        if match != "no-match":
            shadows.append(Shadow(rule, certain=match == "match"))
    return RuleCheck(planned, at_priority, tuple(shadows))


def check_plan(plan: Sequence[PlannedRule], live_by_alb: Mapping[str, Sequence[LiveRule]]) -> list[RuleCheck]:
    """Every planned rule (plan order) against the live rules of its listener."""
    checks = []
    for planned in plan:
        ours = frozenset(r.priority for r in plan if r.alb == planned.alb)
        checks.append(check_rule(planned, live_by_alb.get(planned.alb, ()), ours))
    return checks


def live_rule_text(rule: LiveRule) -> str:
    """`1001: POST /registry/submit-passport → submit-passport-tg` (conditions this check cannot evaluate named)."""
    conditions = rule.conditions
    parts = [",".join(conditions.get("http-request-method", ())) or "any",
             ",".join(conditions.get("path-pattern", ())) or "any-path"]
    if conditions.get("host-header"):
        parts.append("host " + ",".join(conditions["host-header"]))
    parts.extend(f"+{field}" for field in sorted(set(conditions) - EVALUATED_FIELDS))
    if rule.targets:
        action = ",".join(t.target_group if t.weight is None else f"{t.target_group}={t.weight}"
                          for t in rule.targets)
    else:
        action = ",".join(rule.action_types) or "no action"
    return f"{rule.priority}: {' '.join(parts)} → {action}"


def todo_text(check: RuleCheck) -> str:
    """What the operator does about one planned rule."""
    status, planned = check.status, check.planned
    if status == "conflict":
        return f"its owner must move rule {planned.priority} to a free priority first (do not import it)"
    if status in ("shadowed", "may-shadow"):
        numbers = ", ".join(str(s.rule.priority) for s in check.shadows)
        if status == "shadowed":
            return f"rule {numbers} catches our requests: its owner must move, narrow or delete it"
        return (f"rule {numbers} may catch our requests (conditions not evaluated; check them): move, narrow or "
                "delete it, or confirm it cannot match")
    if status == "adopt":
        return f"import as {planned.resource_name} (id below) or have its owner remove it"
    return "none: `pulumi up` creates it"


def _live_data(rule: LiveRule) -> dict[str, Any]:
    return {"priority": rule.priority, "rule_arn": rule.arn,
            "conditions": {field: list(values) for field, values in sorted(rule.conditions.items())},
            "unevaluated_conditions": sorted(set(rule.conditions) - EVALUATED_FIELDS),
            "summary": live_rule_text(rule)}


def check_data(check: RuleCheck) -> dict[str, Any]:
    """One planned rule's result as JSON-able data."""
    planned = check.planned
    data: dict[str, Any] = {
        "alb": planned.alb, "priority": planned.priority, "key": planned.key, "status": check.status,
        "planned": {field: list(values) for field, values in planned_conditions(planned).items()},
        "live": None if check.at_priority is None else _live_data(check.at_priority),
        "shadowed_by": [{**_live_data(s.rule), "certain": s.certain} for s in check.shadows],
        "todo": todo_text(check), "import": None}
    if check.same_endpoint:
        assert check.at_priority is not None
        data["import"] = import_entry(check)
    return data


def import_entry(check: RuleCheck) -> dict[str, str]:
    """The `pulumi import` entry of a live rule this program takes over (§6.4 Option A)."""
    assert check.at_priority is not None
    return {"type": RULE_IMPORT_TYPE, "name": check.planned.resource_name, "parent": check.planned.parent,
            "id": check.at_priority.arn}


def summary_counts(checks: Sequence[RuleCheck]) -> dict[str, int]:
    return {status: sum(1 for c in checks if c.status == status) for status in STATUSES}
