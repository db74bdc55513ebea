"""Logs, dashboard and scorer alarms (production contract P11.5) and the automatic rollback's resources (P11.6),
under Pulumi mocks for every stack, plus the pure builders they come from."""

from __future__ import annotations

import json

import pytest

from components.alarms import function_alarm_definitions
from components.auto_rollback import (
    READ_ACTIONS,
    ROLLBACK_FUNCTION_NAME,
    listener_rule_pattern,
    rollback_environment,
    rollback_policy,
)
from components.dashboard import dashboard_body, metric_dimensions
from components.inventory import SCORER_TARGET_GROUPS, alb_arn_suffix
from components.live_rollback import PLAN_ENV, RollbackPlan
from components.routing import plan_rules
from components.settings import SettingsError, load_stack_settings, parse_settings

from .helpers import (
    ALARM_TYPE,
    DASHBOARD_TYPE,
    FUNCTION_TYPE,
    LOG_GROUP_TYPE,
    PERMISSION_TYPE,
    ROOT,
    STACKS,
    SUBSCRIPTION_TYPE,
    TG_TYPE,
    TOPIC_TYPE,
    fn_arn,
    stack_config,
    tg_arn_suffix,
)

POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy"
PAGER = "arn:aws:sns:us-west-2:000000000000:scorer-pagerduty"
ROLLBACK_TOPIC = f"arn:aws:sns:us-west-2:000000000000:{ROLLBACK_FUNCTION_NAME}"


def _listeners(stack):
    settings = load_stack_settings(stack, ROOT)
    return {"public": settings.public_listener_arn, "internal": settings.internal_listener_arn}


# --- log groups --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_every_function_has_its_log_group_with_the_default_retention(program_run, stack):
    run = program_run(stack)
    groups = {g.inputs["name"]: g.inputs for g in run.of_type(LOG_GROUP_TYPE)}
    functions = [f.inputs["name"] for f in run.of_type(FUNCTION_TYPE)]
    assert sorted(groups) == sorted(f"/aws/lambda/{name}" for name in functions), stack
    assert {int(g["retentionInDays"]) for g in groups.values()} == {30}


def test_log_retention_is_configurable(program_run):
    run = program_run("production", logRetentionDays="90")
    assert {int(g.inputs["retentionInDays"]) for g in run.of_type(LOG_GROUP_TYPE)} == {90}


@pytest.mark.parametrize("bad", ["31", "0", "-1", "abc", "30.0", "99999"])
def test_bad_log_retention_is_refused_naming_key_and_value(bad):
    with pytest.raises(SettingsError, match=rf"logRetentionDays for stack 'staging' .* got {bad!r}"):
        parse_settings(stack_config("staging", logRetentionDays=bad), "staging")


# --- scorer function alarms --------------------------------------------------------------------------------------

def test_function_alarm_definitions_follow_the_timeout():
    errors, throttles, duration = function_alarm_definitions("fn", 30)
    assert (errors.metric_name, errors.statistic, errors.triggers_rollback) == ("Errors", "Sum", True)
    assert (throttles.metric_name, throttles.triggers_rollback) == ("Throttles", False)
    assert (duration.metric_name, duration.statistic, duration.is_percentile) == ("Duration", "p99", True)
    assert duration.threshold.threshold == 24_000, "80 % of a 30 s timeout, in ms"
    assert function_alarm_definitions("fn", 900)[2].threshold.threshold == 720_000


