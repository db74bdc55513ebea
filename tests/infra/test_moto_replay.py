"""Replay every target group and listener rule the program registers into ALBs emulated by moto (routing contract
§10.4, §10.5).

moto enforces what AWS enforces for priorities (`PriorityInUse`), target group names, Lambda TGs without VPC/port/
protocol, unknown TG ARNs in a forward and over-long path patterns; `validate_plan` covers what moto does not. Both
listeners are plain HTTP here: the listener protocol plays no part in rule evaluation, and an HTTPS listener would
need an ACM certificate.
"""

from __future__ import annotations

from types import SimpleNamespace

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from components.settings import load_stack_settings

from .helpers import REGION, ROOT, RULE_TYPE, TG_TYPE, tg_arn

REGISTRY_TG = "scorer-api-reg"


class MotoAlbs:
    """Two ALBs with one listener each in moto, plus the mapping from the program's ARNs to moto's."""

    def __init__(self, stack: str) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.elbv2 = boto3.client("elbv2", region_name=REGION)
        self.vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [self.ec2.create_subnet(VpcId=self.vpc, CidrBlock=f"10.0.{i}.0/24",
                                          AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                   for i, zone in enumerate("ab")]
        settings = load_stack_settings(stack, ROOT)
        self.listener_map: dict[str, str] = {}
        for name, scheme, program_arn in (("scorer-service", "internet-facing", settings.public_listener_arn),
                                          ("core-private", "internal", settings.internal_listener_arn)):
            lb = self.elbv2.create_load_balancer(Name=name, Subnets=subnets, Scheme=scheme,
                                                 Type="application")["LoadBalancers"][0]
            listener = self.elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                DefaultActions=[{"Type": "fixed-response",
                                 "FixedResponseConfig": {"StatusCode": "404", "ContentType": "text/plain"}}],
            )["Listeners"][0]
            self.listener_map[program_arn] = listener["ListenerArn"]
        # The Django web service's target group exists already; the program only looks it up by name.
        registry = self.elbv2.create_target_group(Name=REGISTRY_TG, Protocol="HTTP", Port=80, VpcId=self.vpc,
                                                  TargetType="ip")["TargetGroups"][0]
        self.tg_map: dict[str, str] = {tg_arn(REGISTRY_TG): registry["TargetGroupArn"]}

    def create_target_group(self, registration) -> None:
        inputs = registration.inputs
        extra = {key: inputs[wire] for key, wire in (("VpcId", "vpcId"), ("Protocol", "protocol")) if wire in inputs}
        if "port" in inputs:
            extra["Port"] = int(inputs["port"])  # passed on deliberately: moto rejects them on a Lambda TG
        created = self.elbv2.create_target_group(Name=inputs["name"], TargetType=inputs["targetType"],
                                                 **extra)["TargetGroups"][0]
        self.tg_map[tg_arn(inputs["name"])] = created["TargetGroupArn"]

    def create_rule(self, registration) -> str:
        inputs = registration.inputs
        return self.elbv2.create_rule(
            ListenerArn=self.listener_map[inputs["listenerArn"]], Priority=int(inputs["priority"]),
            Conditions=boto_conditions(inputs["conditions"]),
            Actions=[self.boto_action(action) for action in inputs["actions"]],
        )["Rules"][0]["RuleArn"]

    def boto_action(self, action: dict) -> dict:
        if "forward" not in action:
            return {"Type": "forward", "TargetGroupArn": self.tg_map.get(action["targetGroupArn"],
                                                                         action["targetGroupArn"])}
        forward = action["forward"]
        config = {"TargetGroups": [{"TargetGroupArn": self.tg_map.get(t["arn"], t["arn"]), "Weight": int(t["weight"])}
                                   for t in forward["targetGroups"]]}
        if "stickiness" in forward:
            config["TargetGroupStickinessConfig"] = {"Enabled": bool(forward["stickiness"].get("enabled", False)),
                                                     "DurationSeconds": int(forward["stickiness"]["duration"])}
        return {"Type": "forward", "ForwardConfig": config}

    def rules_by_priority(self, program_listener_arn: str) -> dict[int, dict]:
        rules = self.elbv2.describe_rules(ListenerArn=self.listener_map[program_listener_arn])["Rules"]
        return {int(r["Priority"]): r for r in rules if not r["IsDefault"]}

    def tg_name(self, moto_arn: str) -> str:
        return self.elbv2.describe_target_groups(TargetGroupArns=[moto_arn])["TargetGroups"][0]["TargetGroupName"]


