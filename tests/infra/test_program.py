"""The whole program under Pulumi mocks, per stack, with the committed stack files (routing contract §5, §9, §10.3).

Assertions are on registrations in wire form (camelCase keys, numbers as floats).
"""

from __future__ import annotations

import json
from collections import Counter

import pulumi
import pytest

from components.inventory import LEGACY_FUNCTIONS, ROUTES, SCORER_TARGET_GROUPS, alb_arn_suffix
from components.lambda_service import AlbRef, AlbTarget, ImagePackage, LambdaServiceArgs
from components.routing import PlannedRule, PlannedTarget, Stickiness, find_shadowed, plan_rules, routing_table
from components.settings import load_stack_settings, parse_settings

from .helpers import (
    ALARM_TYPE,
    ATTACHMENT_TYPE,
    FUNCTION_TYPE,
    LOG_GROUP_TYPE,
    PERMISSION_TYPE,
    ROOT,
    RULE_TYPE,
    STACKS,
    TG_TYPE,
    duplicates,
    fn_arn,
    rule_arn,
    stack_config,
    tg_arn,
    tg_arn_suffix,
    wire_conditions,
    wire_header,
    wire_stickiness,
    wire_targets,
)

SECRET_SIG = "4dabf18193072939515e22adb298388d"  # marks a secret value in the wire form
SHARED = [r for r in ROUTES if r.weighted]


def _listeners(stack):
    settings = load_stack_settings(stack, ROOT)
    return {"public": settings.public_listener_arn, "internal": settings.internal_listener_arn}


def _rule_of_route(run, route):
    name = f"route-{route.key}" if route.weighted or route.legacy_function is None else f"{route.legacy_function}-rule"
    return run.named(RULE_TYPE, name)


def _comparable(value):
    """Inputs with archives and assets replaced by their path or text (they compare by identity)."""
    if isinstance(value, pulumi.FileArchive):
        return ("FileArchive", value.path)
    if isinstance(value, pulumi.AssetArchive):
        return ("AssetArchive", {k: _comparable(v) for k, v in value.assets.items()})
    if isinstance(value, pulumi.FileAsset | pulumi.StringAsset):
        return (type(value).__name__, getattr(value, "path", None) or getattr(value, "text", None))
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _unsecret(value):
    return value["value"] if isinstance(value, dict) and SECRET_SIG in value else value


@pytest.mark.parametrize("stack", STACKS)
def test_every_registered_type_and_name_is_unique(program_run, stack):
    run = program_run(stack)
    assert duplicates((r.typ, r.name) for r in run.resources) == [], f"{stack}: duplicate URNs"
    counts = Counter(r.typ for r in run.resources)
    # 72 target group alarms + 3 on the scorer function; production (autoRollback) adds the rollback function, its
    # SNS invoke permission and its log group.
    rollback = 1 if stack == "production" else 0
    assert (counts[FUNCTION_TYPE], counts[TG_TYPE], counts[PERMISSION_TYPE], counts[ATTACHMENT_TYPE],
            counts[ALARM_TYPE], counts[RULE_TYPE], counts[LOG_GROUP_TYPE]) == (
        11 + rollback, 12, 12 + rollback, 12, 75, 28, 11 + rollback), f"{stack}: {counts}"
    tg_names = [r.inputs["name"] for r in run.of_type(TG_TYPE)]
    assert duplicates(tg_names) == [] and all(len(n) <= 32 for n in tg_names), tg_names
    assert all(len(r.inputs["name"]) <= 64 for r in run.of_type(FUNCTION_TYPE))


@pytest.mark.parametrize("stack", STACKS)
def test_one_rule_per_listener_and_priority(program_run, stack):
    rules = program_run(stack).of_type(RULE_TYPE)
    pairs = [(r.inputs["listenerArn"], int(r.inputs["priority"])) for r in rules]
    assert duplicates(pairs) == [], f"{stack}: duplicate (listener, priority)"
    listeners = _listeners(stack)
    assert Counter(r.inputs["listenerArn"] for r in rules) == {listeners["public"]: 19, listeners["internal"]: 9}


