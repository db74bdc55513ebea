"""Plain helpers for the operations CLI tests: running the CLI, stack file copies, an emulated ALB pair built from the
routing plan in moto, and CloudWatch datapoints. Nothing here touches the Pulumi mocks.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from components.routing import PlannedRule, plan_rules
from components.settings import Settings, load_stack_settings
from ops import cli
from ops.stack_file import replace_percent_text

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-west-2"
STACKS = tuple(sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in ROOT.glob("Pulumi.*.yaml")))
AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE",
           "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
           "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN")


@dataclass(frozen=True)
class CliRun:
    code: int
    out: str
    err: str


def run_cli(capsys: Any, *argv: str) -> CliRun:
    """Run `python -m ops` in-process and capture its output."""
    capsys.readouterr()
    try:
        code = cli.main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return CliRun(code, captured.out, captured.err)


def copy_stack_file(stack: str, stack_dir: Path, *, percent: int | None = None,
                    listeners: dict[str, str] | None = None) -> Path:
    """Copy the committed `Pulumi.<stack>.yaml` into `stack_dir`, optionally with another percentage and listeners."""
    source = ROOT / f"Pulumi.{stack}.yaml"
    target = stack_dir / source.name
    shutil.copyfile(source, target)
    text = target.read_text()
    if percent is not None:
        text = replace_percent_text(text, percent)
    if listeners:
        settings = load_stack_settings(stack, ROOT)
        for old, new in ((settings.public_listener_arn, listeners["public"]),
                         (settings.internal_listener_arn, listeners["internal"])):
            assert old is not None and text.count(old) == 1, f"{source.name}: listener ARN {old}"
            text = text.replace(old, new)
    target.write_text(text)
    return target


def boto_conditions(rule: PlannedRule) -> list[dict[str, Any]]:
    """A planned rule's conditions in the boto3 shape (as the program creates them, §5.1)."""
    conditions = [{"Field": "path-pattern", "PathPatternConfig": {"Values": [rule.path]}}]
    if rule.methods:
        conditions.append({"Field": "http-request-method", "HttpRequestMethodConfig": {"Values": list(rule.methods)}})
    if rule.hosts:
        conditions.append({"Field": "host-header", "HostHeaderConfig": {"Values": list(rule.hosts)}})
    if rule.header is not None:
        conditions.append({"Field": "http-header", "HttpHeaderConfig": {"HttpHeaderName": rule.header.name,
                                                                        "Values": list(rule.header.values)}})
    return conditions