def boto_conditions(conditions: list[dict]) -> list[dict]:
    fields = {"pathPattern": ("path-pattern", "PathPatternConfig"),
              "httpRequestMethod": ("http-request-method", "HttpRequestMethodConfig"),
              "hostHeader": ("host-header", "HostHeaderConfig"),
              "httpHeader": ("http-header", "HttpHeaderConfig")}
    out = []
    for condition in conditions:
        for kind, value in condition.items():
            field, config = fields[kind]
            values = {"Values": list(value["values"])}
            if kind == "httpHeader":
                values["HttpHeaderName"] = value["httpHeaderName"]
            out.append({"Field": field, config: values})
    return out


def replay(run, stack: str) -> MotoAlbs:
    albs = MotoAlbs(stack)
    for registration in run.of_type(TG_TYPE):
        albs.create_target_group(registration)
    for registration in sorted(run.of_type(RULE_TYPE), key=lambda r: int(r.inputs["priority"])):
        albs.create_rule(registration)
    return albs


def _forward_summary(albs: MotoAlbs, rule: dict) -> tuple[list[tuple[str, int | None]], bool | None]:
    (action,) = rule["Actions"]
    if "ForwardConfig" in action and len(action["ForwardConfig"]["TargetGroups"]) > 1:
        config = action["ForwardConfig"]
        targets = [(albs.tg_name(t["TargetGroupArn"]), t["Weight"]) for t in config["TargetGroups"]]
        return targets, config.get("TargetGroupStickinessConfig", {}).get("Enabled", False)
    return [(albs.tg_name(action["TargetGroupArn"]), None)], None


@pytest.mark.parametrize(("stack", "percent"), [("staging", None), ("review", None), ("production", None),
                                                ("production", "25")])
def test_program_rules_and_target_groups_apply_to_moto(program_run, stack, percent):
    run = program_run(stack, percent)
    settings = load_stack_settings(stack, ROOT)
    p = settings.scorer_percent if percent is None else int(percent)
    with mock_aws():
        albs = replay(run, stack)
        public = albs.rules_by_priority(settings.public_listener_arn)
        internal = albs.rules_by_priority(settings.internal_listener_arn)
        assert sorted(public) == [*range(901, 909), 1001, 1002, 1003, 1004, 1005, 2021, 2022, 2024, 2025, 2026,
                                  2060], f"{stack}: public priorities"
        assert sorted(internal) == [*range(2091, 2097), 2100, 2101, 2103], f"{stack}: internal priorities"
        for priority, legacy_tg in ((1002, "l-cc-v1-st-bulk-POST-0"), (2026, "l-passport-v2-stamp-score")):
            targets, sticky = _forward_summary(albs, public[priority])
            assert targets == [(legacy_tg, 100 - p), ("l-passport-v2-scorer", p)], f"{stack}: rule {priority}"
            assert sticky == (0 < p < 100), f"{stack}: stickiness of rule {priority}"
        targets, _ = _forward_summary(albs, internal[2103])
        assert targets == [("embed-gs-lambda-target-group", 100 - p), ("l-passport-v2-scorer-int", p)]
        assert _forward_summary(albs, public[1005]) == ([("cc-auth-lambda-target-group", None)], None)
        assert _forward_summary(albs, public[2060]) == ([(REGISTRY_TG, None)], None)