@pytest.mark.parametrize("stack", STACKS)
def test_shared_endpoints_have_one_weighted_rule_each(program_run, stack):
    run, listeners = program_run(stack), _listeners(stack)
    p = load_stack_settings(stack, ROOT).scorer_percent
    by_priority = run.rules_by_priority()
    for route in SHARED:
        rule = by_priority[(listeners[route.alb], route.priority)]
        assert rule.name == f"route-{route.key}", f"{stack} {route.key}: wrong rule at priority {route.priority}"
        legacy_tg = LEGACY_FUNCTIONS[route.legacy_function].tg_name
        assert wire_targets(rule) == [(tg_arn(legacy_tg), 100 - p), (tg_arn(SCORER_TARGET_GROUPS[route.alb]), p)], (
            f"{stack} {route.key}: targets/weights")
        assert wire_stickiness(rule) == (0 < p < 100, 3600), f"{stack} {route.key}: stickiness"
        conditions = wire_conditions(rule)
        assert conditions["pathPattern"] == [route.path] and conditions["httpRequestMethod"] == list(route.methods)
        assert conditions.get("hostHeader", []) == (["*.passport.xyz"] if route.v2_host else []), route.key
        assert "targetGroupArn" not in rule.inputs["actions"][0], f"{route.key}: forward and target_group_arn mixed"


@pytest.mark.parametrize("stack", STACKS)
def test_legacy_only_rules_keep_their_own_targets(program_run, stack):
    run, listeners = program_run(stack), _listeners(stack)
    expected = {"cc-authenticate": ("cc-auth-lambda-rule", "cc-auth-lambda-target-group"),
                "v2-model-score": ("passport-v2-model-score-rule", "l-passport-v2-model-score"),
                "v2-stamp-history": ("route-v2-stamp-history", "scorer-api-reg"),
                "v2-catch-all": ("route-v2-catch-all", "scorer-api-reg")}
    by_priority = run.rules_by_priority()
    for route in (r for r in ROUTES if not r.weighted):
        name, tg_name = expected[route.key]
        rule = by_priority[(listeners["public"], route.priority)]
        assert rule.name == name, f"{stack} {route.key}: rule at {route.priority} is {rule.name}"
        assert wire_targets(rule) == [(tg_arn(tg_name), None)], f"{stack} {route.key}: single forward to {tg_name}"
        assert wire_conditions(rule).get("httpRequestMethod", []) == list(route.methods), route.key


@pytest.mark.parametrize("stack", STACKS)
def test_registered_rules_shadow_nothing(program_run, stack):
    listeners = _listeners(stack)
    alb_of = {arn: key for key, arn in listeners.items()}
    registered = []
    for rule in program_run(stack).of_type(RULE_TYPE):
        conditions = wire_conditions(rule)
        header = wire_header(rule)
        # An override rule's name is `route-<shared route>-override-<side>`: the rule it overrides on purpose.
        overrides = rule.name.split("-override-")[0] if header else None
        registered.append(PlannedRule(
            key=rule.name, alb=alb_of[rule.inputs["listenerArn"]], priority=int(rule.inputs["priority"]),
            path=conditions["pathPattern"][0], methods=tuple(conditions.get("httpRequestMethod", ())),
            hosts=tuple(conditions.get("hostHeader", ())), owner="routing", resource_name=rule.name, parent="",
            targets=tuple(PlannedTarget(arn, w) for arn, w in wire_targets(rule)), header=header,
            override_of=overrides))
    assert find_shadowed(registered) == [], f"{stack}: a registered rule is shadowed"
    priority = {r.key: r.priority for r in registered}
    assert priority["route-v2-stamp-history"] < priority["route-v2-stamp-score"] < priority["route-v2-catch-all"]
    assert priority["route-v2-stamp-history"] < priority["route-v2-stamp-score-override-scorer"] < \
        priority["route-v2-stamp-score"]
    assert sum(1 for r in registered if r.header is not None) == 16


@pytest.mark.parametrize("percent", [0, 1, 50, 99, 100])
def test_weights_and_stickiness_for_each_percentage(program_run, percent):
    run = program_run("production", str(percent))
    assert run.exports["scorer_percent"] == percent
    for route in SHARED:
        rule = run.named(RULE_TYPE, f"route-{route.key}")
        assert [w for _, w in wire_targets(rule)] == [100 - percent, percent], f"{route.key} at p={percent}"
        assert wire_stickiness(rule) == (0 < percent < 100, 3600), f"{route.key} stickiness at p={percent}"