@pytest.mark.parametrize("stack", STACKS)
def test_scorer_function_alarms(program_run, stack):
    run = program_run(stack, scorerTimeoutSeconds="20")
    alarms = {a.inputs["name"]: a.inputs for a in run.of_type(ALARM_TYPE) if a.name.startswith("passport-v2-scorer-fn")}
    assert sorted(alarms) == ["Lambda-Duration-p99-passport-v2-scorer", "Lambda-Errors-passport-v2-scorer",
                              "Lambda-Throttles-passport-v2-scorer"]
    for alarm in alarms.values():
        assert alarm["namespace"] == "AWS/Lambda" and alarm["dimensions"] == {"FunctionName": "passport-v2-scorer"}
    duration = alarms["Lambda-Duration-p99-passport-v2-scorer"]
    assert duration["extendedStatistic"] == "p99" and "statistic" not in duration
    assert duration["threshold"] == 16_000 and duration["metricName"] == "Duration"
    assert alarms["Lambda-Errors-passport-v2-scorer"]["statistic"] == "Sum"
    topic = load_stack_settings(stack, ROOT).alarm_topic_arn
    pager = [topic] if topic else []
    rollback = [ROLLBACK_TOPIC] if stack == "production" else []
    assert alarms["Lambda-Errors-passport-v2-scorer"].get("alarmActions", []) == pager + rollback
    assert alarms["Lambda-Throttles-passport-v2-scorer"].get("alarmActions", []) == pager
    assert all(a.get("okActions", []) == pager for a in alarms.values()), "the rollback topic gets ALARM only"


# --- dashboard ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", STACKS)
def test_dashboard_names_existing_target_groups_behind_the_right_alb(program_run, stack):
    run = program_run(stack, percent="25")
    (dashboard,) = run.of_type(DASHBOARD_TYPE)
    assert dashboard.inputs["dashboardName"] == f"passport-scorer-{stack}"
    body = json.loads(dashboard.inputs["dashboardBody"])
    listeners = _listeners(stack)
    plan = plan_rules(load_stack_settings(stack, ROOT).with_percent(25))
    alb_of_tg = {t.target_group: r.alb for r in plan if r.is_weighted for t in r.targets}
    registered = {tg_arn_suffix(t.inputs["name"]) for t in run.of_type(TG_TYPE)}
    alb_metrics = [d for d in metric_dimensions(body) if d["Namespace"] == "AWS/ApplicationELB"]
    assert alb_metrics
    for dims in alb_metrics:
        tg_name = dims["TargetGroup"].split("/")[1]
        assert dims["TargetGroup"] in registered, f"{tg_name}: not a target group of this program"
        assert dims["LoadBalancer"] == alb_arn_suffix(listeners[alb_of_tg[tg_name]]), tg_name
    shown = {d["TargetGroup"].split("/")[1] for d in alb_metrics}
    assert shown == set(alb_of_tg), "every weighted rule's target groups, and only those"
    metrics = {(d["Namespace"], d["MetricName"]) for d in metric_dimensions(body)}
    for name in ("RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_Target_4XX_Count", "TargetResponseTime"):
        assert ("AWS/ApplicationELB", name) in metrics
    for name in ("Latency", "DbTime", "DbRoundTrips", "StampsChecked", "StampsValid", "DedupClashes", "LinkRetries",
                 "ScorePassing", "ColdStart", "Errors5xx", "Errors4xx", "RateLimited"):
        assert ("PassportScorer", name) in metrics, name
    stats = {m[-1].get("stat") if isinstance(m[-1], dict) else None
             for w in body["widgets"] if w["type"] == "metric" and w["properties"]["title"].endswith("time p99")
             for m in w["properties"]["metrics"]}
    assert {w["properties"]["stat"] for w in body["widgets"] if w["type"] == "metric"
            and "response time" in w["properties"]["title"]} == {"p50", "p99"} and stats == {None}


def test_dashboard_uses_the_configured_metrics_namespace(program_run):
    run = program_run("staging", scorerEnv=json.dumps({"SCORER_METRICS_NAMESPACE": "ScorerStaging"}))
    body = json.loads(run.of_type(DASHBOARD_TYPE)[0].inputs["dashboardBody"])
    namespaces = {d["Namespace"] for d in metric_dimensions(body)}
    assert "ScorerStaging" in namespaces and "PassportScorer" not in namespaces


