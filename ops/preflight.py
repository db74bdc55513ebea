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
  remove it. Also when our priority is free and a live rule with the same conditions sits at a number the plan does
  not use (the legacy v2 rule at 2023 for the weighted rule now at 2026): imported, `pulumi up` moves it in place.
- `free`: our priority is free and nothing shadows it.

Live rules at one of our own priorities, and live rules adopted by a move, are not counted as shadowing: `pulumi up`
puts our rule there (or moves them), and the plan's own order is checked by `components.routing.find_shadowed`.
Sample requests are those of `find_shadowed`, with every header variant of `sample_header_variants` (P11.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any, Literal

from components.routing import PlannedRule, sample_header_variants, sample_request
from ops.drift import LiveRule, planned_conditions

Status = Literal["free", "adopt", "conflict", "shadowed", "may-shadow"]
Match = Literal["match", "no-match", "maybe"]
BLOCKING: frozenset[str] = frozenset({"conflict", "shadowed", "may-shadow"})
STATUSES: tuple[Status, ...] = ("conflict", "shadowed", "may-shadow", "adopt", "free")
EVALUATED_FIELDS = frozenset({"path-pattern", "http-request-method", "host-header"})
RULE_IMPORT_TYPE = "aws:lb/listenerRule:ListenerRule"


def is_evaluated(field: str) -> bool:
    """Conditions this check can judge: path, method, host, and http-header conditions whose name is known."""
    return field in EVALUATED_FIELDS or field.startswith("http-header:")


def match_live_rule(rule: LiveRule, path: str, method: str, host: str,
                    headers: Mapping[str, str] | None = None) -> Match:
    """Whether a live rule matches a request, with the semantics of `first_match` (§3.1).

    Path case-sensitive with `*` spanning `/`; method exact; host and http-header values case-insensitive with
    `*` / `?`. Conditions are ANDed and a condition's values ORed. `maybe`: nothing evaluated rules the request out,
    but the rule has other conditions (query-string, source-ip, …) that cannot be judged from the request's path,
    method, host and headers.
    """
    sent = {name.lower(): value.lower() for name, value in (headers or {}).items()}
    checks = {
        "path-pattern": lambda value: fnmatchcase(path, value),
        "http-request-method": lambda value: method == value,
        "host-header": lambda value: fnmatchcase(host.lower(), value.lower()),
    }
    for field, values in rule.conditions.items():
        if field.startswith("http-header:"):
            value = sent.get(field.removeprefix("http-header:"))
            if value is None or not any(fnmatchcase(value, v.lower()) for v in values):
                return "no-match"
        elif field in checks and not any(checks[field](v) for v in values):
            return "no-match"
    return "maybe" if any(not is_evaluated(field) for field in rule.conditions) else "match"


@dataclass(frozen=True)
class Shadow:
    rule: LiveRule
    certain: bool  # False: "may shadow" (unevaluated conditions)


@dataclass(frozen=True)
class RuleCheck:
    """One planned rule: the live rule at its priority, a live rule of the same endpoint elsewhere that it adopts by a
    move, the lower-numbered live rules that catch its sample requests, and the resulting status."""

    planned: PlannedRule
    at_priority: LiveRule | None
    shadows: tuple[Shadow, ...]
    moves_from: LiveRule | None = None

    @property
    def same_endpoint(self) -> bool:
        return self.at_priority is not None and self.at_priority.conditions == planned_conditions(self.planned)

    @property
    def adopted(self) -> LiveRule | None:
        """The live rule to import as this planned rule (at its priority, or moved), None if there is none."""
        return self.at_priority if self.same_endpoint else self.moves_from if self.at_priority is None else None

    @property
    def status(self) -> Status:
        if self.at_priority is not None and not self.same_endpoint:
            return "conflict"
        if any(s.certain for s in self.shadows):
            return "shadowed"
        if self.shadows:
            return "may-shadow"
        return "adopt" if self.adopted is not None else "free"

    @property
    def blocking(self) -> bool:
        return self.status in BLOCKING


def check_rule(planned: PlannedRule, live_rules: Sequence[LiveRule], our_priorities: frozenset[int],
               header_variants: Sequence[Mapping[str, str]] = ({},), moves_from: LiveRule | None = None,
               moving: frozenset[int] = frozenset()) -> RuleCheck:
    """Compare one planned rule with the live rules of its listener.

    `header_variants`: the header sets of its sample requests; `moving`: priorities of live rules adopted by a move,
    which leave their number in the same `pulumi up` and so shadow nothing.
    """
    at_priority = next((r for r in live_rules if r.priority == planned.priority), None)
    path, method, host = sample_request(planned)
    shadows = []
    for rule in sorted(live_rules, key=lambda r: r.priority):
        if rule.priority >= planned.priority or rule.priority in our_priorities or rule.priority in moving:
            continue
        matches = {match_live_rule(rule, path, method, host, headers) for headers in header_variants}
        if matches != {"no-match"}:
            shadows.append(Shadow(rule, certain="match" in matches))
    return RuleCheck(planned, at_priority, tuple(shadows), moves_from)


def check_plan(plan: Sequence[PlannedRule], live_by_alb: Mapping[str, Sequence[LiveRule]]) -> list[RuleCheck]:
    """Every planned rule (plan order) against the live rules of its listener."""
    moves = _moves(plan, live_by_alb)
    checks = []
    for planned in plan:
        ours = frozenset(r.priority for r in plan if r.alb == planned.alb)
        moving = frozenset(rule.priority for (alb, _), rule in moves.items() if alb == planned.alb)
        checks.append(check_rule(planned, live_by_alb.get(planned.alb, ()), ours,
                                 sample_header_variants(planned, plan), moves.get((planned.alb, planned.key)), moving))
    return checks


def _moves(plan: Sequence[PlannedRule], live_by_alb: Mapping[str, Sequence[LiveRule]]) -> dict[tuple[str, str],
                                                                                                 LiveRule]:
    """Planned rules whose priority is free while a live rule of the same endpoint sits at a number the plan does not
    use: (ALB, key) → that live rule (the lowest-numbered one)."""
    moves = {}
    for planned in plan:
        live_rules = sorted(live_by_alb.get(planned.alb, ()), key=lambda r: r.priority)
        ours = {r.priority for r in plan if r.alb == planned.alb}
        if any(r.priority == planned.priority for r in live_rules):
            continue
        same = [r for r in live_rules if r.priority not in ours and r.conditions == planned_conditions(planned)]
        if same:
            moves[(planned.alb, planned.key)] = same[0]
    return moves


def live_rule_text(rule: LiveRule) -> str:
    """`1001: POST /registry/submit-passport → submit-passport-tg` (conditions this check cannot evaluate named)."""
    conditions = rule.conditions
    parts = [",".join(conditions.get("http-request-method", ())) or "any",
             ",".join(conditions.get("path-pattern", ())) or "any-path"]
    if conditions.get("host-header"):
        parts.append("host " + ",".join(conditions["host-header"]))
    parts.extend(f"header {field.removeprefix('http-header:')}={','.join(values)}"
                 for field, values in sorted(conditions.items()) if field.startswith("http-header:"))
    parts.extend(f"+{field}" for field in sorted(f for f in conditions if not is_evaluated(f)))
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
    if status == "adopt" and check.at_priority is None and check.moves_from is not None:
        return (f"import rule {check.moves_from.priority} as {planned.resource_name} (id below): `pulumi up` moves it "
                f"to {planned.priority}; not imported, it stays at {check.moves_from.priority} and shadows our rules")
    if status == "adopt":
        return f"import as {planned.resource_name} (id below) or have its owner remove it"
    return "none: `pulumi up` creates it"


def _live_data(rule: LiveRule) -> dict[str, Any]:
    return {"priority": rule.priority, "rule_arn": rule.arn,
            "conditions": {field: list(values) for field, values in sorted(rule.conditions.items())},
            "unevaluated_conditions": sorted(f for f in rule.conditions if not is_evaluated(f)),
            "summary": live_rule_text(rule)}


def check_data(check: RuleCheck) -> dict[str, Any]:
    """One planned rule's result as JSON-able data."""
    planned = check.planned
    data: dict[str, Any] = {
        "alb": planned.alb, "priority": planned.priority, "key": planned.key, "status": check.status,
        "planned": {field: list(values) for field, values in planned_conditions(planned).items()},
        "live": None if check.at_priority is None else _live_data(check.at_priority),
        "moves_from": None if check.adopted is None or check.adopted is check.at_priority else
        _live_data(check.adopted),
        "shadowed_by": [{**_live_data(s.rule), "certain": s.certain} for s in check.shadows],
        "todo": todo_text(check), "import": None}
    if check.adopted is not None:
        data["import"] = import_entry(check)
    return data


def import_entry(check: RuleCheck) -> dict[str, str]:
    """The `pulumi import` entry of a live rule this program takes over (§6.4 Option A)."""
    assert check.adopted is not None
    return {"type": RULE_IMPORT_TYPE, "name": check.planned.resource_name, "parent": check.planned.parent,
            "id": check.adopted.arn}


def summary_counts(checks: Sequence[RuleCheck]) -> dict[str, int]:
    return {status: sum(1 for c in checks if c.status == status) for status in STATUSES}
