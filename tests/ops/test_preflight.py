"""`preflight`: every planned rule against the live rules of an emulated ALB pair before a first deploy (routing
contract §3.1, §6.3, §6.4), and the pure matcher of `ops.preflight`."""

from __future__ import annotations

import json

import pytest

from components.routing import ROUTES, plan_rules
from components.settings import load_stack_settings
from ops.drift import LiveRule, LiveTarget
from ops.preflight import check_plan, match_live_rule

from .helpers import ROOT, boto_conditions, copy_stack_file, run_cli

PLAN = plan_rules(load_stack_settings("production", ROOT))
ALL_KEYS = {r.key for r in PLAN}
assert len(ALL_KEYS) == 28 and {r.key for r in ROUTES} <= ALL_KEYS
OVERRIDES = {r.override_of: {k.key for k in PLAN if k.override_of == r.override_of} for r in PLAN if r.is_override}
CC_KEYS = {"cc-score-post", "cc-bulk-post", "cc-bulk-patch", "cc-bulk-delete", "cc-authenticate",
           *(key for route in ("cc-score-post", "cc-bulk-post", "cc-bulk-patch", "cc-bulk-delete")
             for key in OVERRIDES[route])}
V2_KEYS = {"v2-model-score", "v2-stamp-history", "v2-stamp-score", "v2-catch-all", *OVERRIDES["v2-stamp-score"]}


def preflight(capsys, stack_dir, *extra):
    return run_cli(capsys, "preflight", "--stack", "production", "--stack-dir", stack_dir, *extra)


def statuses(capsys, stack_dir):
    run = preflight(capsys, stack_dir, "--json")
    data = json.loads(run.out)
    return run.code, data, {r["key"]: r["status"] for r in data["rules"]}


def clear_listeners(albs):
    for rule in albs.all_rules().values():
        albs.elbv2.delete_rule(RuleArn=rule["RuleArn"])
    assert albs.all_rules() == {}


def add_rule(albs, alb, priority, conditions, action=None):
    albs.elbv2.create_rule(ListenerArn=albs.listener_arns[alb], Priority=priority, Conditions=conditions, Actions=[
        action or {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "400"}}])


def path(*values):
    return {"Field": "path-pattern", "PathPatternConfig": {"Values": list(values)}}


def test_listeners_holding_the_programs_rules_are_all_adopted(emulated, capsys):
    albs, stack_dir = emulated(percent=0)

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 0
    assert len(data["rules"]) == 28 and set(by_key) == ALL_KEYS
    assert set(by_key.values()) == {"adopt"}
    assert data["counts"] == {"conflict": 0, "shadowed": 0, "may-shadow": 0, "adopt": 28, "free": 0}
    live = albs.all_rules()
    imports = {i["name"]: i for i in data["imports"]}
    assert len(imports) == 28
    assert imports["route-cc-bulk-post"]["id"] == live[("public", 1002)]["RuleArn"]
    assert imports["route-embed-score"]["id"] == live[("internal", 2103)]["RuleArn"]
    # component-owned rules are imported under the legacy function's rule name, with that component as parent
    cc_auth = next(i for i in data["imports"] if i["id"] == live[("public", 1005)]["RuleArn"])
    assert cc_auth["name"] == "cc-auth-lambda-rule" and cc_auth["parent"] == "cc-auth-lambda"
    assert cc_auth["type"] == "aws:lb/listenerRule:ListenerRule"
    text = preflight(capsys, stack_dir)
    assert text.code == 0
    assert "28 adopt: ready for the first `pulumi up` once the rules above are imported or removed" in text.out
    assert live[("public", 1002)]["RuleArn"] in text.out


def test_empty_listeners_are_all_free(emulated, capsys):
    albs, stack_dir = emulated()
    clear_listeners(albs)

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 0
    assert set(by_key) == ALL_KEYS and set(by_key.values()) == {"free"}
    assert data["imports"] == [] and data["live_rule_counts"] == {"public": 0, "internal": 0}
    assert "28 free: ready for the first `pulumi up`" in preflight(capsys, stack_dir).out


def test_a_foreign_rule_at_our_priority_is_a_conflict(emulated, capsys):
    albs, stack_dir = emulated()
    albs.elbv2.delete_rule(RuleArn=albs.rules("public")[1001]["RuleArn"])
    add_rule(albs, "public", 1001, [path("/registry/submit-passport"), {
        "Field": "http-request-method", "HttpRequestMethodConfig": {"Values": ["POST"]}}])

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 1
    assert by_key.pop("cc-score-post") == "conflict"
    assert set(by_key.values()) == {"adopt"}
    conflict = next(r for r in data["rules"] if r["key"] == "cc-score-post")
    assert conflict["live"]["conditions"]["path-pattern"] == ["/registry/submit-passport"]
    assert conflict["import"] is None and "route-cc-score-post" not in {i["name"] for i in data["imports"]}
    text = preflight(capsys, stack_dir)
    row = next(line for line in text.out.splitlines() if line.startswith("public") and " 1001 " in line)
    assert "CONFLICT" in row and "POST /registry/submit-passport" in row and "must move rule 1001" in row
    assert "NOT ready" in text.out


