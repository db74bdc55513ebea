"""`status`: live weights and stickiness of the shared rules in an emulated ALB pair, with drift marked
(routing contract §5.3, §5.4)."""

from __future__ import annotations

import json

from components.routing import plan_rules
from components.settings import load_stack_settings
from ops.drift import compare_override, parse_live_rule

from .helpers import ROOT, boto_conditions, run_cli

SHARED_PRIORITIES = {"public": (1001, 1002, 1003, 1004, 2026), "internal": (2100, 2101, 2103)}


def status(capsys, stack_dir, *extra):
    return run_cli(capsys, "status", "--stack", "production", "--stack-dir", stack_dir, *extra)


def test_status_reports_the_live_weights_without_drift(emulated, capsys):
    _albs, stack_dir = emulated(percent=25)

    run = status(capsys, stack_dir)

    assert run.code == 0, run.err
    rows = [line for line in run.out.splitlines() if line.startswith(("public ", "internal "))]
    assert len(rows) == 8 + 16, "8 weighted rules, then 16 override header rules"
    assert all("[75, 25]" in row and row.rstrip().endswith("ok") for row in rows[:8]), run.out
    assert all("X-Scorer-Target: " in row and row.rstrip().endswith("ok") for row in rows[8:]), run.out
    assert "no drift: all 16 override rules match" in run.out
    assert "no drift: all 8 shared rules match scorerPercent 25" in run.out
    data = json.loads(status(capsys, stack_dir, "--json").out)
    assert data["drift"] is False
    assert {(r["alb"], r["priority"]) for r in data["rules"]} == \
        {(alb, p) for alb, priorities in SHARED_PRIORITIES.items() for p in priorities}
    for rule in data["rules"]:
        assert rule["live"]["weights"] == [75, 25] and rule["live"]["stickiness"] == "on (3600s)", rule["key"]
        assert rule["live"]["rule_arn"].startswith("arn:aws:elasticloadbalancing:us-west-2:")


def test_status_detects_a_hand_edited_rule(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    albs.set_weights("public", 1002, 50, 50, is_sticky=True)
    albs.set_weights("internal", 2103, 75, 25, is_sticky=False)

    run = status(capsys, stack_dir)

    assert run.code == 1
    drifted = {line.split()[1]: line for line in run.out.splitlines() if "DRIFT:" in line}
    assert set(drifted) == {"1002", "2103"}, run.out
    assert "weights [50, 50] instead of [75, 25]" in drifted["1002"]
    assert "stickiness off instead of on (3600s)" in drifted["2103"]
    assert "DRIFT on 2 of 8 shared rules" in run.out
    data = json.loads(status(capsys, stack_dir, "--json").out)
    assert data["drift"] is True
    assert [r["priority"] for r in data["rules"] if r["drift"]] == [1002, 2103]


def test_status_compares_with_the_config_not_with_itself(emulated, capsys):
    """The rules are at 25 but the stack file says 5: every shared rule drifts."""
    _albs, stack_dir = emulated(percent=25)
    assert run_cli(capsys, "set", "--stack", "production", "--stack-dir", stack_dir, "5").code == 0

    run = status(capsys, stack_dir, "--json")

    assert run.code == 1
    data = json.loads(run.out)
    assert all(r["drift"] == ["weights [75, 25] instead of [95, 5]"] for r in data["rules"]), data["rules"]


def test_status_reports_a_missing_rule_and_a_foreign_rule(emulated, capsys):
    albs, stack_dir = emulated(percent=0)
    albs.elbv2.delete_rule(RuleArn=albs.rules("internal")[2101]["RuleArn"])
    albs.elbv2.modify_rule(RuleArn=albs.rules("public")[1001]["RuleArn"], Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/registry/submit-passport"]}}])

    data = json.loads(status(capsys, stack_dir, "--json").out)

    problems = {r["priority"]: r["drift"] for r in data["rules"] if r["drift"]}
    assert problems[2101] == ["no rule at priority 2101"]
    assert problems[1001] == ["conditions path-pattern=/registry/submit-passport instead of "
                              "http-request-method=POST; path-pattern=/ceramic-cache/score/*"]
    assert set(problems) == {1001, 2101}


def test_status_reports_drift_on_override_rules(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    albs.elbv2.delete_rule(RuleArn=albs.rules("internal")[2093]["RuleArn"])
    albs.elbv2.modify_rule(RuleArn=albs.rules("public")[903]["RuleArn"], Actions=[
        {"Type": "forward", "TargetGroupArn": albs.tg_arns["l-cc-v1-st-bulk-POST-0"]}])
    albs.elbv2.modify_rule(RuleArn=albs.rules("public")[2025]["RuleArn"], Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/v2/stamps/*/score/*"]}},
        {"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": "X-Scorer-Target", "Values": ["old"]}}])

    run = status(capsys, stack_dir)

    assert run.code == 1
    assert "no drift: all 8 shared rules match scorerPercent 25" in run.out, "the weighted rules are fine"
    assert "DRIFT on 3 of 16 override rules" in run.out
    data = json.loads(status(capsys, stack_dir, "--json").out)
    drift = {o["priority"]: o["drift"] for o in data["overrides"] if o["drift"]}
    assert drift[2093] == ["no rule at priority 2093"]
    assert drift[903] == ["forwards to ['l-cc-v1-st-bulk-POST-0'] instead of ['l-passport-v2-scorer']"]
    assert drift[2025][0].startswith("conditions ") and "http-header:x-scorer-target=old" in drift[2025][0]
    assert set(drift) == {903, 2025, 2093} and data["drift"] is True


def test_status_with_the_override_header_disabled(emulated, capsys):
    _albs, stack_dir = emulated(percent=25)
    path = stack_dir / "Pulumi.production.yaml"
    path.write_text(path.read_text() + "  passport-scorer-lambdas:scorerOverrideHeader: false\n")

    run = status(capsys, stack_dir)

    assert run.code == 0, run.err
    assert "override header rules: disabled (scorerOverrideHeader: false)" in run.out
    assert json.loads(status(capsys, stack_dir, "--json").out)["overrides"] == []


def test_an_override_rule_as_aws_describes_a_single_target_forward_has_no_drift():
    """AWS answers a single-target forward with a one-group ForwardConfig and disabled stickiness as well."""
    rule = next(r for r in plan_rules(load_stack_settings("production", ROOT)) if r.priority == 901)
    raw = {"RuleArn": "arn:rule", "Priority": "901", "Conditions": boto_conditions(rule), "Actions": [
        {"Type": "forward", "TargetGroupArn": "arn:tg", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": "arn:tg", "Weight": 1}],
            "TargetGroupStickinessConfig": {"Enabled": False}}}]}
    assert compare_override(rule, parse_live_rule(raw, {"arn:tg": "l-passport-v2-scorer"})).problems == ()
    raw["Actions"][0]["ForwardConfig"]["TargetGroupStickinessConfig"] = {"Enabled": True, "DurationSeconds": 60}
    problems = compare_override(rule, parse_live_rule(raw, {"arn:tg": "l-passport-v2-scorer"})).problems
    assert [p.message for p in problems] == ["stickiness on (60s) instead of none"]
