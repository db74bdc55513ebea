"""`LambdaService`: one Lambda function and its ALB targets (routing contract §4.1).

Each target is a Lambda target group, the ELB invoke permission scoped to that target group, the attachment and six
alarms; the function gets its log group `/aws/lambda/<name>` with a retention and, with `function_alarms`, alarms on
its own metrics (P11.5); the component also owns the function's own listener rule unless `skip_listener_rule=True`.
Child logical names start with the component name, because a child's URN carries its parent's type but not its name
(§4.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pulumi
import pulumi_aws as aws

from components.alarms import (
    DEFAULT_ALARM_CONFIG,
    ROLLBACK_TRIGGER_KEYS,
    AlarmConfig,
    AlarmDefinition,
    FunctionAlarmDefinition,
    alarm_definitions,
    function_alarm_definitions,
)
from components.listener_rules import RuleSpec, rule_conditions, single_forward_action

LAMBDA_SERVICE_TYPE = "passport:scorer:LambdaService"
ALB_NAMESPACE = "AWS/ApplicationELB"
LAMBDA_NAMESPACE = "AWS/Lambda"


def log_group_name(function_name: str) -> str:
    """The log group Lambda writes a function's logs to."""
    return f"/aws/lambda/{function_name}"


@dataclass(frozen=True)
class ImagePackage:
    """Container image of the legacy API; `command` selects the handler inside the image."""

    image_uri: pulumi.Input[str]
    command: str


@dataclass(frozen=True)
class ZipPackage:
    """Zip archive for the python3.12 runtime; `source_code_hash` is the base64 SHA-256 of the zip, if built."""

    archive: pulumi.Archive
    handler: str
    source_code_hash: str | None = None


@dataclass(frozen=True)
class AlbRef:
    """One ALB as the program sees it: its key, its listener ARN and its CloudWatch `LoadBalancer` dimension."""

    key: str
    listener_arn: pulumi.Input[str]
    arn_suffix: pulumi.Input[str]


@dataclass(frozen=True)
class AlbTarget:
    alb: AlbRef
    tg_name: str


@dataclass(frozen=True)
class LambdaServiceArgs:
    """Inputs of one `LambdaService` (§4.1)."""

    package: ImagePackage | ZipPackage
    architecture: Literal["x86_64", "arm64"]
    memory_mb: int
    timeout_s: int
    role_arn: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    targets: Sequence[AlbTarget]
    environment: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    rule: RuleSpec | None = None
    skip_listener_rule: bool = False
    rule_aliases: Sequence[pulumi.Alias] = ()
    alarm_config: AlarmConfig = DEFAULT_ALARM_CONFIG
    alarm_topic_arn: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    reserved_concurrency: int | None = None  # None: the property is not set (no reservation)
    log_retention_days: int = 30
    function_alarms: bool = False  # Errors/Throttles/p99 Duration alarms on the function itself (the scorer)
    # SNS topic of the automatic rollback (P11.6): added to the alarm actions (not OK actions) of the rollback
    # triggers, i.e. the sustained 5XX and response-time alarms of the target groups and the function's Errors alarm.
    rollback_topic_arn: pulumi.Input[str] | None = None

    def __post_init__(self) -> None:
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb must be 128..10240, got {self.memory_mb}")
        if not 1 <= self.timeout_s <= 900:
            raise ValueError(f"timeout_s must be 1..900, got {self.timeout_s}")
        if self.reserved_concurrency is not None and not 1 <= self.reserved_concurrency <= 10_000:
            raise ValueError(f"reserved_concurrency must be None or 1..10000, got {self.reserved_concurrency}")
        if not self.targets:
            raise ValueError("a LambdaService needs at least one ALB target")
        if len({t.alb.key for t in self.targets}) != len(self.targets):
            raise ValueError("a LambdaService has at most one target group per ALB")
        if not self.skip_listener_rule and (self.rule is None or len(self.targets) != 1):
            raise ValueError("an own listener rule needs `rule` and exactly one target (else skip_listener_rule=True)")
        for key, value in self.environment.items():
            if not isinstance(value, str | pulumi.Output):
                raise ValueError(f"environment variable {key} must be a string, got {value!r}")


