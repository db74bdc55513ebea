"""The override header rules (production contract P11.1): configuration, plan, shadowing with header conditions,
registrations under the Pulumi mocks and the replay into moto."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from moto import mock_aws

from components.inventory import OVERRIDE_PRIORITIES, SCORER_TARGET_GROUPS, SHARED_ROUTES
from components.listener_rules import HeaderMatch
from components.override_header import OverrideHeader, parse_override_header
from components.routing import (
    PlanError,
    PlannedRule,
    PlannedTarget,
    find_shadowed,
    first_match,
    plan_rules,
    validate_plan,
)
from components.routing import main as routing_main
from components.settings import SettingsError, load_stack_settings, parse_settings

from .helpers import ROOT, RULE_TYPE, STACKS, stack_config, tg_arn, wire_header, wire_stickiness, wire_targets
from .test_moto_replay import replay

HOST = "api.passport.xyz"
SCORER = {"X-Scorer-Target": "scorer"}
LEGACY = {"X-Scorer-Target": "legacy"}


@pytest.fixture(scope="module")
def production():
    return load_stack_settings("production", ROOT)


def _by_key(plan):
    return {rule.key: rule for rule in plan}


# --- configuration -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "expected"), [
    (None, OverrideHeader("X-Scorer-Target", "scorer", "legacy")),
    ("true", OverrideHeader()),
    ("false", None),
    ('{"name": "X-Route-To", "scorer": "new", "legacy": "old"}', OverrideHeader("X-Route-To", "new", "old")),
])
def test_override_header_config_values(raw, expected):
    assert parse_override_header(raw, "production") == expected


@pytest.mark.parametrize(("raw", "fragment"), [
    ('{"name": "X-Route-To"}', "exactly the keys name, scorer and legacy"),
    ('{"name": "X-A", "scorer": "s", "legacy": "l", "extra": 1}', "exactly the keys"),
    ('"yes"', "must be false or an object"),
    ('{"name": "Host", "scorer": "s", "legacy": "l"}', "name must be a header name"),
    ('{"name": "X Scorer", "scorer": "s", "legacy": "l"}', "name must be a header name"),
    ('{"name": "X-' + "a" * 39 + '", "scorer": "s", "legacy": "l"}', "name must be a header name"),
    ('{"name": "X-A", "scorer": "sc*", "legacy": "l"}', "scorer must be 1-128 letters"),
    ('{"name": "X-A", "scorer": "s", "legacy": ""}', "legacy must be 1-128 letters"),
    ('{"name": "X-A", "scorer": "Same", "legacy": "same"}', "scorer and legacy must differ"),
])
def test_override_header_config_rejections_name_key_and_stack(raw, fragment):
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(stack_config("production", scorerOverrideHeader=raw), "production")
    assert "scorerOverrideHeader for stack 'production'" in str(excinfo.value) and fragment in str(excinfo.value)


# --- plan ----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_every_shared_route_gets_one_override_rule_per_side(stack):
    plan = plan_rules(load_stack_settings(stack, ROOT))
    by_key = _by_key(plan)
    overrides = [r for r in plan if r.is_override]
    assert len(overrides) == 16
    for route in SHARED_ROUTES:
        weighted = by_key[route.key]
        for side, priority in zip(("scorer", "legacy"), OVERRIDE_PRIORITIES[route.key], strict=True):
            rule = by_key[f"{route.key}-override-{side}"]
            target = SCORER_TARGET_GROUPS[route.alb] if side == "scorer" else weighted.targets[0].target_group
            assert rule.targets == (PlannedTarget(target),), f"{rule.key}: single target, no weight"
            assert rule.stickiness is None and not rule.is_weighted, f"{rule.key}: no stickiness"
            assert rule.header == HeaderMatch("X-Scorer-Target", (side,)), rule.key
            assert (rule.alb, rule.path, rule.methods, rule.hosts) == (weighted.alb, weighted.path, weighted.methods,
                                                                       weighted.hosts), f"{rule.key}: conditions"
            assert rule.priority == priority < weighted.priority, f"{rule.key}: evaluated before {route.key}"
            assert (rule.owner, rule.parent, rule.resource_name, rule.alias_of) == (
                "routing", "routing", f"route-{rule.key}", None), rule.key


def test_disabling_the_header_removes_every_override_rule(production):
    plan = plan_rules(replace(production, override_header=None))
    assert len(plan) == 12 and not any(r.is_override or r.header for r in plan)
    assert find_shadowed(plan) == []


def test_a_configured_header_is_used_by_every_override_rule(production):
    settings = parse_settings(stack_config("production", scorerOverrideHeader=json.dumps(
        {"name": "X-Route-To", "scorer": "new", "legacy": "old"})), "production")
    headers = {r.key: r.header for r in plan_rules(settings) if r.is_override}
    assert len(headers) == 16
    assert {h.name for h in headers.values()} == {"X-Route-To"}
    assert {h.values for h in headers.values()} == {("new",), ("old",)}


def test_a_header_condition_counts_toward_the_condition_value_limit(production):
    settings = replace(production, v2_host_headers=("a.passport.xyz", "b.passport.xyz", "c.passport.xyz"))
    with pytest.raises(PlanError, match="v2-stamp-score-override-scorer: 6 condition values, over 5"):
        validate_plan(plan_rules(settings))
    validate_plan(plan_rules(replace(settings, override_header=None)))  # 5 values without the header


# --- evaluation and shadowing --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("alb", "method", "path", "headers", "expected"), [
    ("public", "GET", "/v2/stamps/1/score/0xabc", SCORER, "v2-stamp-score-override-scorer"),
    ("public", "GET", "/v2/stamps/1/score/0xabc", LEGACY, "v2-stamp-score-override-legacy"),
    ("public", "GET", "/v2/stamps/1/score/0xabc", {"x-scorer-target": "SCORER"}, "v2-stamp-score-override-scorer"),
    ("public", "GET", "/v2/stamps/1/score/0xabc", {"X-Scorer-Target": "other"}, "v2-stamp-score"),
    ("public", "GET", "/v2/stamps/1/score/0xabc", {}, "v2-stamp-score"),
    ("public", "GET", "/v2/stamps/1/score/0xabc/history", SCORER, "v2-stamp-history"),
    ("public", "GET", "/v2/stamps/1/score/0xabc/history", LEGACY, "v2-stamp-history"),
    ("public", "GET", "/v2/models/score/0xabc", SCORER, "v2-model-score"),
    ("public", "GET", "/v2/stamps/metadata", SCORER, "v2-catch-all"),
    ("public", "POST", "/ceramic-cache/score/0xabc", SCORER, "cc-score-post-override-scorer"),
    ("public", "GET", "/ceramic-cache/score/0xabc", SCORER, None),
    ("public", "DELETE", "/ceramic-cache/stamps/bulk", LEGACY, "cc-bulk-delete-override-legacy"),
    ("public", "POST", "/ceramic-cache/authenticate", SCORER, "cc-authenticate"),
    ("internal", "GET", "/internal/embed/score/1/0xabc", SCORER, "embed-score-override-scorer"),
    ("internal", "GET", "/internal/embed/validate-api-key", LEGACY, "embed-validate-key-override-legacy"),
    ("internal", "GET", "/internal/embed/config", SCORER, None),
])
def test_first_match_with_the_override_header(production, alb, method, path, headers, expected):
    winner = first_match(plan_rules(production), alb, path, method, HOST, headers)
    assert (winner.key if winner else None) == expected, f"{alb} {method} {path} {headers}"


@pytest.mark.parametrize("stack", STACKS)
def test_no_rule_of_the_plan_is_shadowed(stack):
    assert find_shadowed(plan_rules(load_stack_settings(stack, ROOT))) == []


def test_a_header_rule_before_history_is_caught_as_shadowing_it(production):
    """The v2 override rules placed before the history rule (2022) would send history requests that carry the header
    to the scorer: the check must report the history rule."""
    plan = [replace(r, priority={"v2-stamp-score-override-scorer": 2019,
                                 "v2-stamp-score-override-legacy": 2020}.get(r.key, r.priority))
            for r in plan_rules(production)]
    # The first losing variant is reported (header values in sorted order: legacy, then scorer).
    assert find_shadowed(plan) == [("v2-stamp-history", "v2-stamp-score-override-legacy")]
    history = "/v2/stamps/1/score/0xabc/history"
    assert first_match(plan, "public", history, "GET", HOST, SCORER).key == "v2-stamp-score-override-scorer"


def test_a_foreign_header_rule_is_caught_too(production):
    """Not only the override rules: any header rule of the plan that catches another rule's requests is reported."""
    catch = PlannedRule(key="debug-header", alb="public", priority=1, path="/*", methods=(), hosts=(), owner="routing",
                        resource_name="route-debug-header", parent="routing",
                        targets=(PlannedTarget("l-passport-v2-scorer"),), header=HeaderMatch("X-Debug", ("1",)))
    shadowed = dict(find_shadowed([catch, *plan_rules(production)]))
    public_keys = {r.key for r in plan_rules(production) if r.alb == "public"}
    assert set(shadowed) == public_keys - {r.key for r in plan_rules(production) if r.header}, shadowed
    assert set(shadowed.values()) == {"debug-header"}