def test_dashboard_body_pure_ratio_expressions():
    settings = load_stack_settings("production", ROOT).with_percent(25)
    plan = plan_rules(settings)
    tgs = {t.target_group: f"targetgroup/{t.target_group}/1" for r in plan if r.is_weighted for t in r.targets}
    body = dashboard_body(plan=plan, region="us-west-2", load_balancers={"public": "app/p/1", "internal": "app/i/2"},
                          tg_suffixes=tgs, scorer_function="passport-v2-scorer")
    ratio = next(w for w in body["widgets"] if w["properties"].get("title") == "internal: target 5XX ratio")
    expressions = {m[0]["id"]: m[0]["expression"] for m in ratio["properties"]["metrics"] if isinstance(m[0], dict)}
    assert expressions == {"legacy": "FILL(SUM([le0,le1,le2]), 0) / SUM([lr0,lr1,lr2])",
                           "scorer": "FILL(SUM([se0]), 0) / SUM([sr0])"}
    internal = [d for d in metric_dimensions({"widgets": [ratio]})]
    assert {d["LoadBalancer"] for d in internal} == {"app/i/2"}
    assert {d["TargetGroup"] for d in internal} == {tgs[n] for n in ("embed-st-lambda-target-group",
                                                                      "embed-rl-lambda-target-group",
                                                                      "embed-gs-lambda-target-group",
                                                                      SCORER_TARGET_GROUPS["internal"])}


# --- automatic rollback ------------------------------------------------------------------------------------------

def test_rule_pattern_is_derived_from_the_listener_arn():
    arn = "arn:aws:elasticloadbalancing:us-west-2:000000000000:listener/app/scorer-service/0011/0012"
    assert listener_rule_pattern(arn) == ("arn:aws:elasticloadbalancing:us-west-2:000000000000:listener-rule/app/"
                                          "scorer-service/0011/0012/*")
    with pytest.raises(ValueError):
        listener_rule_pattern("arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/app/x/1")


def _allowed(policy_json):
    return {(s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"]),
             s["Resource"] if isinstance(s["Resource"], str) else tuple(s["Resource"]))
            for s in json.loads(policy_json)["Statement"]}


def test_rollback_policy_is_least_privilege():
    listeners = list(_listeners("production").values())
    allowed = _allowed(rollback_policy(listeners, "fn", None))
    assert allowed == {
        (READ_ACTIONS, "*"),
        ("elasticloadbalancing:ModifyRule", tuple(sorted(listener_rule_pattern(a) for a in listeners))),
        (("logs:CreateLogStream", "logs:PutLogEvents"), "arn:aws:logs:us-west-2:000000000000:log-group:"
                                                        "/aws/lambda/fn:*"),
    }
    assert READ_ACTIONS == ("elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeListeners",
                            "elasticloadbalancing:DescribeTargetGroups")
    with_topic = _allowed(rollback_policy(listeners, "fn", PAGER))
    assert with_topic - allowed == {("sns:Publish", PAGER)}


@pytest.mark.parametrize("stack", STACKS)
def test_auto_rollback_resources_follow_the_setting(program_run, stack):
    enabled = program_run(stack)
    assert bool(enabled.of_type(TOPIC_TYPE)) == (stack == "production"), "autoRollback defaults to production only"
    flipped = program_run(stack, autoRollback="false" if stack == "production" else "true")
    assert bool(flipped.of_type(TOPIC_TYPE)) == (stack != "production")
    assert [f.name for f in flipped.of_type(FUNCTION_TYPE) if f.name == ROLLBACK_FUNCTION_NAME] == \
        ([ROLLBACK_FUNCTION_NAME] if stack != "production" else [])


@pytest.mark.parametrize("bad", ["yes", "1", "maybe", ""])
def test_bad_auto_rollback_is_refused(bad):
    with pytest.raises(SettingsError, match=rf"autoRollback for stack 'production' must be true or false, got {bad!r}"):
        parse_settings(stack_config("production", autoRollback=bad), "production")