@pytest.mark.parametrize("bad", ["-1", "101", "5%", "12.5", "true"])
def test_bad_percentage_fails_the_program_with_key_and_value(run_stack, bad):
    with pytest.raises(pulumi.RunError) as excinfo:
        run_stack("production", stack_config("production", scorerPercent=bad))
    assert f"scorerPercent for stack 'production' must be an integer from 0 to 100, got {bad!r}" in str(excinfo.value)


def test_bad_percentage_registers_nothing(run_stack, mocks):
    with pytest.raises(pulumi.RunError):
        run_stack("production", stack_config("production", scorerPercent="101"))
    assert mocks.resources == [], "validation must run before the first registration"


@pytest.mark.parametrize(("stack", "expected"), [("staging", 100), ("review", 100), ("production", 0)])
def test_missing_percentage_takes_the_documented_default(run_stack, stack, expected):
    run = run_stack(stack, stack_config(stack, scorerPercent=None))
    assert run.exports["scorer_percent"] == expected
    rule = run.named(RULE_TYPE, "route-cc-bulk-post")
    assert [w for _, w in wire_targets(rule)] == [100 - expected, expected], f"{stack} default weights"
    assert wire_stickiness(rule) == (False, 3600)


def test_rollback_from_25_to_0_changes_only_weights_and_stickiness(program_run):
    before, after = program_run("production", "25"), program_run("production", "0")
    old = {(r.typ, r.name): _comparable(r.inputs) for r in before.resources}
    new = {(r.typ, r.name): _comparable(r.inputs) for r in after.resources}
    assert old.keys() == new.keys(), "rollback must not add or remove resources"
    changed = sorted(name for (typ, name) in old if old[(typ, name)] != new[(typ, name)])
    assert changed == sorted(f"route-{r.key}" for r in SHARED), f"only the weighted rules change, got {changed}"
    for route in SHARED:
        key = (RULE_TYPE, f"route-{route.key}")
        assert {k: v for k, v in old[key].items() if k != "actions"} == {k: v for k, v in new[key].items()
                                                                          if k != "actions"}, route.key
        rule = after.named(RULE_TYPE, f"route-{route.key}")
        assert [w for _, w in wire_targets(rule)] == [100, 0], f"{route.key} after rollback"
        assert wire_stickiness(rule) == (False, 3600), f"{route.key} stickiness after rollback"
        assert wire_stickiness(before.named(RULE_TYPE, f"route-{route.key}")) == (True, 3600)


def test_lambda_target_groups_permissions_and_attachments(program_run):
    run = program_run("production")
    for tg in run.of_type(TG_TYPE):
        assert tg.inputs["targetType"] == "lambda", tg.name
        assert not {"vpcId", "port", "protocol", "healthCheck"} & tg.inputs.keys(), f"{tg.name}: not for Lambda TGs"
    functions = [*LEGACY_FUNCTIONS, "passport-v2-scorer"]
    tg_names = {f.name: [f.tg_name] for f in LEGACY_FUNCTIONS.values()} | {
        "passport-v2-scorer": list(SCORER_TARGET_GROUPS.values())}
    for name in functions:
        albs = ["public", "internal"] if name == "passport-v2-scorer" else [
            next(r.alb for r in ROUTES if r.legacy_function == name)]
        for alb, tg_name in zip(albs, tg_names[name], strict=True):
            assert run.named(TG_TYPE, f"{name}-{alb}-tg").inputs["name"] == tg_name
            permission = run.named(PERMISSION_TYPE, f"{name}-{alb}-invoke").inputs
            assert (permission["action"], permission["principal"]) == ("lambda:InvokeFunction",
                                                                       "elasticloadbalancing.amazonaws.com"), name
            assert (permission["function"], permission["sourceArn"]) == (name, tg_arn(tg_name)), f"{name}: scope"
            attachment = run.named(ATTACHMENT_TYPE, f"{name}-{alb}-attachment").inputs
            assert (attachment["targetGroupArn"], attachment["targetId"]) == (tg_arn(tg_name), fn_arn(name)), name
            assert len([a for a in run.of_type(ALARM_TYPE) if a.name.startswith(f"{name}-{alb}-")]) == 6, name
    component_rules = {r.name for r in run.of_type(RULE_TYPE) if not r.name.startswith("route-")}
    assert component_rules == {"cc-auth-lambda-rule", "passport-v2-model-score-rule"}, "skip_listener_rule"


