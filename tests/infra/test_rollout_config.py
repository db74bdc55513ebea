"""Per-route percentages (`scorerPercentByRoute`, P11.3) and extra shared routes (`extraSharedRoutes`, P11.4): the
pure parsers, the plan, and the program under mocks for every stack."""

from __future__ import annotations

import json

import pulumi
import pytest

from components.inventory import SCORER_TARGET_GROUPS, SHARED_ROUTES
from components.rollout_config import parse_extra_routes, scorer_route_problem
from components.routing import find_shadowed, plan_rules, validate_plan
from components.settings import SettingsError, parse_settings

from .helpers import RULE_TYPE, STACKS, duplicates, stack_config, tg_arn, wire_conditions, wire_stickiness, wire_targets

# The three routes the upstream later split (P11.4), at priorities free in this program's plan.
EXTRAS = [
    {"key": "cc-score-get", "listener": "public", "priority": 1008, "path": "/ceramic-cache/score/*",
     "methods": ["GET"], "legacyTargetGroup": "l-cc-v1-score-GET-0"},
    {"key": "cc-weights-get", "listener": "public", "priority": 1009, "path": "/ceramic-cache/weights",
     "methods": ["GET"], "legacyTargetGroup": "cc-weights-GET-0"},
    {"key": "cc-stamp-get", "listener": "public", "priority": 1011, "path": "/ceramic-cache/stamp",
     "methods": ["GET"], "legacyTargetGroup": "l-cc-v1-st-GET-0"},
]
BY_ROUTE = {"cc-bulk-post": 50, "embed-score": 0, "v2-stamp-score": 100, "cc-weights-get": 25}


def settings_with(stack: str = "production", **overrides: str | None):
    return parse_settings(stack_config(stack, **overrides), stack)


def test_per_route_percentages_override_scorer_percent_in_the_plan():
    settings = settings_with(scorerPercent="5", scorerPercentByRoute=json.dumps({"cc-bulk-post": 50,
                                                                                 "embed-score": "0"}))
    weighted = {r.key: r for r in plan_rules(settings) if r.is_weighted}
    assert len(weighted) == 8
    for key, rule in weighted.items():
        p = {"cc-bulk-post": 50, "embed-score": 0}.get(key, 5)
        assert [t.weight for t in rule.targets] == [100 - p, p], key
        assert rule.stickiness is not None and rule.stickiness.enabled == (0 < p < 100), key
    assert settings.percent_for("cc-bulk-post") == 50 and settings.percent_for("cc-score-post") == 5


@pytest.mark.parametrize(("value", "shown"), [(101, "101"), (-1, "-1"), ("5%", "'5%'"), (12.5, "12.5"),
                                              (True, "True")])
def test_bad_per_route_percentage_names_route_key_and_value(value, shown):
    with pytest.raises(SettingsError) as excinfo:
        settings_with(scorerPercentByRoute=json.dumps({"cc-bulk-patch": value}))
    assert f"scorerPercentByRoute.cc-bulk-patch for stack 'production' must be an integer from 0 to 100, got " \
           f"{shown}" in str(excinfo.value)


def test_unknown_route_key_and_non_object_are_refused():
    with pytest.raises(SettingsError, match=r"scorerPercentByRoute.cc-authenticate .*unknown route key"):
        settings_with(scorerPercentByRoute=json.dumps({"cc-authenticate": 5}))
    with pytest.raises(SettingsError, match=r"scorerPercentByRoute for stack 'production' must be an object"):
        settings_with(scorerPercentByRoute="[5]")


def test_extra_routes_are_accepted_planned_and_shadow_nothing():
    settings = settings_with(scorerPercent="5", extraSharedRoutes=json.dumps(EXTRAS),
                             scorerPercentByRoute=json.dumps({"cc-weights-get": 25}))
    plan = plan_rules(settings)
    validate_plan(plan)
    assert find_shadowed(plan) == []
    assert duplicates((r.alb, r.priority) for r in plan) == []
    extras = {r.key: r for r in plan if r.is_extra}
    assert set(extras) == {"cc-score-get", "cc-weights-get", "cc-stamp-get"}
    weights = extras["cc-weights-get"].targets
    assert [(t.target_group, t.weight, t.is_external) for t in weights] == \
        [("cc-weights-GET-0", 75, True), ("l-passport-v2-scorer", 25, False)]
    assert [t.weight for t in extras["cc-score-get"].targets] == [95, 5]
    assert all(r.alias_of is None and r.stickiness.enabled for r in extras.values())
    assert not any(r.override_of in extras for r in plan), "extra routes get no override header rules"
    # GET and POST on /ceramic-cache/score/* are different rules; each wins its own request.
    post = next(r for r in plan if r.key == "cc-score-post")
    assert post.priority < extras["cc-score-get"].priority


