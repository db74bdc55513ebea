"""The pure rule plan: one rule per priority, weights and stickiness, aliases, shadowing, limits, the routing table
and the offline CLI (routing contract §3, §5, §6.2, §9, §11)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace

import pytest

from components.routing import (
    ROUTES,
    PlanError,
    PlannedTarget,
    Stickiness,
    find_shadowed,
    first_match,
    plan_rules,
    routing_table,
    validate_plan,
)
from components.settings import load_stack_settings

from .helpers import ROOT, STACKS

SHARED_KEYS = ("cc-score-post", "cc-bulk-post", "cc-bulk-patch", "cc-bulk-delete", "v2-stamp-score", "embed-stamps",
               "embed-validate-key", "embed-score")


@pytest.fixture(scope="module")
def production():
    return load_stack_settings("production", ROOT)


def _plan(settings, percent=None):
    return plan_rules(settings if percent is None else settings.with_percent(percent))


def _by_key(plan):
    return {rule.key: rule for rule in plan}


@pytest.mark.parametrize("stack", STACKS)
def test_plan_has_one_rule_per_listener_priority(stack):
    plan = plan_rules(load_stack_settings(stack, ROOT))
    validate_plan(plan)
    pairs = Counter((r.alb, r.priority) for r in plan)
    assert [pair for pair, n in pairs.items() if n > 1] == [], f"{stack}: duplicate (listener, priority)"
    assert len(plan) == 28, "12 rules of the contract and 16 override header rules"
    assert Counter(r.alb for r in plan) == {"public": 19, "internal": 9}
    assert Counter(r.owner for r in plan) == {"routing": 26, "component": 2}


@pytest.mark.parametrize("percent", [0, 1, 50, 99, 100])
def test_weighted_rules_split_legacy_then_scorer(production, percent):
    plan = _by_key(_plan(production, percent))
    for key in SHARED_KEYS:
        rule = plan[key]
        scorer_tg = "l-passport-v2-scorer" if rule.alb == "public" else "l-passport-v2-scorer-int"
        assert [t.target_group for t in rule.targets][1] == scorer_tg, f"route {key}: second target is the scorer"
        assert [t.weight for t in rule.targets] == [100 - percent, percent], f"route {key}: weights at p={percent}"
        assert rule.stickiness == Stickiness(0 < percent < 100, 3600), f"route {key}: stickiness at p={percent}"


def test_every_weighted_rule_aliases_the_component_rule_it_replaces(production):
    legacy_function = {route.key: route.legacy_function for route in ROUTES}
    weighted = [rule for rule in plan_rules(production) if rule.owner == "routing" and rule.is_weighted]
    assert sorted(rule.key for rule in weighted) == sorted(SHARED_KEYS)
    for rule in weighted:
        function = legacy_function[rule.key]
        assert rule.alias_of == (f"{function}-rule", function), f"route {rule.key}: alias of the component rule"
        assert (rule.resource_name, rule.parent) == (f"route-{rule.key}", "routing"), f"route {rule.key}"


def test_aliases_name_the_legacy_function_of_each_route(production):
    expected = {"cc-score-post": "cc-v1-score-POST-0", "cc-bulk-post": "cc-v1-st-bulk-POST-0",
                "cc-bulk-patch": "cc-v1-st-bulk-PATCH-0", "cc-bulk-delete": "cc-v1-st-bulk-DELETE-0",
                "v2-stamp-score": "passport-v2-stamp-score", "embed-stamps": "embed-st-lambda",
                "embed-validate-key": "embed-rl-lambda", "embed-score": "embed-gs-lambda"}
    plan = _by_key(plan_rules(production))
    assert {key: plan[key].alias_of for key in SHARED_KEYS} == {k: (f"{f}-rule", f) for k, f in expected.items()}


def test_legacy_only_rules_keep_their_own_targets(production):
    plan = _by_key(plan_rules(production))
    assert plan["cc-authenticate"].owner == "component"
    assert plan["cc-authenticate"].resource_name == "cc-auth-lambda-rule"
    assert plan["cc-authenticate"].targets == (PlannedTarget("cc-auth-lambda-target-group"),)
    assert plan["cc-authenticate"].methods == ("POST", "OPTIONS")
    assert plan["v2-model-score"].targets == (PlannedTarget("l-passport-v2-model-score"),)
    assert plan["v2-model-score"].alias_of == ("route-v2-model-score", "routing"), "reverse alias (§6.2)"
    for key in ("v2-stamp-history", "v2-catch-all"):
        assert plan[key].owner == "routing" and plan[key].stickiness is None, f"route {key}"
        assert plan[key].targets == (PlannedTarget("scorer-api-reg", None, is_external=True),), f"route {key}"
    assert plan["v2-catch-all"].methods == ()
    assert all(plan[k].hosts == ("*.passport.xyz",) for k in ("v2-model-score", "v2-stamp-history", "v2-catch-all",
                                                               "v2-stamp-score"))


def test_empty_v2_host_list_means_no_host_condition(production):
    plan = _by_key(plan_rules(replace(production, v2_host_headers=())))
    assert plan["v2-stamp-score"].hosts == () and plan["v2-catch-all"].hosts == ()
    assert find_shadowed(list(plan.values())) == []


def test_no_rule_is_shadowed(production):
    assert find_shadowed(plan_rules(production)) == []


@pytest.mark.parametrize(("alb", "method", "path", "host", "expected"), [
    ("public", "GET", "/v2/stamps/1/score/0xabc/history", "api.passport.xyz", "v2-stamp-history"),
    ("public", "GET", "/v2/stamps/1/score/0xabc", "api.passport.xyz", "v2-stamp-score"),
    ("public", "POST", "/v2/stamps/1/score/0xabc", "api.passport.xyz", "v2-catch-all"),
    ("public", "GET", "/v2/stamps/metadata", "api.passport.xyz", "v2-catch-all"),
    ("public", "GET", "/v2/stamps/0xabc", "api.passport.xyz", "v2-catch-all"),
    ("public", "GET", "/v2/models/score/0xabc", "api.passport.xyz", "v2-model-score"),
    ("public", "GET", "/v2/stamps/1/score/0xabc", "api.scorer.gitcoin.co", None),
    ("public", "GET", "/V2/stamps/1/score/0xabc", "api.passport.xyz", None),
    ("public", "POST", "/ceramic-cache/score/0xabc", "api.scorer.gitcoin.co", "cc-score-post"),
    ("public", "GET", "/ceramic-cache/score/0xabc", "api.scorer.gitcoin.co", None),
    ("public", "POST", "/ceramic-cache/stamps/bulk", "api.scorer.gitcoin.co", "cc-bulk-post"),
    ("public", "PATCH", "/ceramic-cache/stamps/bulk", "api.scorer.gitcoin.co", "cc-bulk-patch"),
    ("public", "DELETE", "/ceramic-cache/stamps/bulk", "api.scorer.gitcoin.co", "cc-bulk-delete"),
    ("public", "GET", "/ceramic-cache/stamps/bulk", "api.scorer.gitcoin.co", None),
    ("public", "POST", "/ceramic-cache/authenticate", "api.scorer.gitcoin.co", "cc-authenticate"),
    ("public", "OPTIONS", "/ceramic-cache/authenticate", "api.scorer.gitcoin.co", "cc-authenticate"),
    ("internal", "POST", "/internal/embed/stamps/0xabc", "core-alb.private", "embed-stamps"),
    ("internal", "GET", "/internal/embed/validate-api-key", "core-alb.private", "embed-validate-key"),
    ("internal", "GET", "/internal/embed/score/1/0xabc", "core-alb.private", "embed-score"),
    ("internal", "GET", "/internal/embed/score/1", "core-alb.private", None),
    ("internal", "GET", "/internal/embed/config", "core-alb.private", None),
    ("public", "GET", "/v2/stamps/1/score/0xabc", "API.Passport.XYZ", "v2-stamp-score"),
])
def test_first_match_table(production, alb, method, path, host, expected):
    winner = first_match(plan_rules(production), alb, path, method, host)
    assert (winner.key if winner else None) == expected, f"{alb} {method} {path} host={host}"


def test_history_precedes_score_and_catch_all_comes_last(production):
    plan = _by_key(plan_rules(production))
    assert plan["v2-stamp-history"].priority < plan["v2-stamp-score"].priority
    assert plan["v2-catch-all"].priority > max(plan[k].priority for k in ("v2-model-score", "v2-stamp-history",
                                                                           "v2-stamp-score"))


def test_moving_history_after_score_is_reported_as_shadowed(production):
    # The contract's case moves history to 2024, one after the weighted rule; that rule is at 2026 now (2024/2025 are
    # its override rules), so history moves to 2027.
    plan = [replace(r, priority=2027) if r.key == "v2-stamp-history" else r for r in plan_rules(production)]
    assert find_shadowed(plan) == [("v2-stamp-history", "v2-stamp-score")]


def test_moving_catch_all_first_shadows_every_specific_v2_rule(production):
    plan = [replace(r, priority=2000) if r.key == "v2-catch-all" else r for r in plan_rules(production)]
    assert sorted(find_shadowed(plan)) == [("v2-model-score", "v2-catch-all"), ("v2-stamp-history", "v2-catch-all"),
                                           ("v2-stamp-score", "v2-catch-all"),
                                           ("v2-stamp-score-override-legacy", "v2-catch-all"),
                                           ("v2-stamp-score-override-scorer", "v2-catch-all")]


def _mutate(plan, key, **changes):
    return [replace(r, **changes) if r.key == key else r for r in plan]


def _bulk_post(**changes):
    return lambda plan: _mutate(plan, "cc-bulk-post", **changes)


def _targets(*pairs):
    return tuple(PlannedTarget(name, weight) for name, weight in pairs)


def _extra_rule_named_like_an_alias(plan):
    bulk = next(r for r in plan if r.key == "cc-bulk-post")
    return [*plan, replace(bulk, key="dup", priority=4000, path="/dup", resource_name="cc-v1-st-bulk-POST-0-rule",
                           parent="cc-v1-st-bulk-POST-0", alias_of=None)]


# case → (mutation of the valid production plan, fragment of the expected error)
LIMIT_CASES = {
    "weight 1000": (_bulk_post(targets=_targets(("l-cc-v1-st-bulk-POST-0", 1000), ("l-passport-v2-scorer", 0))),
                    "weight 1000 of l-cc-v1-st-bulk-POST-0 is outside 0..999"),
    "weight -1": (_bulk_post(targets=_targets(("l-cc-v1-st-bulk-POST-0", -1), ("l-passport-v2-scorer", 0))),
                  "weight -1 of l-cc-v1-st-bulk-POST-0 is outside"),
    "6 target groups": (_bulk_post(targets=_targets(*((f"tg-{i}", 1) for i in range(6)))),
                        "forward action has 6 target groups, over 5"),
    "same TG twice": (_bulk_post(targets=_targets(("l-passport-v2-scorer", 50), ("l-passport-v2-scorer", 50))),
                      "l-passport-v2-scorer appears twice in one forward action"),
    "duration 0": (_bulk_post(stickiness=Stickiness(True, 0)), "stickiness duration 0 is outside 1..604800"),
    "duration 604801": (_bulk_post(stickiness=Stickiness(True, 604_801)), "stickiness duration 604801 is outside"),
    "priority 0": (_bulk_post(priority=0), "priority 0 is outside 1..50000"),
    "priority 50001": (_bulk_post(priority=50_001), "priority 50001 is outside 1..50000"),
    "path over 128": (_bulk_post(path="/" + "a" * 128), "path pattern is 129 characters, over 128"),
    "path with brackets": (_bulk_post(path="/ceramic-cache/[ab]"), "characters an ALB path pattern does not allow"),
    "6 condition values": (_bulk_post(methods=("POST", "PUT", "PATCH"), hosts=("a.example", "b.example")),
                           "6 condition values, over 5"),
    "6 wildcards": (_bulk_post(path="/*/*/*/*/*/*"), "6 wildcards, over 5"),
    "4 values in one condition": (_bulk_post(methods=("POST", "PUT", "PATCH", "GET")),
                                  "http-request-method has 4 values, over 3"),
    "TG on two listeners": (lambda plan: _mutate(plan, "embed-stamps", targets=_targets(
        ("embed-st-lambda-target-group", 50), ("l-passport-v2-scorer", 50))),
        "target group l-passport-v2-scorer is referenced from listeners of ['internal', 'public']"),
    "duplicate priority": (lambda plan: _mutate(plan, "cc-bulk-patch", priority=1002),
                           "priority 1002 is used 2 times on the public listener"),
    "empty forward": (_bulk_post(targets=()), "forward action has no target group"),
    "illegal TG name": (lambda plan: _mutate(plan, "cc-authenticate", targets=(PlannedTarget("bad_name"),)),
                        "target group name 'bad_name'"),
    "alias also planned": (_extra_rule_named_like_an_alias, "is also planned as a rule of its own"),
}


@pytest.mark.parametrize("case", sorted(LIMIT_CASES))
def test_validate_plan_rejects_limit_violations(production, case):
    mutate, fragment = LIMIT_CASES[case]
    plan = plan_rules(production)
    validate_plan(plan)  # the unmodified plan is valid
    with pytest.raises(PlanError) as excinfo:
        validate_plan(mutate(plan))
    assert fragment in str(excinfo.value), f"{case}: {excinfo.value}"


def test_validate_plan_rejects_long_function_names(production):
    with pytest.raises(PlanError, match="function name"):
        validate_plan(plan_rules(production), function_names=["f" * 65])


def test_routing_table_structure_and_order(production):
    plan = plan_rules(production.with_percent(5))
    table = routing_table(plan)
    assert [(e["alb"], e["priority"]) for e in table] == sorted((e["alb"], e["priority"]) for e in table)
    entry = next(e for e in table if e["key"] == "cc-bulk-post")
    assert entry == {"key": "cc-bulk-post", "alb": "public", "priority": 1002, "path": "/ceramic-cache/stamps/bulk",
                     "methods": ["POST"], "hosts": [], "header": None, "owner": "routing",
                     "targets": [{"target_group": "l-cc-v1-st-bulk-POST-0", "weight": 95},
                                 {"target_group": "l-passport-v2-scorer", "weight": 5}],
                     "stickiness": {"enabled": True, "duration": 3600}}
    auth = next(e for e in table if e["key"] == "cc-authenticate")
    assert auth["owner"] == "component" and auth["stickiness"] is None
    assert auth["targets"] == [{"target_group": "cc-auth-lambda-target-group", "weight": None}]


def test_routing_table_with_arns(production):
    plan = plan_rules(production)
    tg_names = {t.target_group for r in plan for t in r.targets}
    table = routing_table(plan, listener_arns={"public": "L-pub", "internal": "L-int"},
                          rule_arns={r.key: f"R-{r.key}" for r in plan},
                          target_group_arns={n: f"TG-{n}" for n in tg_names})
    for entry in table:
        assert entry["listener_arn"] == ("L-pub" if entry["alb"] == "public" else "L-int"), entry["key"]
        assert entry["rule_arn"] == f"R-{entry['key']}"
        assert all(t["arn"] == f"TG-{t['target_group']}" for t in entry["targets"]), entry["key"]


def test_plan_module_imports_and_cli_run_without_a_pulumi_engine():
    result = subprocess.run([sys.executable, "-m", "components.routing", "--stack", "production", "--json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["stack"] == "production" and doc["scorer_percent"] == 0
    assert len(doc["routing_table"]) == 28
    assert all("arn" not in t for e in doc["routing_table"] for t in e["targets"]), "offline table has no ARNs"


def test_cli_text_output_lists_every_route():
    result = subprocess.run([sys.executable, "-m", "components.routing", "--stack", "staging"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "scorerPercent = 100" in result.stdout
    for key in [*SHARED_KEYS, "cc-authenticate", "v2-model-score", "v2-stamp-history", "v2-catch-all"]:
        assert key in result.stdout, f"route {key} missing from the printed table"


def test_cli_fails_on_an_unknown_stack():
    result = subprocess.run([sys.executable, "-m", "components.routing", "--stack", "nope"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1 and "Pulumi.nope.yaml" in result.stderr