def test_an_override_rule_after_its_weighted_rule_is_unreachable(production):
    plan = [replace(r, priority=1010) if r.key == "cc-bulk-post-override-scorer" else r for r in plan_rules(production)]
    assert find_shadowed(plan) == [("cc-bulk-post-override-scorer", "cc-bulk-post")]


def test_an_override_rule_may_take_only_its_own_endpoint(production):
    """An override rule whose conditions are wider than its endpoint's is not excused for taking its requests."""
    plan = [replace(r, path="/ceramic-cache/*") if r.key == "cc-score-post-override-scorer" else r
            for r in plan_rules(production)]
    shadowed = dict(find_shadowed(plan))
    assert shadowed["cc-score-post"] == "cc-score-post-override-scorer"
    assert shadowed["cc-bulk-post"] == "cc-score-post-override-scorer"


# --- the program under mocks ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_the_program_registers_16_override_rules(program_run, stack):
    run = program_run(stack)
    settings = load_stack_settings(stack, ROOT)
    listeners = {"public": settings.public_listener_arn, "internal": settings.internal_listener_arn}
    weighted = {r.key: r for r in plan_rules(settings) if r.is_weighted}
    overrides = [r for r in run.of_type(RULE_TYPE) if wire_header(r) is not None]
    assert len(overrides) == 16
    for rule in overrides:
        route_key, side = rule.name.removeprefix("route-").split("-override-")
        shared = weighted[route_key]
        assert wire_header(rule) == HeaderMatch("X-Scorer-Target", (side,)), rule.name
        target = shared.targets[1 if side == "scorer" else 0].target_group
        assert wire_targets(rule) == [(tg_arn(target), None)], f"{rule.name}: single forward to {target}"
        assert wire_stickiness(rule) is None, f"{rule.name}: no stickiness"
        assert rule.inputs["listenerArn"] == listeners[shared.alb]
        assert int(rule.inputs["priority"]) < shared.priority, f"{rule.name} before {route_key}"