class LambdaService(pulumi.ComponentResource):
    """One Lambda function behind one or more ALB target groups, with alarms and an optional own rule."""

    function: aws.lambda_.Function
    target_groups: dict[str, aws.lb.TargetGroup]
    target_group_names: dict[str, str]
    attachments: list[aws.lb.TargetGroupAttachment]
    rule: aws.lb.ListenerRule | None
    alarm_names: list[str]
    log_group: aws.cloudwatch.LogGroup

    def __init__(self, name: str, args: LambdaServiceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LAMBDA_SERVICE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # Created before the function so Lambda never creates it first without a retention.
        self.log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=log_group_name(name),
                                                 retention_in_days=args.log_retention_days, tags=dict(args.tags),
                                                 opts=child)
        self.function = aws.lambda_.Function(name, name=name, role=args.role_arn, architectures=[args.architecture],
                                             memory_size=args.memory_mb, timeout=args.timeout_s,
                                             vpc_config=aws.lambda_.FunctionVpcConfigArgs(
                                                 subnet_ids=args.subnet_ids,
                                                 security_group_ids=args.security_group_ids),
                                             environment=aws.lambda_.FunctionEnvironmentArgs(
                                                 variables=dict(args.environment)),
                                             reserved_concurrent_executions=args.reserved_concurrency,
                                             tags=dict(args.tags),
                                             opts=pulumi.ResourceOptions(parent=self, depends_on=[self.log_group]),
                                             **_package_args(args.package))
        self.target_groups, self.target_group_names, self.attachments, self.alarm_names = {}, {}, [], []
        actions: list[pulumi.Input[str]] = [args.alarm_topic_arn] if args.alarm_topic_arn else []
        rollback = [args.rollback_topic_arn] if args.rollback_topic_arn is not None else []
        for target in args.targets:
            alb = target.alb.key
            # Lambda target groups take no vpc_id/port/protocol/health check: AWS (and moto) reject them.
            tg = aws.lb.TargetGroup(f"{name}-{alb}-tg", name=target.tg_name, target_type="lambda",
                                    tags=dict(args.tags), opts=child)
            permission = aws.lambda_.Permission(f"{name}-{alb}-invoke", action="lambda:InvokeFunction",
                                                function=self.function.name,
                                                principal="elasticloadbalancing.amazonaws.com",
                                                source_arn=tg.arn, opts=child)
            # Registration fails unless the ELB may already invoke the function.
            attachment = aws.lb.TargetGroupAttachment(f"{name}-{alb}-attachment", target_group_arn=tg.arn,
                                                      target_id=self.function.arn,
                                                      opts=pulumi.ResourceOptions(parent=self,
                                                                                  depends_on=[permission]))
            dimensions = {"LoadBalancer": target.alb.arn_suffix, "TargetGroup": tg.arn_suffix}
            for definition in alarm_definitions(target.tg_name, args.alarm_config):
                triggers = (definition.kind, definition.variant) in ROLLBACK_TRIGGER_KEYS
                _metric_alarm(f"{name}-{alb}-{definition.suffix}", definition, dimensions,
                              actions + (rollback if triggers else []), actions, args.tags, child)
                self.alarm_names.append(definition.name)
            self.target_groups[alb] = tg
            self.target_group_names[alb] = target.tg_name
            self.attachments.append(attachment)

        if args.function_alarms:
            for fn_alarm in function_alarm_definitions(name, args.timeout_s):
                _function_alarm(f"{name}-fn-{fn_alarm.suffix}", fn_alarm, self.function.name,
                                actions + (rollback if fn_alarm.triggers_rollback else []), actions, args.tags, child)
                self.alarm_names.append(fn_alarm.name)

        self.rule = None
        if not args.skip_listener_rule:
            assert args.rule is not None  # guaranteed by LambdaServiceArgs
            only = args.targets[0]
            # delete_before_replace: a forced replacement frees the priority first instead of failing PriorityInUse.
            self.rule = aws.lb.ListenerRule(f"{name}-rule", listener_arn=only.alb.listener_arn,
                                            priority=args.rule.priority, conditions=rule_conditions(args.rule),
                                            actions=[single_forward_action(self.target_groups[only.alb.key].arn)],
                                            tags=dict(args.tags),
                                            opts=pulumi.ResourceOptions(parent=self, depends_on=self.attachments,
                                                                        delete_before_replace=True,
                                                                        aliases=list(args.rule_aliases)))
        self.register_outputs({
            "function": self.function,
            "target_groups": self.target_groups,
            "attachments": self.attachments,
            "rule": self.rule,
            "alarm_names": self.alarm_names,
            "log_group": self.log_group,
        })


