"""Routing: the rule plan of the whole program, its validation and shadowing check, and `WeightedRouting`
(routing contract §2, §3, §5, §9).

Everything up to `WeightedRouting` is pure: `plan_rules(settings)` derives every listener rule of this program (the
8 weighted, the 16 override header rules of production contract P11.1, the 2 component-owned and the 2 web-service
rules) from the inventory and the settings, and
`validate_plan`, `first_match`, `find_shadowed` and `routing_table` work on that plain data. Importing this module
needs no Pulumi engine; `python -m components.routing --stack production` prints a stack's table offline.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pulumi
import pulumi_aws as aws

from components.inventory import (  # re-exported: the routing module's default data (§2)
    ALB_KEYS,
    LEGACY_FUNCTIONS,
    LEGACY_ONLY_ROUTES,
    OVERRIDE_PRIORITIES,
    ROUTES,
    SCORER_FUNCTION_NAME,
    SCORER_TARGET_GROUPS,
    SHARED_ROUTES,
    AlbKey,
    LegacyFunction,
    Route,
    alb_arn_suffix,
    function_name_problem,
    target_group_name_problem,
)
from components.listener_rules import (
    HeaderMatch,
    RuleSpec,
    rule_conditions,
    single_forward_action,
    weighted_forward_action,
)
from components.live_rollback import RollbackPlan, SharedRule
from components.override_header import SIDES, OverrideHeader, Side
from components.settings import (
    PROJECT_DIR,
    ExtraRoute,
    Settings,
    SettingsError,
    load_stack_settings,
    parse_scorer_percent,
)

if TYPE_CHECKING:
    from components.lambda_service import LambdaService

__all__ = [
    "ALB_KEYS", "LEGACY_FUNCTIONS", "LEGACY_ONLY_ROUTES", "OVERRIDE_PRIORITIES", "ROUTES", "SCORER_FUNCTION_NAME",
    "SCORER_TARGET_GROUPS", "SHARED_ROUTES", "AlbKey", "HeaderMatch", "LegacyFunction", "PlanError", "PlannedRule",
    "PlannedTarget", "Route", "Stickiness", "WeightedRouting", "WeightedRoutingArgs", "alb_arn_suffix",
    "find_shadowed", "first_match", "format_routing_table", "override_key", "parse_scorer_percent", "plan_rules",
    "planned_conditions", "rollback_plan", "routing_table", "sample_header_variants", "sample_request",
    "stickiness_for", "validate_plan", "weights_for",
]

ROUTING_COMPONENT = "routing"
WEIGHTED_ROUTING_TYPE = "passport:scorer:WeightedRouting"
SAMPLE_HOST = "api.passport.xyz"

# AWS limits (§11)
MAX_PRIORITY = 50_000
MAX_TARGETS_PER_FORWARD = 5
MAX_WEIGHT = 999
MAX_STICKINESS_SECONDS = 604_800
MAX_PATH_LENGTH = 128
MAX_VALUES_PER_CONDITION = 3
MAX_VALUES_PER_RULE = 5
MAX_WILDCARDS_PER_RULE = 5
# ALB path-pattern characters; excluding '[' and ']' keeps fnmatch's bracket syntax out of first_match.
_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9_\-.$/~\"'@:+&*?]*$")
_METHOD = re.compile(r"^[A-Z_-]{1,40}$")


class PlanError(ValueError):
    """The rule plan violates an AWS limit or an invariant of §3/§5; the message lists every violation."""


@dataclass(frozen=True)
class PlannedTarget:
    """One target group of a rule: its AWS name and its weight (`None` for a plain single-target forward).

    `is_external` marks a target group this program only looks up (the web service's registry TG).
    """

    target_group: str
    weight: int | None = None
    is_external: bool = False


@dataclass(frozen=True)
class Stickiness:
    enabled: bool
    duration: int


@dataclass(frozen=True)
class PlannedRule:
    """One listener rule of this program, as data (§5.1, §9).

    `owner` is "routing" (child of `WeightedRouting`) or "component" (child of the legacy `LambdaService`);
    `resource_name`/`parent` are its logical name and its parent component's name; `alias_of` is the
    `(logical name, parent component)` it was known as when owned by the other side (§6.2). An override header rule
    (P11.1) has `header` set and names the shared route it overrides in `override_of`.
    """

    key: str
    alb: AlbKey
    priority: int
    path: str
    methods: tuple[str, ...]
    hosts: tuple[str, ...]
    owner: Literal["routing", "component"]
    resource_name: str
    parent: str
    targets: tuple[PlannedTarget, ...]
    stickiness: Stickiness | None = None
    alias_of: tuple[str, str] | None = None
    header: HeaderMatch | None = None
    override_of: str | None = None
    is_extra: bool = False  # an `extraSharedRoutes` weighted rule (P11.4): no alias, legacy TG looked up

    @property
    def is_weighted(self) -> bool:
        return self.stickiness is not None

    @property
    def is_override(self) -> bool:
        return self.override_of is not None

    @property
    def spec(self) -> RuleSpec:
        return RuleSpec(self.priority, self.path, self.methods, self.hosts, self.header)


def planned_conditions(rule: PlannedRule) -> dict[str, tuple[str, ...]]:
    """The conditions a planned rule is created with, as `{field: sorted values}` (the form live rules are compared
    in; hosts and header names/values lowercased, as ALB compares them)."""
    conditions = {"path-pattern": (rule.path,)}
    if rule.methods:
        conditions["http-request-method"] = tuple(sorted(rule.methods))
    if rule.hosts:
        conditions["host-header"] = tuple(sorted(h.lower() for h in rule.hosts))
    if rule.header is not None:
        conditions[f"http-header:{rule.header.name.lower()}"] = tuple(sorted(v.lower() for v in rule.header.values))
    return conditions


def rollback_plan(plan: Sequence[PlannedRule], listener_arns: Mapping[str, str], stickiness_seconds: int
                  ) -> RollbackPlan:
    """What `rollback --now` and the automatic rollback function modify: every weighted rule, by ALB then plan order
    (P11.6). Override header and legacy-only rules are not in it, so they can never be touched."""
    rules = tuple(SharedRule(r.key, r.alb, r.priority, r.targets[0].target_group, r.targets[1].target_group,
                             planned_conditions(r))
                  for alb in ALB_KEYS for r in plan if r.alb == alb and r.is_weighted)
    return RollbackPlan({alb: listener_arns[alb] for alb in ALB_KEYS}, rules, stickiness_seconds)


def weights_for(percent: int) -> tuple[int, int]:
    """Weights `[legacy, scorer]` of every weighted rule for the scorer percentage `p` (§5.3)."""
    return 100 - percent, percent


def stickiness_for(percent: int, duration: int = 3600) -> Stickiness:
    """Stickiness only while traffic is actually split (0 < p < 100), so a change to 0 or 100 is immediate (§5.3)."""
    return Stickiness(enabled=0 < percent < 100, duration=duration)


def plan_rules(settings: Settings, routes: Sequence[Route] = ROUTES) -> list[PlannedRule]:
    """Plan every listener rule of this program for one stack, sorted by (ALB, priority) (§5.1).

    Each weighted rule takes its own route's percentage (`scorerPercentByRoute`, else `scorerPercent`, P11.3), and
    so its own stickiness; the extra shared routes (P11.4) follow the inventory's routes.
    """
    plan = []
    for route in routes:
        common = {"key": route.key, "alb": route.alb, "priority": route.priority, "path": route.path,
                  "methods": route.methods, "hosts": settings.v2_host_headers if route.v2_host else ()}
        fn = settings.legacy_functions[route.legacy_function] if route.legacy_function else None
        if fn is not None and route.weighted:
            percent = settings.percent_for(route.key)
            legacy_weight, scorer_weight = weights_for(percent)
            plan.append(PlannedRule(
                **common, owner="routing", resource_name=f"route-{route.key}", parent=ROUTING_COMPONENT,
                targets=(PlannedTarget(fn.tg_name, legacy_weight),
                         PlannedTarget(SCORER_TARGET_GROUPS[route.alb], scorer_weight)),
                stickiness=stickiness_for(percent, settings.stickiness_seconds),
                alias_of=(f"{fn.name}-rule", fn.name)))
            if settings.override_header is not None:
                plan.extend(_override_rules(route, common, fn, settings.override_header))
        elif fn is not None:
            plan.append(PlannedRule(
                **common, owner="component", resource_name=f"{fn.name}-rule", parent=fn.name,
                targets=(PlannedTarget(fn.tg_name),), alias_of=(f"route-{route.key}", ROUTING_COMPONENT)))
        else:
            plan.append(PlannedRule(
                **common, owner="routing", resource_name=f"route-{route.key}", parent=ROUTING_COMPONENT,
                targets=(PlannedTarget(settings.registry_target_group_name, is_external=True),)))
    plan.extend(_extra_rule(extra, settings) for extra in settings.extra_shared_routes)
    return sorted(plan, key=lambda r: (r.alb, r.priority))


def _extra_rule(extra: ExtraRoute, settings: Settings) -> PlannedRule:
    """The weighted rule of an extra shared route (P11.4): its legacy target group exists already and is looked up
    by name (`is_external`); it has no override header rules (no priorities are reserved for them)."""
    percent = settings.percent_for(extra.key)
    legacy_weight, scorer_weight = weights_for(percent)
    return PlannedRule(
        key=extra.key, alb=extra.alb, priority=extra.priority, path=extra.path, methods=extra.methods,
        hosts=extra.hosts, owner="routing", resource_name=f"route-{extra.key}", parent=ROUTING_COMPONENT,
        targets=(PlannedTarget(extra.legacy_target_group, legacy_weight, is_external=True),
                 PlannedTarget(SCORER_TARGET_GROUPS[extra.alb], scorer_weight)),
        stickiness=stickiness_for(percent, settings.stickiness_seconds), is_extra=True)


def override_key(route_key: str, side: Side) -> str:
    """Plan key of the override rule sending a shared route's requests to one side: `cc-bulk-post-override-scorer`."""
    return f"{route_key}-override-{side}"


def _override_rules(route: Route, common: Mapping[str, Any], fn: LegacyFunction,
                    header: OverrideHeader) -> list[PlannedRule]:
    """The two single-target rules of P11.1: the route's own conditions plus the header, one per side, no stickiness."""
    targets = {"scorer": SCORER_TARGET_GROUPS[route.alb], "legacy": fn.tg_name}
    rules = []
    for side, priority in zip(SIDES, OVERRIDE_PRIORITIES[route.key], strict=True):
        key = override_key(route.key, side)
        rules.append(PlannedRule(
            **{**common, "key": key, "priority": priority}, owner="routing", resource_name=f"route-{key}",
            parent=ROUTING_COMPONENT, targets=(PlannedTarget(targets[side]),),
            header=HeaderMatch(header.name, (header.value_for(side),)), override_of=route.key))
    return rules


def validate_plan(plan: Sequence[PlannedRule], function_names: Iterable[str] = ()) -> None:
    """Reject duplicate (listener, priority) pairs and every AWS limit of §11 before anything is registered."""
    problems = [p for name in function_names if (p := function_name_problem(name))]
    for (alb, priority), count in Counter((r.alb, r.priority) for r in plan).items():
        if count > 1:
            keys = ", ".join(r.key for r in plan if (r.alb, r.priority) == (alb, priority))
            problems.append(f"priority {priority} is used {count} times on the {alb} listener ({keys})")
    for name, count in Counter(r.resource_name for r in plan).items():
        if count > 1:
            problems.append(f"rule resource name {name!r} is planned {count} times")
    existing = {(r.resource_name, r.parent) for r in plan}
    albs_of_tg: dict[str, set[str]] = defaultdict(set)
    for rule in plan:
        problems.extend(f"route {rule.key}: {p}" for p in _rule_problems(rule))
        if rule.alias_of in existing:
            problems.append(f"route {rule.key}: its alias {rule.alias_of} is also planned as a rule of its own")
        for target in rule.targets:
            albs_of_tg[target.target_group].add(rule.alb)
    for tg_name, albs in sorted(albs_of_tg.items()):
        if len(albs) > 1:
            problems.append(f"target group {tg_name} is referenced from listeners of {sorted(albs)}; "
                            "a target group can belong to one load balancer only")
    if problems:
        raise PlanError("invalid routing plan:\n  " + "\n  ".join(problems))


def _rule_problems(rule: PlannedRule) -> list[str]:
    problems = []
    if not 1 <= rule.priority <= MAX_PRIORITY:
        problems.append(f"priority {rule.priority} is outside 1..{MAX_PRIORITY}")
    if len(rule.path) > MAX_PATH_LENGTH:
        problems.append(f"path pattern is {len(rule.path)} characters, over {MAX_PATH_LENGTH}")
    if not _PATH_PATTERN.match(rule.path):
        problems.append(f"path pattern {rule.path!r} has characters an ALB path pattern does not allow")
    problems.extend(f"method {m!r} is not an upper-case HTTP method" for m in rule.methods if not _METHOD.match(m))
    header_values = rule.header.values if rule.header else ()
    for condition, values in (("http-request-method", rule.methods), ("host-header", rule.hosts),
                              ("http-header", header_values)):
        if len(values) > MAX_VALUES_PER_CONDITION:
            problems.append(f"{condition} has {len(values)} values, over {MAX_VALUES_PER_CONDITION}")
    if rule.header is not None and not header_values:
        problems.append("http-header condition has no value")
    if (total := 1 + len(rule.methods) + len(rule.hosts) + len(header_values)) > MAX_VALUES_PER_RULE:
        problems.append(f"{total} condition values, over {MAX_VALUES_PER_RULE} per rule")
    if (wildcards := sum(v.count("*") + v.count("?") for v in (rule.path, *rule.hosts, *header_values))) \
            > MAX_WILDCARDS_PER_RULE:
        problems.append(f"{wildcards} wildcards, over {MAX_WILDCARDS_PER_RULE} per rule")
    if not rule.targets:
        problems.append("forward action has no target group")
    if len(rule.targets) > MAX_TARGETS_PER_FORWARD:
        problems.append(f"forward action has {len(rule.targets)} target groups, over {MAX_TARGETS_PER_FORWARD}")
    names = [t.target_group for t in rule.targets]
    problems.extend(f"target group {n} appears twice in one forward action" for n, c in Counter(names).items() if c > 1)
    problems.extend(p for n in names if (p := target_group_name_problem(n)))
    for target in rule.targets:
        if rule.is_weighted and (target.weight is None or not 0 <= target.weight <= MAX_WEIGHT):
            problems.append(f"weight {target.weight} of {target.target_group} is outside 0..{MAX_WEIGHT}")
        if not rule.is_weighted and (target.weight is not None or len(rule.targets) != 1):
            problems.append("a rule without stickiness config must be a plain forward to one target group")
    if rule.stickiness is not None and not 1 <= rule.stickiness.duration <= MAX_STICKINESS_SECONDS:
        problems.append(f"stickiness duration {rule.stickiness.duration} is outside 1..{MAX_STICKINESS_SECONDS}")
    return problems


def first_match(plan: Sequence[PlannedRule], alb: str, path: str, method: str, host: str | None,
                headers: Mapping[str, str] | None = None) -> PlannedRule | None:
    """Return the rule of this program the ALB would pick for a request, or None (§3.1, §3.3).

    Ascending priority, first match wins; path case-sensitive with `*` spanning `/`; host case-insensitive; method
    exact; an http-header condition matches when the request carries that header (name and value case-insensitive)
    with one of its values. `host=None` matches no host condition.
    """
    sent = {name.lower(): value.lower() for name, value in (headers or {}).items()}
    for rule in sorted((r for r in plan if r.alb == alb), key=lambda r: r.priority):
        if not fnmatchcase(path, rule.path):
            continue
        if rule.methods and method not in rule.methods:
            continue
        if rule.hosts and (host is None or not any(fnmatchcase(host.lower(), h.lower()) for h in rule.hosts)):
            continue
        if rule.header is not None and not _header_matches(rule.header, sent):
            continue
        return rule
    return None


def _header_matches(header: HeaderMatch, sent: Mapping[str, str]) -> bool:
    value = sent.get(header.name.lower())
    return value is not None and any(fnmatchcase(value, v.lower()) for v in header.values)


def sample_request(rule: PlannedRule) -> tuple[str, str, str]:
    """A request built from the rule's own conditions: wildcards → "x", first method (or GET), first host."""
    path = rule.path.replace("*", "x").replace("?", "x")
    host = rule.hosts[0].replace("*", "x").replace("?", "x") if rule.hosts else SAMPLE_HOST
    return path, rule.methods[0] if rule.methods else "GET", host


def sample_header_variants(rule: PlannedRule, plan: Sequence[PlannedRule]) -> list[dict[str, str]]:
    """The header sets a rule must win its sample request with (§3.3 extended to header conditions, P11.1).

    A rule with a header condition is reached only with that header: its own first value. A rule without one matches
    whatever headers a client sends, so it must also win when the request carries any header value some rule of the
    plan on the same listener tests for (e.g. a history request sent with the override header).
    """
    if rule.header is not None:
        return [{rule.header.name: rule.header.values[0]}]
    tested = sorted({(r.header.name, v) for r in plan if r.alb == rule.alb and r.header for v in r.header.values})
    return [{}] + [{name: value} for name, value in tested]


def _overrides_on_purpose(winner: PlannedRule, rule: PlannedRule) -> bool:
    """An override rule takes its own endpoint's requests that carry the header: that is its job, not shadowing."""
    return winner.override_of == rule.key and (winner.path, winner.methods, winner.hosts) == (rule.path, rule.methods,
                                                                                            rule.hosts)


def find_shadowed(plan: Sequence[PlannedRule]) -> list[tuple[str, str | None]]:
    """Return `(route_key, winning_key | None)` for every rule that does not win its own sample request (§3.3),
    with every header variant of `sample_header_variants`; the first losing variant of a rule is reported."""
    shadowed = []
    for rule in plan:
        for headers in sample_header_variants(rule, plan):
            winner = first_match(plan, rule.alb, *sample_request(rule), headers)
            if winner is not None and (winner.key == rule.key or _overrides_on_purpose(winner, rule)):
                continue
            shadowed.append((rule.key, winner.key if winner else None))
            break
    return shadowed


def routing_table(plan: Sequence[PlannedRule], *, listener_arns: Mapping[str, Any] | None = None,
                  rule_arns: Mapping[str, Any] | None = None,
                  target_group_arns: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The operator's routing table (§9), one entry per planned rule, in plan order.

    ARN fields appear only when their mapping is given (listener by ALB key, rule by route key, TG by name); values
    may be Pulumi Outputs, which `pulumi.export` resolves.
    """
    table = []
    for rule in plan:
        entry: dict[str, Any] = {"key": rule.key, "alb": rule.alb}
        if listener_arns is not None:
            entry["listener_arn"] = listener_arns[rule.alb]
        if rule_arns is not None:
            entry["rule_arn"] = rule_arns[rule.key]
        targets = []
        for target in rule.targets:
            item: dict[str, Any] = {"target_group": target.target_group}
            if target_group_arns is not None:
                item["arn"] = target_group_arns[target.target_group]
            targets.append({**item, "weight": target.weight})
        sticky = rule.stickiness
        header = None if rule.header is None else {"name": rule.header.name, "values": list(rule.header.values)}
        table.append({**entry, "priority": rule.priority, "path": rule.path, "methods": list(rule.methods),
                      "hosts": list(rule.hosts), "header": header, "owner": rule.owner, "targets": targets,
                      "stickiness": None if sticky is None else {"enabled": sticky.enabled,
                                                                  "duration": sticky.duration}})
    return table


def format_routing_table(table: Sequence[Mapping[str, Any]]) -> str:
    """Render a routing table as aligned text columns."""
    rows = [("ALB", "PRIO", "ROUTE", "METHODS", "PATH", "HOSTS", "HEADER", "OWNER", "TARGETS (weight)", "STICKY")]
    for e in table:
        targets = ", ".join(t["target_group"] + ("" if t["weight"] is None else f"={t['weight']}")
                            for t in e["targets"])
        sticky = "-" if e["stickiness"] is None else (f"{e['stickiness']['duration']}s" if e["stickiness"]["enabled"]
                                                      else "off")
        rows.append((e["alb"], str(e["priority"]), e["key"], ",".join(e["methods"]) or "any", e["path"],
                     ",".join(e["hosts"]) or "any", header_text(e.get("header")), e["owner"], targets, sticky))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def header_text(header: Mapping[str, Any] | None) -> str:
    """`X-Scorer-Target: scorer` for a routing-table header entry, "-" for none."""
    return "-" if not header else f"{header['name']}: {','.join(header['values'])}"


@dataclass(frozen=True)
class WeightedRoutingArgs:
    """Inputs of `WeightedRouting`: the validated plan and the ARNs/components its rules refer to."""

    plan: Sequence[PlannedRule]
    listener_arns: Mapping[str, pulumi.Input[str]]
    target_group_arns: Mapping[str, pulumi.Input[str]]  # every TG this program creates, by AWS name
    services: Mapping[str, LambdaService]  # by function name: legacy services and the scorer
    component_rule_arns: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)  # by route key
    tags: Mapping[str, str] = field(default_factory=dict)


class WeightedRouting(pulumi.ComponentResource):
    """The routing-owned rules (§4.3): the weighted rules of the shared endpoints, their override header rules (P11.1)
    and the web-service rules."""

    rules: dict[str, aws.lb.ListenerRule]
    routing_table: pulumi.Output[list]
    target_group_arns: dict[str, pulumi.Input[str]]  # every TG of the plan by name, looked-up ones included

    def __init__(self, name: str, args: WeightedRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(WEIGHTED_ROUTING_TYPE, name, None, opts)
        tg_arns: dict[str, pulumi.Input[str]] = dict(args.target_group_arns)
        for external in sorted({t.target_group for r in args.plan for t in r.targets if t.is_external}):
            tg_arns[external] = aws.lb.get_target_group_output(name=external,
                                                               opts=pulumi.InvokeOptions(parent=self)).arn
        attachments_by_tg = {svc.target_group_names[alb]: svc.attachments
                             for svc in args.services.values() for alb in svc.target_groups}
        self.rules = {}
        for rule in (r for r in args.plan if r.owner == "routing"):
            depends_on, aliases = [], []
            if rule.is_weighted:
                scorer = args.services[SCORER_FUNCTION_NAME]
                # Never send traffic to a TG before its function is registered in it.
                depends_on = list(scorer.attachments)
                if rule.alias_of is not None:  # extra shared routes have neither a legacy component nor an alias
                    legacy = args.services[rule.alias_of[1]]
                    depends_on = [*legacy.attachments, *depends_on]
                    # Same resource as the component-owned rule it replaces: ModifyRule in place, no PriorityInUse
                    # (§6.2).
                    aliases = [pulumi.Alias(name=rule.alias_of[0], parent=legacy)]
                action = weighted_forward_action([(tg_arns[t.target_group], t.weight or 0) for t in rule.targets],
                                                 is_sticky=rule.stickiness.enabled,
                                                 duration=rule.stickiness.duration)
            else:
                target = rule.targets[0].target_group
                depends_on = list(attachments_by_tg.get(target, []))  # none for the external registry TG
                action = single_forward_action(tg_arns[target])
            self.rules[rule.key] = aws.lb.ListenerRule(
                rule.resource_name, listener_arn=args.listener_arns[rule.alb], priority=rule.priority,
                conditions=rule_conditions(rule.spec), actions=[action], tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, depends_on=depends_on, aliases=aliases,
                                            delete_before_replace=True))
        self.target_group_arns = tg_arns
        rule_arns = {**args.component_rule_arns, **{key: r.arn for key, r in self.rules.items()}}
        self.routing_table = pulumi.Output.from_input(routing_table(
            args.plan, listener_arns=args.listener_arns, rule_arns=rule_arns, target_group_arns=tg_arns))
        self.register_outputs({"rules": self.rules, "routing_table": self.routing_table})


def routing_component_urn() -> pulumi.Output[str]:
    """URN of the `routing` component, for the reverse alias of a component-owned rule (§6.2)."""
    return pulumi.create_urn(ROUTING_COMPONENT, WEIGHTED_ROUTING_TYPE)


def main(argv: Sequence[str] | None = None) -> int:
    """Print a stack's routing table from its committed `Pulumi.<stack>.yaml`, without a Pulumi engine (§9)."""
    parser = argparse.ArgumentParser(prog="python -m components.routing", description=main.__doc__)
    parser.add_argument("--stack", required=True, help="stack name, e.g. production")
    parser.add_argument("--project-dir", type=Path, default=PROJECT_DIR, help="directory holding Pulumi.<stack>.yaml")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args(argv)
    try:
        settings = load_stack_settings(args.stack, args.project_dir)
        plan = plan_rules(settings)
        validate_plan(plan)
    except (OSError, SettingsError, PlanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table = routing_table(plan)
    if args.json:
        print(json.dumps({"stack": settings.stack, "scorer_percent": settings.scorer_percent,
                          "scorer_percent_by_route": dict(settings.scorer_percent_by_route), "routing_table": table},
                         indent=2))
    else:
        print(f"stack {settings.stack}: scorerPercent = {settings.scorer_percent}")
        for key, percent in settings.scorer_percent_by_route.items():
            print(f"  scorerPercentByRoute: {key} = {percent}")
        print(format_routing_table(table))
    shadowed = find_shadowed(plan)
    for key, winner in shadowed:
        print(f"error: route {key} is shadowed by {winner}", file=sys.stderr)
    return 1 if shadowed else 0


if __name__ == "__main__":
    sys.exit(main())
