"""Per-route percentages in the operations CLI (`status`, `set --route`, `rollback`, `plan`, `health`) and the
health-gated `advance` (production contract P11.3), with moto; the Automation API of `--apply` is stubbed."""

from __future__ import annotations

import difflib
import json
import shutil
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from botocore.stub import Stubber

from components.routing import plan_rules
from components.settings import load_stack_file, load_stack_settings, parse_settings
from ops import advance as advance_module
from ops import live
from ops.advance import (
    DEFAULT_STEPS,
    Gate,
    first_refusal,
    hold_gate,
    next_step,
    parse_rollout_policy,
)
from ops.drift import LiveRule
from ops.preflight import check_plan
from ops.route_percent_file import replace_route_percents_text

from .helpers import ROOT, EmulatedAlbs, copy_stack_file, run_cli
from .test_health import HEALTHY_SCORER, put_traffic

STACK_FILE = "Pulumi.production.yaml"
BY_ROUTE_KEY = "passport-scorer-lambdas:scorerPercentByRoute"


def cli(capsys, command, stack_dir, *extra):
    return run_cli(capsys, *command.split(), "--stack", "production", "--stack-dir", stack_dir, *extra)


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(True), after.splitlines(True))
            if line.startswith(("+ ", "- "))]


@pytest.fixture
def no_trail(monkeypatch):
    """moto has no CloudTrail LookupEvents: by default nobody changed the rules within the hold time."""
    calls = []

    def last_change(cloudtrail, rule_arns, since):
        calls.append((set(rule_arns), since))
        return None

    monkeypatch.setattr(live, "last_rule_change", last_change)
    return calls


# --- stack file: set --route and rollback -------------------------------------------------------------------------

def test_set_route_adds_then_changes_one_entry_keeping_the_rest(tmp_path, capsys, no_aws, no_network):
    shutil.copyfile(ROOT / STACK_FILE, tmp_path / STACK_FILE)
    path = tmp_path / STACK_FILE
    original = path.read_text()

    run = cli(capsys, "set --route cc-bulk-post", tmp_path, "5")

    assert run.code == 0, run.err
    added = changed_lines(original, path.read_text())
    assert added == [f"+   {BY_ROUTE_KEY}:\n", "+     cc-bulk-post: 5\n"], added
    assert "scorerPercentByRoute.cc-bulk-post absent (default) → 5" in run.out
    assert "[100, 0] → [95, 5]" in run.out and "the weighted rule cc-bulk-post" in run.out
    second = path.read_text()
    assert cli(capsys, "set --route embed-score", tmp_path, "25").code == 0
    assert cli(capsys, "set --route cc-bulk-post", tmp_path, "50").code == 0
    assert changed_lines(second, path.read_text()) == ["-     cc-bulk-post: 5\n", "+     cc-bulk-post: 50\n",
                                                       "+     embed-score: 25\n"]
    settings = load_stack_settings("production", tmp_path)
    assert settings.scorer_percent == 0 and dict(settings.scorer_percent_by_route) == {"cc-bulk-post": 50,
                                                                                        "embed-score": 25}


@pytest.mark.parametrize(("args", "message"), [
    (("--route", "cc-bulk-post", "101"),
     "scorerPercentByRoute.cc-bulk-post for stack 'production' must be an integer from 0 to 100, got '101'"),
    (("--route", "cc-authenticate", "5"), "--route 'cc-authenticate' is not a shared route"),
])
def test_set_route_refuses_bad_values_naming_route_and_value(tmp_path, capsys, no_aws, no_network, args, message):
    shutil.copyfile(ROOT / STACK_FILE, tmp_path / STACK_FILE)
    original = (tmp_path / STACK_FILE).read_bytes()
    run = cli(capsys, "set", tmp_path, *args)
    assert run.code == 2 and message in run.err, run.err
    assert (tmp_path / STACK_FILE).read_bytes() == original


def test_rollback_sets_every_route_to_zero_in_one_edit(tmp_path, capsys, no_aws, no_network):
    shutil.copyfile(ROOT / STACK_FILE, tmp_path / STACK_FILE)
    for args in (("25",), ("--route", "cc-bulk-post", "50"), ("--route", "embed-score", "5")):
        assert cli(capsys, "set", tmp_path, *args).code == 0

    run = cli(capsys, "rollback", tmp_path)

    assert run.code == 0, run.err
    settings = load_stack_settings("production", tmp_path)
    assert {settings.percent_for(k) for k in settings.shared_route_keys} == {0}
    assert "scorerPercent 25 → 0" in run.out
    assert "scorerPercentByRoute.cc-bulk-post 50 → 0" in run.out and "scorerPercentByRoute.embed-score 5 → 0" in run.out