def test_a_lower_numbered_foreign_rule_shadows_our_rules(emulated, capsys):
    albs, stack_dir = emulated()
    add_rule(albs, "public", 900, [path("/ceramic-cache/*")])

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 1
    assert {k for k, s in by_key.items() if s == "shadowed"} == CC_KEYS
    assert {k for k, s in by_key.items() if s != "shadowed"} == ALL_KEYS - CC_KEYS
    bulk = next(r for r in data["rules"] if r["key"] == "cc-bulk-post")
    assert [s["priority"] for s in bulk["shadowed_by"]] == [900] and bulk["shadowed_by"][0]["certain"] is True
    assert bulk["import"] is not None  # the rule at 1002 is still ours to import once 900 is resolved


def test_a_lower_numbered_rule_for_another_host_does_not_shadow(emulated, capsys):
    albs, stack_dir = emulated()
    add_rule(albs, "public", 2000, [path("/v2/*"),
                                    {"Field": "host-header", "HostHeaderConfig": {"Values": ["*.gitcoin.co"]}}])

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 0, data
    assert all(by_key[k] == "adopt" for k in V2_KEYS)
    assert data["live_rule_counts"]["public"] == 20


def test_a_lower_numbered_rule_on_any_host_does_shadow_the_v2_rules(emulated, capsys):
    """The counterpart of the host test: the same rule without its host condition catches every v2 request."""
    albs, stack_dir = emulated()
    add_rule(albs, "public", 2000, [path("/v2/*")])

    code, _data, by_key = statuses(capsys, stack_dir)

    assert code == 1
    assert {k for k, s in by_key.items() if s == "shadowed"} == V2_KEYS


def test_a_rule_with_a_query_string_condition_may_shadow(emulated, capsys):
    albs, stack_dir = emulated()
    add_rule(albs, "public", 950, [path("/ceramic-cache/stamps/bulk"), {
        "Field": "query-string", "QueryStringConfig": {"Values": [{"Key": "debug", "Value": "1"}]}}])

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 1
    assert {k for k, s in by_key.items() if s == "may-shadow"} == {"cc-bulk-post", "cc-bulk-patch", "cc-bulk-delete"}
    assert by_key["cc-score-post"] == "adopt"
    bulk = next(r for r in data["rules"] if r["key"] == "cc-bulk-patch")
    assert bulk["shadowed_by"][0]["certain"] is False
    assert bulk["shadowed_by"][0]["unevaluated_conditions"] == ["query-string"]
    row = next(line for line in preflight(capsys, stack_dir).out.splitlines() if " 1003 " in line)
    assert "MAY-SHADOW" in row and "may be shadowed by 950" in row and "+query-string" in row


def test_an_unknown_listener_is_an_aws_error(aws, tmp_path, capsys):
    copy_stack_file("production", tmp_path)

    run = preflight(capsys, tmp_path)

    assert run.code == 3
    assert run.out == "" and run.err.startswith("error: ") and len(run.err.strip().splitlines()) == 1


# --- pure matcher --------------------------------------------------------------------------------------------------

def live(priority=10, **conditions):
    return LiveRule(arn=f"arn:rule/{priority}", priority=priority,
                    conditions={field.replace("_", "-"): tuple(values) for field, values in conditions.items()},
                    targets=(LiveTarget("tg", "arn:tg", None),), stickiness=None, action_types=("forward",))


@pytest.mark.parametrize(("rule", "request_", "expected"), [
    (live(path_pattern=["/v2/*"]), ("/v2/stamps/1/score/0xabc", "GET", "api.passport.xyz"), "match"),
    (live(path_pattern=["/v2/*"]), ("/V2/stamps", "GET", "api.passport.xyz"), "no-match"),
    (live(path_pattern=["/a", "/b/*"]), ("/b/x/y", "GET", "h"), "match"),
    (live(path_pattern=["/ceramic-cache/score/*"], http_request_method=["POST"]),
     ("/ceramic-cache/score/x", "GET", "h"), "no-match"),
    (live(path_pattern=["/ceramic-cache/score/*"], http_request_method=["POST"]),
     ("/ceramic-cache/score/x", "POST", "h"), "match"),
    (live(http_request_method=["post"]), ("/x", "POST", "h"), "no-match"),
    (live(path_pattern=["/v2/*"], host_header=["*.gitcoin.co"]), ("/v2/x", "GET", "x.passport.xyz"), "no-match"),
    (live(path_pattern=["/v2/*"], host_header=["*.Passport.XYZ"]), ("/v2/x", "GET", "API.passport.xyz"), "match"),
    (live(host_header=["api.passport.xy?"]), ("/anything", "GET", "api.passport.xyz"), "match"),
    (live(path_pattern=["/v2/*"], query_string=()), ("/v2/x", "GET", "h"), "maybe"),
    (live(path_pattern=["/v1/*"], source_ip=()), ("/v2/x", "GET", "h"), "no-match"),
    (live(http_header=()), ("/v2/x", "GET", "h"), "maybe"),
])
def test_match_live_rule(rule, request_, expected):
    assert match_live_rule(rule, *request_) == expected