def test_production_rollback_function_subscription_and_role(program_run):
    run = program_run("production", "25")
    fn = run.named(FUNCTION_TYPE, ROLLBACK_FUNCTION_NAME).inputs
    assert fn["handler"] == "components.live_rollback.handler" and fn["runtime"] == "python3.12"
    assert "vpcConfig" not in fn, "it only calls the ELB and SNS APIs"
    env = fn["environment"]["variables"]
    assert env["NOTIFY_TOPIC_ARN"] == PAGER and env["STACK"] == "production"
    plan = RollbackPlan.from_json(env[PLAN_ENV])
    settings = load_stack_settings("production", ROOT)
    weighted = [r for alb in ("public", "internal") for r in plan_rules(settings) if r.alb == alb and r.is_weighted]
    assert [(r.alb, r.priority, r.legacy_target_group, r.scorer_target_group) for r in plan.rules] == \
        [(r.alb, r.priority, r.targets[0].target_group, r.targets[1].target_group) for r in weighted]
    assert plan.listener_arns == _listeners("production") and plan.stickiness_seconds == 3600
    assert len(json.dumps(env)) < 4096

    (topic,) = run.of_type(TOPIC_TYPE)
    (subscription,) = run.of_type(SUBSCRIPTION_TYPE)
    assert subscription.inputs == {**subscription.inputs, "topic": ROLLBACK_TOPIC, "protocol": "lambda",
                                   "endpoint": fn_arn(ROLLBACK_FUNCTION_NAME)}
    invoke = run.named(PERMISSION_TYPE, "auto-rollback-invoke").inputs
    assert (invoke["principal"], invoke["sourceArn"]) == ("sns.amazonaws.com", ROLLBACK_TOPIC)
    assert topic.inputs["name"] == ROLLBACK_FUNCTION_NAME

    triggers = sorted(a.inputs["name"] for a in run.of_type(ALARM_TYPE)
                      if ROLLBACK_TOPIC in a.inputs.get("alarmActions", []))
    assert triggers == ["HTTP-Target-5XX-l-passport-v2-scorer-int-sustain",
                        "HTTP-Target-5XX-l-passport-v2-scorer-sustain",
                        "Lambda-Errors-passport-v2-scorer", "TargetResponseTime-l-passport-v2-scorer-int-sustain",
                        "TargetResponseTime-l-passport-v2-scorer-sustain"]

    policy = run.named(POLICY_TYPE, "auto-rollback-policy").inputs["policy"]
    listeners = list(_listeners("production").values())
    assert policy == rollback_policy(listeners, ROLLBACK_FUNCTION_NAME, PAGER)
    actions = {a for s in json.loads(policy)["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str)
                                                                     else s["Action"])}
    assert actions == {*READ_ACTIONS, "elasticloadbalancing:ModifyRule", "logs:CreateLogStream", "logs:PutLogEvents",
                       "sns:Publish"}
    log_group = run.named(LOG_GROUP_TYPE, "auto-rollback-logs").inputs
    assert log_group["name"] == f"/aws/lambda/{ROLLBACK_FUNCTION_NAME}"


def test_rollback_environment_refuses_more_than_four_kilobytes():
    settings = load_stack_settings("production", ROOT)
    plan = plan_rules(settings)
    env = rollback_environment(plan, _listeners("production"), 3600, "production", PAGER)
    assert set(env) == {"ROLLBACK_PLAN", "STACK", "NOTIFY_TOPIC_ARN"}
    with pytest.raises(ValueError, match="4096-byte"):
        rollback_environment(plan * 3, _listeners("production"), 3600, "production", PAGER)


@pytest.mark.parametrize(("stack", "expected"), [("production", True), ("staging", False), ("review", False),
                                                 ("dev", False)])
def test_auto_rollback_and_retention_defaults(stack, expected):
    raw = stack_config("staging")
    settings = parse_settings(raw, stack)
    assert (settings.auto_rollback, settings.log_retention_days) == (expected, 30)
    assert parse_settings({**raw, "autoRollback": "False "}, stack).auto_rollback is False
    assert parse_settings({**raw, "autoRollback": "true"}, stack).auto_rollback is True
    assert parse_settings({**raw, "logRetentionDays": "3653"}, stack).log_retention_days == 3653


def test_stack_file_yaml_boolean_reaches_auto_rollback(tmp_path):
    text = (ROOT / "Pulumi.production.yaml").read_text()
    (tmp_path / "Pulumi.production.yaml").write_text(
        text + "  passport-scorer-lambdas:autoRollback: false\n  passport-scorer-lambdas:logRetentionDays: 14\n")
    settings = load_stack_settings("production", tmp_path)
    assert (settings.auto_rollback, settings.log_retention_days, settings.unknown_keys) == (False, 14, ())