def _package_args(package: ImagePackage | ZipPackage) -> dict[str, object]:
    if isinstance(package, ImagePackage):
        return {"package_type": "Image", "image_uri": package.image_uri,
                "image_config": aws.lambda_.FunctionImageConfigArgs(commands=[package.command])}
    return {"package_type": "Zip", "runtime": aws.lambda_.Runtime.PYTHON3D12, "handler": package.handler,
            "code": package.archive, "source_code_hash": package.source_code_hash}


def _function_alarm(resource_name: str, definition: FunctionAlarmDefinition, function_name: pulumi.Input[str],
                    alarm_actions: list[pulumi.Input[str]], ok_actions: list[pulumi.Input[str]],
                    tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> aws.cloudwatch.MetricAlarm:
    """One alarm on the function's own `AWS/Lambda` metric (P11.5)."""
    t = definition.threshold
    statistic = {"extended_statistic": definition.statistic} if definition.is_percentile \
        else {"statistic": definition.statistic}
    return aws.cloudwatch.MetricAlarm(
        resource_name, name=definition.name, namespace=LAMBDA_NAMESPACE, metric_name=definition.metric_name,
        dimensions={"FunctionName": function_name}, period=t.period, comparison_operator="GreaterThanThreshold",
        threshold=t.threshold, evaluation_periods=t.evaluation_periods, datapoints_to_alarm=t.datapoints,
        treat_missing_data="notBreaching", alarm_actions=alarm_actions, ok_actions=ok_actions, tags=dict(tags),
        opts=opts, **statistic)


def _metric_alarm(resource_name: str, definition: AlarmDefinition, dimensions: Mapping[str, pulumi.Input[str]],
                  alarm_actions: list[pulumi.Input[str]], ok_actions: list[pulumi.Input[str]],
                  tags: Mapping[str, str], opts: pulumi.ResourceOptions) -> aws.cloudwatch.MetricAlarm:
    """Build one §4.4 alarm: metric math `FILL(m2, 0) / m1` for error ratios, the plain metric for latency."""
    t = definition.threshold
    common = {"name": definition.name, "comparison_operator": "GreaterThanThreshold", "threshold": t.threshold,
              "evaluation_periods": t.evaluation_periods, "datapoints_to_alarm": t.datapoints,
              "treat_missing_data": "notBreaching", "alarm_actions": alarm_actions, "ok_actions": ok_actions,
              "tags": dict(tags), "opts": opts}
    if not definition.is_ratio:
        return aws.cloudwatch.MetricAlarm(resource_name, namespace=ALB_NAMESPACE, metric_name=definition.metric_name,
                                          statistic=definition.statistic, period=t.period, dimensions=dimensions,
                                          **common)

    def query(qid: str, metric: str) -> aws.cloudwatch.MetricAlarmMetricQueryArgs:
        return aws.cloudwatch.MetricAlarmMetricQueryArgs(
            id=qid, return_data=False,
            metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(namespace=ALB_NAMESPACE, metric_name=metric,
                                                                  stat=definition.statistic, period=t.period,
                                                                  dimensions=dimensions))

    label = f"Target {definition.kind.removeprefix('target').upper()} ratio"
    return aws.cloudwatch.MetricAlarm(resource_name, metric_queries=[
        query("m1", "RequestCount"),
        query("m2", definition.error_metric or ""),
        aws.cloudwatch.MetricAlarmMetricQueryArgs(id="e1", expression="FILL(m2, 0) / m1", label=label,
                                                  return_data=True),
    ], **common)