def test_scorer_function_settings(run_stack):
    run = run_stack("staging", stack_config("staging"), secrets={"scorerDatabaseUrl": "postgres://u:p@db/x"})
    fn = run.named(FUNCTION_TYPE, "passport-v2-scorer").inputs
    assert (fn["runtime"], fn["architectures"], int(fn["memorySize"]), int(fn["timeout"]), fn["packageType"]) == (
        "python3.12", ["arm64"], 256, 30, "Zip")
    assert fn["handler"] == "scorer_lambda.handler.handler" and fn["name"] == "passport-v2-scorer"
    assert fn["vpcConfig"] == {"subnetIds": ["subnet-00000000000000001", "subnet-00000000000000002"],
                               "securityGroupIds": ["sg-00000000000000001"]}
    env = _unsecret(fn["environment"])["variables"]
    assert env["ENVIRONMENT"] == "staging" and env["HUMAN_POINTS_ENABLED"] == "true"
    assert env["SCORER_SERVER_SSM_ARN"].startswith("arn:aws:secretsmanager:")
    assert env["DATABASE_URL"] == "postgres://u:p@db/x"
    assert SECRET_SIG in fn["environment"], "an environment holding the database URL must stay secret"


def test_production_refuses_a_database_url(run_stack):
    with pytest.raises(pulumi.RunError, match="scorerDatabaseUrl is refused on stack 'production'"):
        run_stack("production", stack_config("production"), secrets={"scorerDatabaseUrl": "postgres://x"})


def test_legacy_function_settings(program_run):
    run = program_run("production")
    settings = load_stack_settings("production", ROOT)
    for f in LEGACY_FUNCTIONS.values():
        fn = run.named(FUNCTION_TYPE, f.name).inputs
        assert (fn["packageType"], fn["imageUri"], fn["imageConfig"], fn["architectures"]) == (
            "Image", settings.legacy_image_uri, {"commands": [f.command]}, ["x86_64"]), f.name
        assert (int(fn["memorySize"]), int(fn["timeout"])) == (f.memory_mb, f.timeout_s), f.name
        assert "runtime" not in fn and "handler" not in fn, f"{f.name}: image functions take neither"
        assert fn["environment"]["variables"]["LOGGING_STRATEGY"] == "structlog_json", f.name


def test_alarm_dimensions_follow_the_alb_of_each_target_group(program_run):
    run, listeners = program_run("production"), _listeners("production")
    tg_alb = {f.tg_name: next(r.alb for r in ROUTES if r.legacy_function == name)
              for name, f in LEGACY_FUNCTIONS.items()} | {v: k for k, v in SCORER_TARGET_GROUPS.items()}
    alarms = [a for a in run.of_type(ALARM_TYPE) if not a.name.startswith("passport-v2-scorer-fn-")]
    assert len(alarms) == 72
    topic = "arn:aws:sns:us-west-2:000000000000:scorer-pagerduty"
    rollback_topic = "arn:aws:sns:us-west-2:000000000000:passport-v2-scorer-rollback"
    for alarm in alarms:
        inputs = alarm.inputs
        tg_name = next(n for n in tg_alb if inputs["name"].endswith(f"-{n}-burst") or inputs["name"].endswith(
            f"-{n}-sustain"))
        expected = {"LoadBalancer": alb_arn_suffix(listeners[tg_alb[tg_name]]), "TargetGroup": tg_arn_suffix(tg_name)}
        # The scorer's sustained 5XX and response-time alarms also notify the automatic rollback (P11.6).
        triggers = tg_name in SCORER_TARGET_GROUPS.values() and inputs["name"].endswith("-sustain") and \
            "-4XX-" not in inputs["name"]
        assert inputs["okActions"] == [topic], alarm.name
        assert inputs["alarmActions"] == [topic] + ([rollback_topic] if triggers else []), alarm.name
        assert inputs["treatMissingData"] == "notBreaching" and inputs["comparisonOperator"] == "GreaterThanThreshold"
        if "metricQueries" in inputs:
            queries = {q["id"]: q for q in inputs["metricQueries"]}
            assert sorted(queries) == ["e1", "m1", "m2"], alarm.name
            assert [q["id"] for q in inputs["metricQueries"] if q.get("returnData")] == ["e1"], alarm.name
            assert queries["e1"]["expression"] == "FILL(m2, 0) / m1", alarm.name
            for qid in ("m1", "m2"):
                assert queries[qid]["metric"]["dimensions"] == expected, f"{alarm.name} {qid} dimensions"
                assert queries[qid]["metric"]["namespace"] == "AWS/ApplicationELB"
        else:
            assert inputs["metricName"] == "TargetResponseTime" and inputs["statistic"] == "Average", alarm.name
            assert inputs["dimensions"] == expected, f"{alarm.name} dimensions"