class EmulatedAlbs:
    """The public and internal ALB in moto, with every target group and listener rule of a stack's plan.

    Call inside `mock_aws()`. Listener and load balancer names follow the committed stack files; listeners are plain
    HTTP (the protocol plays no part in rule evaluation, and HTTPS would need a certificate).
    """

    def __init__(self, settings: Settings) -> None:
        self.ec2 = boto3.client("ec2", region_name=REGION)
        self.elbv2 = boto3.client("elbv2", region_name=REGION)
        self.cloudwatch = boto3.client("cloudwatch", region_name=REGION)
        vpc = self.ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        subnets = [self.ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                          AvailabilityZone=f"{REGION}{zone}")["Subnet"]["SubnetId"]
                   for i, zone in enumerate("ab")]
        self.listener_arns: dict[str, str] = {}
        self.load_balancers: dict[str, str] = {}
        for alb, name, scheme in (("public", "scorer-service", "internet-facing"), ("internal", "core-private",
                                                                                    "internal")):
            lb = self.elbv2.create_load_balancer(Name=name, Subnets=subnets, Scheme=scheme,
                                                 Type="application")["LoadBalancers"][0]
            self.load_balancers[alb] = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
            self.listener_arns[alb] = self.elbv2.create_listener(
                LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                DefaultActions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
            )["Listeners"][0]["ListenerArn"]
        self.plan = plan_rules(settings)
        self.tg_arns: dict[str, str] = {}
        for rule in self.plan:
            for target in rule.targets:
                if target.target_group in self.tg_arns:
                    continue
                extra = {"Protocol": "HTTP", "Port": 80, "VpcId": vpc, "TargetType": "ip"} if target.is_external \
                    else {"TargetType": "lambda"}
                self.tg_arns[target.target_group] = self.elbv2.create_target_group(
                    Name=target.target_group, **extra)["TargetGroups"][0]["TargetGroupArn"]
        for rule in self.plan:
            self.elbv2.create_rule(ListenerArn=self.listener_arns[rule.alb], Priority=rule.priority,
                                   Conditions=boto_conditions(rule), Actions=[self.boto_action(rule)])

    def boto_action(self, rule: PlannedRule) -> dict[str, Any]:
        if not rule.is_weighted:
            return {"Type": "forward", "TargetGroupArn": self.tg_arns[rule.targets[0].target_group]}
        assert rule.stickiness is not None
        return {"Type": "forward", "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": self.tg_arns[t.target_group], "Weight": t.weight}
                             for t in rule.targets],
            "TargetGroupStickinessConfig": {"Enabled": rule.stickiness.enabled,
                                            "DurationSeconds": rule.stickiness.duration}}}

    def rules(self, alb: str) -> dict[int, dict[str, Any]]:
        """Live rules of one listener by priority."""
        rules = self.elbv2.describe_rules(ListenerArn=self.listener_arns[alb])["Rules"]
        return {int(r["Priority"]): r for r in rules if not r["IsDefault"]}

    def all_rules(self) -> dict[tuple[str, int], dict[str, Any]]:
        return {(alb, priority): rule for alb in ("public", "internal") for priority, rule in self.rules(alb).items()}

    def weights(self, alb: str, priority: int) -> tuple[list[tuple[str, int]], dict[str, Any]]:
        """`[(tg name, weight)]` and the stickiness config of a weighted rule."""
        names = {arn: name for name, arn in self.tg_arns.items()}
        config = self.rules(alb)[priority]["Actions"][0]["ForwardConfig"]
        return ([(names[t["TargetGroupArn"]], t["Weight"]) for t in config["TargetGroups"]],
                config.get("TargetGroupStickinessConfig", {}))

    def set_weights(self, alb: str, priority: int, legacy: int, scorer: int, *, is_sticky: bool = False) -> None:
        """Hand-edit a weighted rule, as someone with console access would."""
        rule = next(r for r in self.plan if (r.alb, r.priority) == (alb, priority))
        self.elbv2.modify_rule(RuleArn=self.rules(alb)[priority]["RuleArn"], Actions=[{
            "Type": "forward", "ForwardConfig": {
                "TargetGroups": [{"TargetGroupArn": self.tg_arns[rule.targets[0].target_group], "Weight": legacy},
                                 {"TargetGroupArn": self.tg_arns[rule.targets[1].target_group], "Weight": scorer}],
                "TargetGroupStickinessConfig": {"Enabled": is_sticky, "DurationSeconds": 3600}}}])

    def tg_dimension(self, name: str) -> str:
        return self.tg_arns[name].split(":", 5)[5]

    def put_tg_metrics(self, alb: str, tg_name: str, at: datetime, *, requests: int, target_5xx: int = 0,
                       target_4xx: int = 0, lambda_errors: int = 0,
                       latencies: tuple[tuple[float, int], ...] = ((0.1, 10),)) -> None:
        """Put one minute of ALB target-group metrics (dimensions LoadBalancer + TargetGroup, §4.4). Error counts
        are only put when non-zero, as the ALB does."""
        dimensions = [{"Name": "LoadBalancer", "Value": self.load_balancers[alb]},
                      {"Name": "TargetGroup", "Value": self.tg_dimension(tg_name)}]
        data = [{"MetricName": "RequestCount", "Value": requests, "Unit": "Count"}]
        for metric, value in (("HTTPCode_Target_5XX_Count", target_5xx), ("HTTPCode_Target_4XX_Count", target_4xx),
                              ("LambdaUserError", lambda_errors)):
            if value:
                data.append({"MetricName": metric, "Value": value, "Unit": "Count"})
        data.append({"MetricName": "TargetResponseTime", "Values": [v for v, _ in latencies],
                     "Counts": [c for _, c in latencies], "Unit": "Seconds"})
        self.cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
            {**datum, "Dimensions": dimensions, "Timestamp": at} for datum in data])