def test_global_set_names_the_routes_that_keep_their_own_percentage(tmp_path, capsys, no_aws, no_network):
    shutil.copyfile(ROOT / STACK_FILE, tmp_path / STACK_FILE)
    assert cli(capsys, "set --route v2-stamp-score", tmp_path, "1").code == 0
    run = cli(capsys, "set", tmp_path, "5")
    assert run.code == 0 and "routes keeping their own percentage" in run.out and "v2-stamp-score 1" in run.out


def test_route_entries_edit_keeps_quotes_comments_and_refuses_flow_style():
    text = ("config:\n  aws:region: us-west-2  # region\n  passport-scorer-lambdas:scorerPercent: 5\n"
            f"  {BY_ROUTE_KEY}:   # per route\n    cc-bulk-post: '5'  # canary\n")
    edited = replace_route_percents_text(text, {"cc-bulk-post": 25, "embed-score": 1})
    assert edited == text.replace("'5'  # canary", "'25'  # canary") + "    embed-score: 1\n"
    with pytest.raises(Exception, match="block mapping"):
        replace_route_percents_text(text.replace(":   # per route\n    cc-bulk-post: '5'  # canary",
                                                 ": {cc-bulk-post: 5}"), {"cc-bulk-post": 1})


def test_plan_shows_per_route_weights_and_their_invariant(tmp_path, capsys, no_aws, no_network):
    shutil.copyfile(ROOT / STACK_FILE, tmp_path / STACK_FILE)
    assert cli(capsys, "set --route cc-bulk-post", tmp_path, "50").code == 0
    run = cli(capsys, "plan", tmp_path, "--json")
    assert run.code == 0, run.out
    data = json.loads(run.out)
    assert data["percent_by_route"] == {"cc-bulk-post": 50}
    entry = next(e for e in data["routing_table"] if e["key"] == "cc-bulk-post")
    assert [t["weight"] for t in entry["targets"]] == [50, 50] and entry["stickiness"]["enabled"] is True
    assert all(i["ok"] for i in data["invariants"])


# --- live: status, health, rollback --now -------------------------------------------------------------------------