def test_internal_scorer_alarms_use_the_internal_alb(program_run):
    run, listeners = program_run("production"), _listeners("production")
    alarm = run.named(ALARM_TYPE, "passport-v2-scorer-internal-latency-burst").inputs
    assert alarm["dimensions"]["LoadBalancer"] == alb_arn_suffix(listeners["internal"])
    assert alarm["dimensions"]["LoadBalancer"] != alb_arn_suffix(listeners["public"])
    assert alarm["name"] == "TargetResponseTime-l-passport-v2-scorer-int-burst"
    sustain = run.named(ALARM_TYPE, "passport-v2-scorer-internal-5xx-sustain").inputs
    assert sustain["threshold"] == 0.005, "production override of the internal scorer 5XX sustain alarm"


def test_alarms_without_topic_have_no_actions(program_run):
    alarm = program_run("review").named(ALARM_TYPE, "passport-v2-scorer-public-5xx-burst").inputs
    assert alarm.get("alarmActions", []) == [] and alarm.get("okActions", []) == []


def test_stack_outputs(program_run):
    run = program_run("production", "25")
    exports = run.exports
    assert exports["scorer_percent"] == 25
    assert exports["scorer_function_name"] == "passport-v2-scorer"
    assert exports["scorer_function_arn"] == fn_arn("passport-v2-scorer")
    assert exports["legacy_function_names"] == list(LEGACY_FUNCTIONS)
    expected_tgs = [f.tg_name for f in LEGACY_FUNCTIONS.values()] + list(SCORER_TARGET_GROUPS.values())
    assert exports["target_group_arns"] == {name: tg_arn(name) for name in expected_tgs}
    plan = plan_rules(load_stack_settings("production", ROOT).with_percent(25))
    table = exports["routing_table"]
    assert [e["key"] for e in table] == [r.key for r in plan], "table order is the plan order"
    plain = routing_table(plan)
    for entry, offline in zip(table, plain, strict=True):
        stripped = {k: v for k, v in entry.items() if k not in ("listener_arn", "rule_arn")}
        stripped["targets"] = [{k: v for k, v in t.items() if k != "arn"} for t in entry["targets"]]
        assert stripped == offline, f"route {entry['key']}: exported entry differs from the plan"
        assert entry["listener_arn"] == _listeners("production")[entry["alb"]], entry["key"]
        assert all(t["arn"] == tg_arn(t["target_group"]) for t in entry["targets"]), entry["key"]
        rule = next(r for r in run.of_type(RULE_TYPE) if int(r.inputs["priority"]) == entry["priority"]
                    and r.inputs["listenerArn"] == entry["listener_arn"])
        assert entry["rule_arn"] == rule_arn(rule.name), entry["key"]
    bulk = next(e for e in table if e["key"] == "cc-bulk-post")
    assert [t["weight"] for t in bulk["targets"]] == [75, 25] and bulk["stickiness"] == {"enabled": True,
                                                                                         "duration": 3600}
    assert Stickiness(True, 3600) == next(r for r in plan if r.key == "cc-bulk-post").stickiness