@pytest.mark.parametrize(("entry", "message"), [
    ({"path": "/ceramic-cache/authenticate", "methods": ["POST"]},
     "does not serve POST /ceramic-cache/authenticate"),
    ({"path": "/ceramic-cache/score/*", "methods": ["GET", "OPTIONS"]}, "does not serve OPTIONS"),
    ({"path": "/v2/stamps/*/score/*/history", "methods": ["GET"]}, "does not serve GET /v2/stamps/*/score/*/history"),
    ({"methods": []}, "methods must be a non-empty list"),
    ({"listener": "private"}, "listener must be one of public, internal"),
    ({"legacyTargetGroup": "l-cc-v1-score-POST-0"}, "is a target group this program creates"),
    ({"legacyTargetGroup": "-bad-"}, "target group name '-bad-'"),
    ({"key": "cc-bulk-post"}, "already a route of the inventory"),
])
def test_extra_routes_refused_with_a_clear_message(entry, message):
    bad = {**EXTRAS[0], **entry}
    with pytest.raises(SettingsError) as excinfo:
        settings_with(extraSharedRoutes=json.dumps([bad]))
    text = str(excinfo.value)
    assert f"extraSharedRoutes[0] ({bad['key']})" in text and message in text, text


def test_extra_route_missing_field_and_non_list():
    with pytest.raises(ValueError, match="needs the fields"):
        parse_extra_routes(json.dumps([{k: v for k, v in EXTRAS[0].items() if k != "priority"}]), "production")
    with pytest.raises(ValueError, match="must be a list of objects"):
        parse_extra_routes('{"key": "x"}', "production")


def test_scorer_route_table_check_matches_the_upstream_split_routes():
    assert scorer_route_problem("/ceramic-cache/score/*", ("GET",)) is None
    assert scorer_route_problem("/ceramic-cache/weights", ("GET",)) is None
    assert scorer_route_problem("/ceramic-cache/stamp", ("GET",)) is None
    assert "does not serve POST" in scorer_route_problem("/ceramic-cache/weights", ("POST",))


def test_an_extra_route_at_a_taken_priority_or_shadowed_is_caught_by_the_plan_checks():
    taken = settings_with(extraSharedRoutes=json.dumps([{**EXTRAS[0], "priority": 1002}]))
    with pytest.raises(ValueError, match="priority 1002 is used 2 times"):
        validate_plan(plan_rules(taken))
    # At 900, before the override rules (901/902) of POST /ceramic-cache/score/*, a GET rule shadows nothing; a
    # method-less twin would shadow them, but methods are required for extras, so that cannot be configured.
    early = settings_with(extraSharedRoutes=json.dumps([{**EXTRAS[0], "priority": 900}]))
    assert find_shadowed(plan_rules(early)) == []


@pytest.mark.parametrize("stack", STACKS)
def test_program_per_route_weights_stickiness_and_extras(run_stack, stack):
    raw = stack_config(stack, scorerPercent="5", scorerPercentByRoute=json.dumps(BY_ROUTE),
                       extraSharedRoutes=json.dumps(EXTRAS))
    run = run_stack(stack, raw)
    rules = run.of_type(RULE_TYPE)
    assert duplicates((r.inputs["listenerArn"], int(r.inputs["priority"])) for r in rules) == []
    assert len(rules) == 28 + 3, "28 rules of the program and 3 extra weighted rules"
    for key in [r.key for r in SHARED_ROUTES] + [e["key"] for e in EXTRAS]:
        p = BY_ROUTE.get(key, 5)
        rule = run.named(RULE_TYPE, f"route-{key}")
        assert [w for _, w in wire_targets(rule)] == [100 - p, p], f"{stack} {key}"
        assert wire_stickiness(rule) == (0 < p < 100, 3600), f"{stack} {key} stickiness"
    for extra in EXTRAS:
        rule = run.named(RULE_TYPE, f"route-{extra['key']}")
        # The legacy TG is looked up by name (mocked getTargetGroup), the scorer TG is the program's own.
        assert [arn for arn, _ in wire_targets(rule)] == [tg_arn(extra["legacyTargetGroup"]),
                                                          tg_arn(SCORER_TARGET_GROUPS["public"])]
        assert wire_conditions(rule) == {"pathPattern": [extra["path"]], "httpRequestMethod": ["GET"]}
    assert run.exports["scorer_percent_by_route"] == {**{k: 5 for k in [r.key for r in SHARED_ROUTES]},
                                                      **{e["key"]: 5 for e in EXTRAS}, **BY_ROUTE}
    created = {r.inputs.get("name") for r in run.of_type("aws:lb/targetGroup:TargetGroup")}
    assert not created & {e["legacyTargetGroup"] for e in EXTRAS}, "extra legacy TGs are never created"


def test_program_refuses_a_bad_per_route_value_before_registering(run_stack, mocks):
    with pytest.raises(pulumi.RunError, match=r"scorerPercentByRoute.embed-stamps for stack 'production' must be an "
                                              r"integer from 0 to 100, got 250"):
        run_stack("production", stack_config("production", scorerPercentByRoute='{"embed-stamps": 250}'))
    assert mocks.resources == []


def test_program_refuses_an_extra_route_the_scorer_does_not_serve(run_stack, mocks):
    bad = [{**EXTRAS[0], "key": "cc-auth-get", "path": "/ceramic-cache/authenticate"}]
    with pytest.raises(pulumi.RunError, match="refused: the scorer's route table"):
        run_stack("production", stack_config("production", extraSharedRoutes=json.dumps(bad)))
    assert mocks.resources == []
