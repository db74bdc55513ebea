"""After the automatic rollback (P11.6): `status` says the live rules were rolled back and how to reconcile the
stack file; `rollback --now` and the rollback function run the same code (`components.live_rollback`)."""

from __future__ import annotations

import json

from components import live_rollback
from components.routing import plan_rules, rollback_plan
from components.settings import load_stack_settings

from .helpers import run_cli


def _function_rollback(albs, stack_dir) -> list[live_rollback.RuleChange]:
    """What the function does: the shared implementation with the plan built from the stack file."""
    plan = rollback_plan(plan_rules(load_stack_settings("production", stack_dir)), albs.listener_arns, 3600)
    return live_rollback.roll_back(albs.elbv2, plan)


def status(capsys, stack_dir, *extra):
    return run_cli(capsys, "status", "--stack", "production", "--stack-dir", stack_dir, *extra)


def test_status_says_rolled_back_and_how_to_reconcile(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    assert [c.action for c in _function_rollback(albs, stack_dir)] == ["modified"] * 8

    run = status(capsys, stack_dir)

    assert run.code == 1, "the live rules differ from the stack file"
    assert "rolled back (automatic rollback?)" in run.out
    assert "`python -m ops rollback --stack production`, then commit Pulumi.production.yaml" in run.out
    assert json.loads(status(capsys, stack_dir, "--json").out)["rolled_back"] is True

    reconcile = run_cli(capsys, "rollback", "--stack", "production", "--stack-dir", stack_dir)
    assert reconcile.code == 0, reconcile.err
    after = status(capsys, stack_dir)
    assert after.code == 0 and "no drift" in after.out and "rolled back" not in after.out


def test_partial_drift_is_not_called_a_rollback(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    albs.set_weights("public", 1002, 100, 0, is_sticky=False)
    run = status(capsys, stack_dir)
    assert run.code == 1 and "DRIFT on 1 of 8 shared rules" in run.out and "automatic rollback" not in run.out


def test_rollback_now_runs_the_shared_implementation(emulated, capsys, monkeypatch):
    _albs, stack_dir = emulated(percent=25)
    calls = []
    real = live_rollback.roll_back

    def spy(elbv2, plan, modify=None):
        calls.append([(r.alb, r.priority) for r in plan.rules])
        return real(elbv2, plan, modify)

    monkeypatch.setattr(live_rollback, "roll_back", spy)
    run = run_cli(capsys, "rollback", "--now", "--stack", "production", "--stack-dir", stack_dir)
    assert run.code == 0, run.err
    assert calls == [[("public", p) for p in (1001, 1002, 1003, 1004, 2026)] +
                     [("internal", p) for p in (2100, 2101, 2103)]]
