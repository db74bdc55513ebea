"""`rollback --now`: every live shared rule to `[100, 0]` without stickiness in one ModifyRule each, nothing else
touched, and a stack file that makes the next `pulumi up` a no-op on those rules (routing contract §5.4)."""

from __future__ import annotations

import difflib
import json

import pytest
from botocore.stub import Stubber

from components.routing import plan_rules
from components.settings import load_stack_settings
from ops import live

from .helpers import run_cli

SHARED = {("public", p) for p in (1001, 1002, 1003, 1004, 2026)} | {("internal", p) for p in (2100, 2101, 2103)}


def rollback_now(capsys, stack_dir, *extra):
    return run_cli(capsys, "rollback", "--now", "--stack", "production", "--stack-dir", stack_dir, *extra)


def test_rollback_now_puts_every_shared_rule_at_100_0_without_stickiness(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    albs.set_weights("public", 1002, 50, 50, is_sticky=True)  # hand-edited drift is rolled back too
    before = albs.all_rules()
    file_before = (stack_dir / "Pulumi.production.yaml").read_text()

    run = rollback_now(capsys, stack_dir)

    assert run.code == 0, run.err
    after = albs.all_rules()
    assert set(after) == set(before), "no rule created or deleted"
    for slot, rule in after.items():
        assert rule["RuleArn"] == before[slot]["RuleArn"], f"{slot}: modified in place"
        assert rule["Conditions"] == before[slot]["Conditions"], f"{slot}: conditions untouched"
        if slot not in SHARED:
            assert rule == before[slot], f"legacy-only rule {slot} must not be touched"
    for alb, priority in SHARED:
        targets, stickiness = albs.weights(alb, priority)
        assert [w for _, w in targets] == [100, 0], f"{alb} {priority}: {targets}"
        assert stickiness == {"Enabled": False, "DurationSeconds": 3600}, f"{alb} {priority}"
    assert "[50, 50] on (3600s)  [100, 0] off  modified" in run.out
    assert run.out.count("  modified") == 8 and "8 rule(s) modified with ModifyRule" in run.out
    diff = [ln for ln in difflib.ndiff(file_before.splitlines(True),
                                       (stack_dir / "Pulumi.production.yaml").read_text().splitlines(True))
            if ln.startswith(("+ ", "- "))]
    assert diff == ["-   passport-scorer-lambdas:scorerPercent: 25\n", "+   passport-scorer-lambdas:scorerPercent: 0\n"]


def test_after_rollback_the_config_and_the_live_rules_agree(emulated, capsys):
    """What the next `pulumi up` would send (the plan of the edited stack file) equals what is live: no change."""
    albs, stack_dir = emulated(percent=25)
    assert rollback_now(capsys, stack_dir).code == 0

    plan = plan_rules(load_stack_settings("production", stack_dir))
    for rule in (r for r in plan if r.is_weighted):
        targets, stickiness = albs.weights(rule.alb, rule.priority)
        assert targets == [(t.target_group, t.weight) for t in rule.targets], rule.key
        assert stickiness == {"Enabled": rule.stickiness.enabled, "DurationSeconds": rule.stickiness.duration}
    status = run_cli(capsys, "status", "--stack", "production", "--stack-dir", stack_dir)
    assert status.code == 0 and "no drift" in status.out


def test_a_second_rollback_changes_nothing_and_says_so(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    assert rollback_now(capsys, stack_dir).code == 0
    rules = albs.all_rules()

    run = rollback_now(capsys, stack_dir, "--json")

    assert run.code == 0, run.err
    data = json.loads(run.out)
    assert [r["action"] for r in data["live"]["rules"]] == ["unchanged"] * 8
    assert data["stack_file_change"]["written"] is False
    assert albs.all_rules() == rules
    text = rollback_now(capsys, stack_dir).out
    assert "nothing to change: every shared rule is already at [100, 0] with stickiness off" in text
    assert "scorerPercent already 0, file unchanged" in text


def test_rollback_refuses_when_a_shared_priority_holds_another_rule(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    albs.elbv2.modify_rule(RuleArn=albs.rules("public")[1001]["RuleArn"], Conditions=[
        {"Field": "path-pattern", "PathPatternConfig": {"Values": ["/registry/submit-passport"]}}])
    rules = albs.all_rules()
    file_before = (stack_dir / "Pulumi.production.yaml").read_bytes()

    run = rollback_now(capsys, stack_dir)

    assert run.code == 1
    assert run.err.startswith("error: refusing to roll back, nothing changed: the live rules do not match the "
                              "plan's shared priorities: public 1001 (cc-score-post): conditions")
    assert run.err.count("\n") == 1 and run.out == ""
    assert albs.all_rules() == rules
    assert (stack_dir / "Pulumi.production.yaml").read_bytes() == file_before


def test_rollback_refuses_when_a_shared_rule_is_missing(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    albs.elbv2.delete_rule(RuleArn=albs.rules("internal")[2103]["RuleArn"])
    rules = albs.all_rules()

    run = rollback_now(capsys, stack_dir)

    assert run.code == 1 and "internal 2103 (embed-score): no rule at priority 2103" in run.err
    assert albs.all_rules() == rules


def test_a_failure_half_way_reports_what_was_changed(emulated, capsys, monkeypatch):
    _albs, stack_dir = emulated(percent=25)
    real_modify = live.modify_rule_actions
    calls = []

    def modify_then_throttle(elbv2, rule_arn, actions):
        calls.append(rule_arn)
        if len(calls) == 3:
            with Stubber(elbv2) as stub:
                stub.add_client_error("modify_rule", service_error_code="Throttling", service_message="Rate exceeded")
                return real_modify(elbv2, rule_arn, actions)
        return real_modify(elbv2, rule_arn, actions)

    monkeypatch.setattr(live, "modify_rule_actions", modify_then_throttle)

    run = rollback_now(capsys, stack_dir)

    assert run.code == 3
    assert run.out.count("  modified") == 2, run.out
    assert run.err.startswith("error: AWS throttled ModifyRule (Throttling) in region us-west-2")
    assert "2 rule(s) were modified before the error" in run.err and run.err.count("\n") == 1
    monkeypatch.setattr(live, "modify_rule_actions", real_modify)
    finish = rollback_now(capsys, stack_dir, "--json")
    assert finish.code == 0
    assert [r["action"] for r in json.loads(finish.out)["live"]["rules"]].count("modified") == 6


@pytest.mark.parametrize("percent", [0, 100])
def test_rollback_from_the_edges(emulated, capsys, percent):
    albs, stack_dir = emulated(percent=percent)
    run = rollback_now(capsys, stack_dir, "--json")
    assert run.code == 0, run.err
    actions = [r["action"] for r in json.loads(run.out)["live"]["rules"]]
    assert actions == (["unchanged"] * 8 if percent == 0 else ["modified"] * 8)
    assert all([w for _, w in albs.weights(alb, p)[0]] == [100, 0] for alb, p in SHARED)