def test_the_program_without_the_header_registers_no_override_rule(program_run):
    rules = program_run("production", scorerOverrideHeader="false").of_type(RULE_TYPE)
    assert len(rules) == 12 and not [r.name for r in rules if wire_header(r) is not None]


def test_moto_accepts_the_override_rules_with_their_header_condition(program_run):
    settings = load_stack_settings("staging", ROOT)
    with mock_aws():
        albs = replay(program_run("staging"), "staging")
        public = albs.rules_by_priority(settings.public_listener_arn)
        conditions = {c["Field"]: c for c in public[2024]["Conditions"]}
        target = albs.tg_name(public[2024]["Actions"][0]["TargetGroupArn"])
    assert conditions["http-header"]["HttpHeaderConfig"] == {"HttpHeaderName": "X-Scorer-Target",
                                                             "Values": ["scorer"]}
    assert target == "l-passport-v2-scorer"


def test_the_offline_routing_table_shows_the_header_column(capsys):
    assert routing_main(["--stack", "production"]) == 0
    out = capsys.readouterr().out
    assert "HEADER" in out.splitlines()[1]
    rows = [line for line in out.splitlines() if "X-Scorer-Target: " in line]
    assert len(rows) == 16 and all(" routing " in row for row in rows)
    assert any(row.split()[:3] == ["public", "2024", "v2-stamp-score-override-scorer"] for row in rows)