def test_iam_roles_read_exactly_the_configured_secret(program_run):
    run = program_run("production")
    secret = load_stack_settings("production", ROOT).scorer_secret_arn
    policies = [p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if not p.name.startswith("auto-rollback")]
    assert sorted(p.name for p in policies) == ["legacy-lambda-role-secret-read", "scorer-lambda-role-secret-read"]
    for policy in policies:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        assert statements == [{"Sid": "ReadScorerSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                               "Resource": secret}], policy.name
    attached = sorted(a.inputs["policyArn"].rsplit("/", 1)[1]
                      for a in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"))
    assert attached == ["AWSLambdaBasicExecutionRole"] * 2 + ["AWSLambdaVPCAccessExecutionRole"] * 2
    for role in run.of_type("aws:iam/role:Role"):  # the rollback function's role included
        trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust == [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                          "Action": "sts:AssumeRole"}], role.name
        assert "name" not in role.inputs, f"{role.name}: roles are auto-named"


KMS_KEY = "arn:aws:kms:us-west-2:000000000000:key/00000000-0000-0000-0000-000000000000"
EXTRA_POLICY = "arn:aws:iam::000000000000:policy/legacy-s3-read"
# One staging run with the optional keys set, shared by the tests below.
STAGING_EXTRAS = {"scorerSecretKmsKeyArn": KMS_KEY, "legacyExtraPolicyArns": json.dumps([EXTRA_POLICY]),
                  "registryTargetGroupName": "scorer-api-reg-2"}


def test_kms_key_and_extra_policies(program_run):
    run = program_run("staging", **STAGING_EXTRAS)
    for role in ("legacy-lambda-role", "scorer-lambda-role"):
        policy = json.loads(run.named("aws:iam/rolePolicy:RolePolicy", f"{role}-secret-read").inputs["policy"])
        assert [s["Sid"] for s in policy["Statement"]] == ["ReadScorerSecret", "DecryptScorerSecret"], role
        assert policy["Statement"][1] == {
            "Sid": "DecryptScorerSecret", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": KMS_KEY,
            "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"}}}, role
    extra_attachment = run.named("aws:iam/rolePolicyAttachment:RolePolicyAttachment",
                                 "legacy-lambda-role-extra-legacy-s3-read")
    assert extra_attachment.inputs["policyArn"] == EXTRA_POLICY
    assert not [r for r in run.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
                if r.name.startswith("scorer-lambda-role-extra")], "extra policies are for the legacy role only"


def test_registry_target_group_is_looked_up_by_configured_name(program_run):
    run = program_run("staging", **STAGING_EXTRAS)
    assert wire_targets(run.named(RULE_TYPE, "route-v2-catch-all")) == [(tg_arn("scorer-api-reg-2"), None)]
    assert wire_targets(run.named(RULE_TYPE, "route-v2-stamp-history")) == [(tg_arn("scorer-api-reg-2"), None)]


def test_core_infra_stack_supplies_internal_listener_and_subnets(run_stack):
    core_listener = ("arn:aws:elasticloadbalancing:us-west-2:000000000000:listener/app/core-from-ref/"
                     "00000000000000aa/00000000000000bb")
    run = run_stack("staging", stack_config("staging", internalListenerArn=None, privateSubnetIds=None,
                                            coreInfraStack="organization/core-infra/staging"),
                    stack_outputs={"privateAlbHttpListenerArn": core_listener, "privateSubnetIds": ["subnet-0000aa"]})
    assert run.named(RULE_TYPE, "route-embed-score").inputs["listenerArn"] == core_listener
    alarm = run.named(ALARM_TYPE, "embed-gs-lambda-internal-latency-burst").inputs
    assert alarm["dimensions"]["LoadBalancer"] == "app/core-from-ref/00000000000000aa"
    assert run.named(FUNCTION_TYPE, "embed-gs-lambda").inputs["vpcConfig"]["subnetIds"] == ["subnet-0000aa"]