def test_check_plan_ignores_higher_numbers_other_listeners_and_our_own_priorities(emulated):
    albs, _stack_dir = emulated()
    plan = albs.plan
    catch_all = {"path-pattern": ("/*",)}
    live_rules = {
        "public": [LiveRule("arn:3000", 3000, catch_all, (), None, ("fixed-response",)),  # higher than all of ours
                   LiveRule("arn:2022", 2022, catch_all, (), None, ("fixed-response",))],  # our own priority
        "internal": [LiveRule("arn:5", 5, {"path-pattern": ("/internal/embed/score/*",)}, (), None, ("forward",))],
    }

    by_key = {c.planned.key: c for c in check_plan(plan, live_rules)}

    assert by_key["v2-stamp-history"].status == "conflict"
    assert by_key["v2-stamp-score"].status == "free"  # 2022 becomes ours: not counted as shadowing 2023
    assert by_key["embed-score"].status == "shadowed" and by_key["embed-score"].blocking
    assert by_key["embed-stamps"].status == "free" and not by_key["embed-stamps"].blocking
    assert {k for k, c in by_key.items() if c.status != "free"} == {"v2-stamp-history", "embed-score",
                                                                     *OVERRIDES["embed-score"]}


# --- override header rules (production contract P11.1) --------------------------------------------------------------

def header(name, *values):
    return {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": name, "Values": list(values)}}


def test_a_foreign_rule_on_the_override_header_shadows_history(emulated, capsys):
    """A live rule testing our header value catches the history requests that carry it, and our override rules."""
    albs, stack_dir = emulated()
    add_rule(albs, "public", 2010, [path("/v2/*"), header("x-scorer-target", "SCORER")])

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 1
    # Every v2 rule whose sample requests may carry `scorer`: all but the override rule that needs `legacy`.
    assert {k for k, s in by_key.items() if s == "shadowed"} == V2_KEYS - {"v2-stamp-score-override-legacy"}
    history = next(r for r in data["rules"] if r["key"] == "v2-stamp-history")
    assert history["shadowed_by"][0]["priority"] == 2010
    assert "header x-scorer-target=scorer" in history["shadowed_by"][0]["summary"]


def test_a_foreign_rule_on_another_header_shadows_nothing(emulated, capsys):
    albs, stack_dir = emulated()
    add_rule(albs, "public", 2010, [path("/v2/*"), header("X-Debug", "1")])

    code, _data, by_key = statuses(capsys, stack_dir)

    assert code == 0 and set(by_key.values()) == {"adopt"}


def test_the_legacy_v2_rule_at_2023_is_adopted_and_moved(emulated, capsys):
    """The live state of routing contract §6.3: the legacy v2 stamp-score rule at 2023, nothing at 2024-2026. It is
    imported as the weighted rule (which `pulumi up` moves to 2026) and shadows neither it nor the override rules."""
    albs, stack_dir = emulated(percent=0)
    weighted = next(r for r in PLAN if r.key == "v2-stamp-score")
    for priority in (2024, 2025, 2026):
        albs.elbv2.delete_rule(RuleArn=albs.rules("public")[priority]["RuleArn"])
    add_rule(albs, "public", 2023, boto_conditions(weighted),
             {"Type": "forward", "TargetGroupArn": albs.tg_arns["l-passport-v2-stamp-score"]})
    legacy_arn = albs.rules("public")[2023]["RuleArn"]

    code, data, by_key = statuses(capsys, stack_dir)

    assert code == 0, data
    assert by_key["v2-stamp-score"] == "adopt"
    assert {by_key[k] for k in OVERRIDES["v2-stamp-score"]} == {"free"}
    rule = next(r for r in data["rules"] if r["key"] == "v2-stamp-score")
    assert rule["live"] is None and rule["moves_from"]["priority"] == 2023 and rule["shadowed_by"] == []
    assert rule["import"] == {"type": "aws:lb/listenerRule:ListenerRule", "name": "route-v2-stamp-score",
                              "parent": "routing", "id": legacy_arn}
    assert "moves it to 2026" in rule["todo"] and "shadows our rules" in rule["todo"]


@pytest.mark.parametrize(("conditions", "headers", "expected"), [
    ({"http-header:x-scorer-target": ("scorer",)}, {"X-Scorer-Target": "Scorer"}, "match"),
    ({"http-header:x-scorer-target": ("scorer",)}, {"X-Scorer-Target": "legacy"}, "no-match"),
    ({"http-header:x-scorer-target": ("scor*",)}, {"x-scorer-target": "scorer"}, "match"),
    ({"http-header:x-scorer-target": ("scorer",)}, {}, "no-match"),
    ({"http-header:x-scorer-target": ("scorer",), "query-string": ()}, {"X-Scorer-Target": "scorer"}, "maybe"),
])
def test_match_live_rule_with_headers(conditions, headers, expected):
    rule = LiveRule("arn:rule", 10, {"path-pattern": ("/v2/*",), **conditions}, (), None, ("forward",))
    assert match_live_rule(rule, "/v2/x", "GET", "h", headers) == expected