def test_status_compares_each_rule_with_its_own_percentage(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    assert cli(capsys, "set --route cc-bulk-post", stack_dir, "50").code == 0

    run = cli(capsys, "status", stack_dir, "--json")

    assert run.code == 1, "the file says 50 for cc-bulk-post, the live rule is still at 25"
    rules = {r["key"]: r for r in json.loads(run.out)["rules"]}
    assert rules["cc-bulk-post"]["percent"] == 50 and rules["cc-bulk-post"]["drift"]
    assert all(not r["drift"] and r["percent"] == 25 for k, r in rules.items() if k != "cc-bulk-post")

    albs.set_weights("public", 1002, 50, 50, is_sticky=True)  # what `pulumi up` does
    run = cli(capsys, "status", stack_dir)
    assert run.code == 0, run.out
    row = next(line for line in run.out.splitlines() if " cc-bulk-post " in line)
    assert "[50, 50]" in row and "50 (route)" in row
    assert "no drift: all 8 shared rules match scorerPercent 25, cc-bulk-post 50" in run.out


def test_rollback_now_clears_every_route_live_and_in_the_file(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    assert cli(capsys, "set --route embed-score", stack_dir, "50").code == 0
    albs.set_weights("internal", 2103, 50, 50, is_sticky=True)

    run = cli(capsys, "rollback --now", stack_dir)

    assert run.code == 0, run.err
    for alb, priority in [("public", p) for p in (1001, 1002, 1003, 1004, 2026)] + \
            [("internal", p) for p in (2100, 2101, 2103)]:
        weights, sticky = albs.weights(alb, priority)
        assert [w for _, w in weights] == [100, 0] and sticky["Enabled"] is False, (alb, priority)
    settings = load_stack_settings("production", stack_dir)
    assert {settings.percent_for(k) for k in settings.shared_route_keys} == {0}
    assert cli(capsys, "status", stack_dir).code == 0, "file and live rules agree after the rollback"


def test_health_says_it_is_per_alb_and_flags_mixed_percentages(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    assert cli(capsys, "set --route cc-bulk-post", stack_dir, "50").code == 0
    put_traffic(albs)
    run = cli(capsys, "health", stack_dir)
    assert run.code == 0, run.out
    assert "per ALB: the scorer side is one target group per ALB" in run.out
    assert "the public ALB's routes run at different percentages [25, 50]" in run.out


# --- advance ------------------------------------------------------------------------------------------------------

def test_policy_defaults_and_validation():
    assert parse_rollout_policy({}, "production") == advance_module.RolloutPolicy(DEFAULT_STEPS, 60)
    policy = parse_rollout_policy({"rolloutSteps": "[2, 10, 100]", "rolloutHoldMinutes": "30"}, "production")
    assert policy.steps == (2, 10, 100) and policy.hold_minutes == 30
    for raw in ("[5, 1]", "[]", "[0, 5]", "[1, 101]", "[1, true]", "5"):
        with pytest.raises(ValueError, match=r"rolloutSteps for stack 'production'"):
            parse_rollout_policy({"rolloutSteps": raw}, "production")
    with pytest.raises(ValueError, match=r"rolloutHoldMinutes for stack 'production' .* got '-5'"):
        parse_rollout_policy({"rolloutHoldMinutes": "-5"}, "production")


def test_next_step_and_gates_are_pure():
    assert [next_step(p, DEFAULT_STEPS) for p in (0, 1, 3, 25, 99, 100)] == [1, 5, 5, 50, 100, None]
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    change = live.RuleChange(now - timedelta(minutes=20), "arn:rule", "arn:aws:sts::0:assumed-role/ops/alice")
    too_soon = hold_gate(change, now, 60)
    assert too_soon.outcome == "FAIL" and "alice" in too_soon.detail and "~41 min" in too_soon.detail
    assert hold_gate(change, now, 20).outcome == "ok" and hold_gate(None, now, 60).outcome == "ok"
    insufficient, failed = Gate("health", "INSUFFICIENT DATA", ""), Gate("hold", "FAIL", "")
    assert first_refusal([insufficient, failed]) is failed and first_refusal([insufficient]).exit_code == 4


def test_last_rule_change_reads_cloudtrail_modify_rule_events(no_aws):
    import boto3

    client = boto3.client("cloudtrail", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    since = datetime(2026, 1, 1, tzinfo=UTC)

    def event(minute, arn, who, error=None):
        detail = {"requestParameters": {"ruleArn": arn}, "userIdentity": {"arn": who}}
        if error:
            detail["errorCode"] = error
        return {"EventId": str(minute), "EventName": "ModifyRule", "EventTime": since + timedelta(minutes=minute),
                "CloudTrailEvent": json.dumps(detail)}

    with Stubber(client) as stub:
        stub.add_response("lookup_events", {"Events": [
            event(30, "arn:ours", "arn:bob"), event(50, "arn:other", "arn:eve"), event(45, "arn:ours", "arn:carol"),
            event(55, "arn:ours", "arn:mallory", error="AccessDenied")]},
            {"LookupAttributes": [{"AttributeKey": "EventName", "AttributeValue": "ModifyRule"}],
             "StartTime": since})
        change = live.last_rule_change(client, {"arn:ours"}, since)
    assert change == live.RuleChange(since + timedelta(minutes=45), "arn:ours", "arn:carol")


def test_advance_moves_to_the_next_step_on_pass(emulated, capsys, no_trail):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs)
    path = stack_dir / STACK_FILE
    original = path.read_text()

    run = cli(capsys, "advance", stack_dir)

    assert run.code == 0, run.out + run.err
    assert changed_lines(original, path.read_text()) == ["-   passport-scorer-lambdas:scorerPercent: 25\n",
                                                         "+   passport-scorer-lambdas:scorerPercent: 50\n"]
    assert "scorerPercent 25 → 50" in run.out and "pulumi up --stack production" in run.out
    (arns, since), = no_trail
    assert len(arns) == 8 and datetime.now(UTC) - since > timedelta(minutes=59), "hold window of 60 minutes"


@pytest.mark.parametrize(("setup", "code", "reason"), [
    ("fail", 1, "health: health over 60m, both ALBs: FAIL"),
    ("insufficient", 4, "health: health over 60m, both ALBs: INSUFFICIENT DATA"),
    ("too soon", 1, "hold: too soon: last ModifyRule at"),
    ("drift", 1, "live = file: live rules differ from the stack file"),
])
def test_advance_refuses_with_the_reason(emulated, capsys, monkeypatch, setup, code, reason):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs, public_scorer={**HEALTHY_SCORER, "target_5xx": 50} if setup == "fail" else None,
                scorer=None if setup == "insufficient" else HEALTHY_SCORER)
    recent = live.RuleChange(datetime.now(UTC) - timedelta(minutes=10), "arn", "arn:aws:iam::0:user/alice")
    monkeypatch.setattr(live, "last_rule_change", lambda *a: recent if setup == "too soon" else None)
    if setup == "drift":
        albs.set_weights("public", 1002, 50, 50, is_sticky=True)
    original = (stack_dir / STACK_FILE).read_bytes()

    run = cli(capsys, "advance", stack_dir, "--json")

    assert run.code == code, run.out + run.err
    data = json.loads(run.out)
    assert data["advanced"] is False and data["reason"].startswith(reason), data["reason"]
    assert (stack_dir / STACK_FILE).read_bytes() == original, "nothing written when a gate fails"


def test_advance_route_uses_its_own_percentage_and_alb(emulated, capsys, no_trail):
    albs, stack_dir = emulated(percent=25)
    assert cli(capsys, "set --route embed-score", stack_dir, "5").code == 0
    albs.set_weights("internal", 2103, 95, 5, is_sticky=True)
    # The public scorer fails, but only the internal ALB is judged for an internal route.
    put_traffic(albs, public_scorer={**HEALTHY_SCORER, "target_5xx": 50})

    run = cli(capsys, "advance", stack_dir, "--route", "embed-score")

    assert run.code == 0, run.out + run.err
    assert "scorerPercentByRoute.embed-score 5 → 25" in run.out and "internal ALB" in run.out
    settings = load_stack_settings("production", stack_dir)
    assert settings.percent_for("embed-score") == 25 and settings.scorer_percent == 25
    (arns, _), = no_trail
    assert len(arns) == 1, "the hold time looks at the moved route's rule only"

    run = cli(capsys, "advance", stack_dir, "--json")  # scorerPercent moves; embed-score is not moved
    data = json.loads(run.out)
    assert "embed-score" not in data["routes"] and data["not_moved"] == {"embed-score": 25}


def test_advance_from_zero_skips_health_and_hold(emulated, capsys, no_trail):
    _albs, stack_dir = emulated(percent=0)
    run = cli(capsys, "advance", stack_dir, "--json")
    assert run.code == 0, run.out + run.err
    data = json.loads(run.out)
    assert [(g["name"], g["outcome"]) for g in data["gates"]] == [("live = file", "ok"), ("hold", "skipped"),
                                                                  ("health", "skipped")]
    assert data["stack_file"] == {"path": STACK_FILE, "key": "scorerPercent", "before": 0, "after": 1,
                                  "written": True}
    assert no_trail == []


def test_advance_at_the_last_step_changes_nothing(emulated, capsys, no_trail):
    _albs, stack_dir = emulated(percent=100)
    run = cli(capsys, "advance", stack_dir)
    assert run.code == 0 and "already at the last step 100" in run.out


def test_advance_apply_writes_the_file_then_runs_pulumi_up_then_status(emulated, capsys, monkeypatch, no_trail):
    from pulumi import automation

    albs, stack_dir = emulated(percent=25)
    shutil.copyfile(ROOT / "Pulumi.yaml", stack_dir / "Pulumi.yaml")
    put_traffic(albs)
    calls = []

    class FakeStack:
        def up(self, on_output=None):
            # What `pulumi up` would read: the stack file as written by advance.
            calls.append(("up", load_stack_settings("production", stack_dir).scorer_percent))
            on_output("Updating (production)\n")
            for priority in (1001, 1002, 1003, 1004, 2026):  # what the deploy does to the live rules
                albs.set_weights("public", priority, 50, 50, is_sticky=True)
            for priority in (2100, 2101, 2103):
                albs.set_weights("internal", priority, 50, 50, is_sticky=True)
            return SimpleNamespace(summary=SimpleNamespace(result="succeeded", resource_changes={"update": 8}))

    def select_stack(stack_name, work_dir):
        calls.append(("select", stack_name, work_dir))
        return FakeStack()

    real_status = advance_module.status_command

    def status(target):
        calls.append(("status",))
        return real_status(target)

    monkeypatch.setattr(automation, "select_stack", select_stack)
    monkeypatch.setattr(advance_module, "status_command", status)

    run = cli(capsys, "advance", stack_dir, "--apply")

    assert run.code == 0, run.out + run.err
    assert calls == [("select", "production", str(stack_dir)), ("up", 50), ("status",)]
    assert "pulumi up: succeeded {'update': 8}" in run.out and "no drift: all 8 shared rules" in run.out
    assert "Updating (production)" in run.err, "pulumi's output goes to stderr; stdout is the result"


def test_advance_apply_without_the_pulumi_cli_is_an_error_after_the_file_change(emulated, capsys, monkeypatch,
                                                                               no_trail):
    from pulumi import automation

    albs, stack_dir = emulated(percent=25)
    shutil.copyfile(ROOT / "Pulumi.yaml", stack_dir / "Pulumi.yaml")
    put_traffic(albs)

    def missing_cli(stack_name, work_dir):
        raise FileNotFoundError(2, "No such file or directory", "pulumi")

    monkeypatch.setattr(automation, "select_stack", missing_cli)
    run = cli(capsys, "advance", stack_dir, "--apply")
    assert run.code == 3 and "cannot run the pulumi CLI" in run.err
    assert load_stack_settings("production", stack_dir).scorer_percent == 50


def test_advance_apply_needs_a_pulumi_project(emulated, capsys, no_trail):
    _albs, stack_dir = emulated(percent=25)
    run = cli(capsys, "advance", stack_dir, "--apply")
    assert run.code == 2 and "holds no Pulumi.yaml" in run.err


# --- extra shared routes in the live commands ---------------------------------------------------------------------

EXTRAS = [{"key": "cc-score-get", "listener": "public", "priority": 1008, "path": "/ceramic-cache/score/*",
           "methods": ["GET"], "legacyTargetGroup": "l-cc-v1-score-GET-0"},
          {"key": "cc-weights-get", "listener": "public", "priority": 1009, "path": "/ceramic-cache/weights",
           "methods": ["GET"], "legacyTargetGroup": "cc-weights-GET-0"}]


EXTRAS_LINE = f"  passport-scorer-lambdas:extraSharedRoutes: {json.dumps(EXTRAS)}\n"
PERCENT_LINE = "  passport-scorer-lambdas:scorerPercent: 25\n"


def extras_settings():
    return parse_settings({**load_stack_file(ROOT / STACK_FILE).config, "extraSharedRoutes": json.dumps(EXTRAS)},
                          "production")


@pytest.fixture
def with_extras(aws, tmp_path):
    """The emulated ALB pair at 25 % with two extra shared routes, and a stack file declaring them."""
    albs = EmulatedAlbs(extras_settings().with_percent(25))
    path = copy_stack_file("production", tmp_path, percent=25, listeners=albs.listener_arns)
    path.write_text(path.read_text().replace(PERCENT_LINE, PERCENT_LINE + EXTRAS_LINE))
    return albs, tmp_path


def test_status_set_route_and_rollback_now_cover_extra_routes(with_extras, capsys):
    albs, stack_dir = with_extras
    data = json.loads(cli(capsys, "status", stack_dir, "--json").out)
    assert data["drift"] is False and len(data["rules"]) == 10
    assert {r["key"] for r in data["rules"] if r["extra"]} == {"cc-score-get", "cc-weights-get"}

    assert cli(capsys, "set --route cc-weights-get", stack_dir, "50").code == 0
    assert load_stack_settings("production", stack_dir).percent_for("cc-weights-get") == 50

    run = cli(capsys, "rollback --now", stack_dir)
    assert run.code == 0, run.err
    for priority in (1008, 1009):
        weights, sticky = albs.weights("public", priority)
        assert [w for _, w in weights] == [100, 0] and sticky["Enabled"] is False, priority
    assert cli(capsys, "status", stack_dir).code == 0


def test_preflight_checks_extra_routes_against_the_live_rules():
    plan = plan_rules(extras_settings())
    foreign = LiveRule(arn="arn:foreign", priority=1009, conditions={"path-pattern": ("/registry/*",)},
                       targets=(), stickiness=None, action_types=("forward",))
    legacy_get = LiveRule(arn="arn:legacy-get", priority=1006,
                          conditions={"path-pattern": ("/ceramic-cache/score/*",), "http-request-method": ("GET",)},
                          targets=(), stickiness=None, action_types=("forward",))
    checks = {c.planned.key: c for c in check_plan(plan, {"public": [foreign, legacy_get], "internal": []})}
    assert checks["cc-weights-get"].status == "conflict", "a foreign rule at the extra route's priority"
    # The legacy deployment's own GET rule: same endpoint at a number the plan does not use → imported and moved.
    assert checks["cc-score-get"].status == "adopt" and checks["cc-score-get"].moves_from == legacy_get
    assert checks["cc-score-post"].status == "free"


def test_advance_without_route_refuses_when_every_route_has_its_own_percentage(tmp_path, capsys, no_aws,
                                                                              no_network):
    shutil.copyfile(ROOT / STACK_FILE, tmp_path / STACK_FILE)
    for key in load_stack_settings("production", tmp_path).shared_route_keys:
        assert cli(capsys, f"set --route {key}", tmp_path, "5").code == 0
    run = cli(capsys, "advance", tmp_path)
    assert run.code == 2 and "advance one route with --route KEY" in run.err