def test_core_infra_stack_without_the_output_fails_naming_it(program_module, mocks):
    settings = parse_settings(stack_config("staging", internalListenerArn=None,
                                           coreInfraStack="organization/core-infra/staging"), "staging")
    mocks.stack_outputs = {"privateSubnetIds": ["subnet-0000aa"]}

    def program():
        albs, subnets = program_module["network"](settings)
        return pulumi.Output.all(albs["internal"].listener_arn, albs["internal"].arn_suffix, subnets)

    with pytest.raises(pulumi.RunError, match=r"^core infrastructure stack organization/core-infra/staging has no "
                                              r"output 'privateAlbHttpListenerArn'$"):
        pulumi.runtime.test(program)()


def test_kms_via_service_region_comes_from_the_key_arn(program_run):
    secret = "arn:aws:secretsmanager:eu-central-1:000000000000:secret:scorer-secret-EuEuEu"
    key = "arn:aws:kms:eu-central-1:000000000000:key/11111111-1111-1111-1111-111111111111"
    run = program_run("staging", scorerSecretArn=secret, scorerSecretKmsKeyArn=key)
    for role in ("legacy-lambda-role", "scorer-lambda-role"):
        policy = json.loads(run.named("aws:iam/rolePolicy:RolePolicy", f"{role}-secret-read").inputs["policy"])
        decrypt = next(s for s in policy["Statement"] if s["Action"] == "kms:Decrypt")
        assert decrypt["Resource"] == key, role
        assert decrypt["Condition"] == {"StringEquals": {"kms:ViaService": "secretsmanager.eu-central-1.amazonaws.com"}}


def test_no_kms_statement_without_a_key(program_run):
    run = program_run("staging", scorerSecretKmsKeyArn=None)
    policies = run.of_type("aws:iam/rolePolicy:RolePolicy")
    assert len(policies) == 2
    for policy in policies:
        statements = json.loads(policy.inputs["policy"])["Statement"]
        assert [s["Action"] for s in statements] == ["secretsmanager:GetSecretValue"], policy.name
        assert "kms" not in policy.inputs["policy"], policy.name


RESERVED = "reservedConcurrentExecutions"


def test_reserved_concurrency_reaches_only_the_scorer_function(program_run):
    run = program_run("production", scorerReservedConcurrency="150")
    functions = {f.name: f.inputs for f in run.of_type(FUNCTION_TYPE) if f.name != "passport-v2-scorer-rollback"}
    assert int(functions.pop("passport-v2-scorer")[RESERVED]) == 150
    assert sorted(functions) == sorted(LEGACY_FUNCTIONS), "all ten legacy functions are registered"
    assert [name for name, inputs in functions.items() if RESERVED in inputs] == [], "legacy functions never get it"


@pytest.mark.parametrize("stack", STACKS)
def test_no_reserved_concurrency_without_the_key(program_run, stack):
    functions = program_run(stack).of_type(FUNCTION_TYPE)
    assert len(functions) == (12 if stack == "production" else 11), "production: with the rollback function"
    assert [f.name for f in functions if RESERVED in f.inputs] == [], f"{stack}: an absent key sets no reservation"


@pytest.mark.parametrize("bad", ["-1", "0", "abc", "1.5", "10001"])
def test_bad_reserved_concurrency_fails_the_program_before_any_registration(run_stack, mocks, bad):
    with pytest.raises(pulumi.RunError) as excinfo:
        run_stack("production", stack_config("production", scorerReservedConcurrency=bad))
    message = str(excinfo.value)
    assert "scorerReservedConcurrency for stack 'production'" in message and f"got {bad!r}" in message, message
    assert mocks.resources == [], "validation must run before the first registration"


@pytest.mark.parametrize("value", [0, -1, 10_001])
def test_lambda_service_args_refuse_an_invalid_reservation(value):
    common = {"package": ImagePackage("x/y:1", "h.handler"), "architecture": "x86_64", "memory_mb": 256,
              "timeout_s": 30, "role_arn": "role", "subnet_ids": [], "security_group_ids": [],
              "targets": [AlbTarget(AlbRef("public", "listener", "app/x/1"), "tg")], "skip_listener_rule": True}
    assert LambdaServiceArgs(**common, reserved_concurrency=5).reserved_concurrency == 5
    assert LambdaServiceArgs(**common).reserved_concurrency is None
    with pytest.raises(ValueError, match=f"reserved_concurrency must be None or 1..10000, got {value}"):
        LambdaServiceArgs(**common, reserved_concurrency=value)