def test_duplicated_priority_fails_with_priority_in_use(program_run):
    run = program_run("production")
    with mock_aws():
        albs = replay(run, "production")
        patch = next(r for r in run.of_type(RULE_TYPE) if r.name == "route-cc-bulk-patch")
        with pytest.raises(ClientError) as excinfo:
            albs.create_rule(SimpleNamespace(inputs={**patch.inputs, "priority": 1002.0}))
    assert excinfo.value.response["Error"]["Code"] == "PriorityInUse", "a second rule at public priority 1002"


def test_lambda_target_group_with_vpc_is_rejected_by_moto(program_run):
    registration = next(r for r in program_run("production").of_type(TG_TYPE))
    with mock_aws():
        albs = MotoAlbs("production")
        bad = SimpleNamespace(inputs={**registration.inputs, "vpcId": albs.vpc, "port": 80.0, "protocol": "HTTP"})
        with pytest.raises(ClientError, match="ValidationError"):
            albs.create_target_group(bad)


def test_taking_over_a_priority_needs_modify_not_create(program_run):
    """§6.1/§10.5: an existing single-target rule at 1002 blocks creating the weighted rule there; modifying the
    existing rule in place (what an alias or an import makes Pulumi do) succeeds."""
    run = program_run("production", "25")
    weighted = next(r for r in run.of_type(RULE_TYPE) if r.name == "route-cc-bulk-post")
    with mock_aws():
        albs = MotoAlbs("production")
        for registration in run.of_type(TG_TYPE):
            albs.create_target_group(registration)
        legacy_tg = albs.tg_map[tg_arn("l-cc-v1-st-bulk-POST-0")]
        existing = albs.elbv2.create_rule(
            ListenerArn=albs.listener_map[weighted.inputs["listenerArn"]], Priority=1002,
            Conditions=boto_conditions(weighted.inputs["conditions"]),
            Actions=[{"Type": "forward", "TargetGroupArn": legacy_tg}])["Rules"][0]["RuleArn"]
        with pytest.raises(ClientError) as excinfo:
            albs.create_rule(weighted)
        assert excinfo.value.response["Error"]["Code"] == "PriorityInUse"
        albs.elbv2.modify_rule(RuleArn=existing, Actions=[albs.boto_action(a) for a in weighted.inputs["actions"]])
        targets, sticky = _forward_summary(albs, albs.rules_by_priority(weighted.inputs["listenerArn"])[1002])
        assert targets == [("l-cc-v1-st-bulk-POST-0", 75), ("l-passport-v2-scorer", 25)] and sticky is True


def test_rollback_is_an_in_place_modify(program_run):
    """The rollback's new actions (p = 0) applied with modify_rule onto the p = 25 rules: weights [100, 0], no
    stickiness, same rule ARNs and priorities."""
    split, rollback = program_run("production", "25"), program_run("production", "0")
    settings = load_stack_settings("production", ROOT)
    with mock_aws():
        albs = replay(split, "production")
        before = albs.rules_by_priority(settings.public_listener_arn)
        for registration in rollback.of_type(RULE_TYPE):
            if registration.name.startswith("route-") and "forward" in registration.inputs["actions"][0]:
                listener = registration.inputs["listenerArn"]
                rule = albs.rules_by_priority(listener)[int(registration.inputs["priority"])]
                albs.elbv2.modify_rule(RuleArn=rule["RuleArn"],
                                       Actions=[albs.boto_action(a) for a in registration.inputs["actions"]])
        after = albs.rules_by_priority(settings.public_listener_arn)
        assert {p: r["RuleArn"] for p, r in before.items()} == {p: r["RuleArn"] for p, r in after.items()}
        for priority in (1001, 1002, 1003, 1004, 2026):
            targets, sticky = _forward_summary(albs, after[priority])
            assert [w for _, w in targets] == [100, 0] and sticky is False, f"rule {priority} after rollback"
