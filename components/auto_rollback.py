"""`AutoRollback`: the automatic rollback of production contract P11.6.

An SNS topic receives the scorer side's rollback-trigger alarms (`LambdaServiceArgs.rollback_topic_arn`); a small
function subscribed to it runs `components.live_rollback.handler`, the same code as `ops rollback --now`, and
publishes before → after to `alarmTopicArn` (if configured). Its zip holds only that module (boto3 comes from the
Lambda runtime), it runs outside the VPC (it only calls the ELB and SNS APIs) and its role may only read the rules
and target groups, modify the rules of the two listeners, write its own log group and publish to the alarm topic.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components import live_rollback
from components.iam import assume_role_policy
from components.lambda_service import log_group_name
from components.routing import ALB_KEYS, PlannedRule, rollback_plan

AUTO_ROLLBACK_TYPE = "passport:scorer:AutoRollback"
ROLLBACK_FUNCTION_NAME = "passport-v2-scorer-rollback"
ROLLBACK_HANDLER = "components.live_rollback.handler"
MAX_ENV_BYTES = 4096  # Lambda: all environment variables together
READ_ACTIONS = ("elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeListeners",
                "elasticloadbalancing:DescribeTargetGroups")
_LISTENER_ARN = re.compile(r"^(arn:aws[a-z-]*):elasticloadbalancing:([a-z0-9-]+):(\d{12}):listener/"
                           r"(app/[A-Za-z0-9-]+/[0-9a-f]+/[0-9a-f]+)$")


def listener_rule_pattern(listener_arn: str) -> str:
    """ARN pattern of every rule of one listener: `…:listener-rule/app/<lb-name>/<lb-id>/<listener-id>/*`."""
    match = _LISTENER_ARN.match(listener_arn)
    if match is None:
        raise ValueError(f"not the listener ARN of an application load balancer: {listener_arn!r}")
    partition, region, account, path = match.groups()
    return f"{partition}:elasticloadbalancing:{region}:{account}:listener-rule/{path}/*"


def log_group_arn(listener_arn: str, function_name: str) -> str:
    """The function's log group ARN, in the listeners' account and region (the stack's)."""
    match = _LISTENER_ARN.match(listener_arn)
    if match is None:
        raise ValueError(f"not the listener ARN of an application load balancer: {listener_arn!r}")
    partition, region, account, _ = match.groups()
    return f"{partition}:logs:{region}:{account}:log-group:{log_group_name(function_name)}:*"


def rollback_policy(listener_arns: Sequence[str], function_name: str, notify_topic_arn: str | None) -> str:
    """Inline policy of the rollback role. The Describe* calls support no resource-level permissions (hence `*`);
    `ModifyRule` is limited to the rules of the stack's two listeners; logs only to its own log group."""
    statements: list[dict[str, object]] = [
        {"Sid": "ReadRules", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": "*"},
        {"Sid": "ModifyListenerRules", "Effect": "Allow", "Action": "elasticloadbalancing:ModifyRule",
         "Resource": sorted({listener_rule_pattern(arn) for arn in listener_arns})},
        {"Sid": "OwnLogGroup", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
         "Resource": log_group_arn(listener_arns[0], function_name)},
    ]
    if notify_topic_arn:
        statements.append({"Sid": "Notify", "Effect": "Allow", "Action": "sns:Publish", "Resource": notify_topic_arn})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def rollback_environment(plan: Sequence[PlannedRule], listener_arns: Mapping[str, str], stickiness_seconds: int,
                         stack: str, notify_topic_arn: str | None) -> dict[str, str]:
    """Environment of the rollback function: the rollback plan as JSON, the stack and the notification topic."""
    env = {live_rollback.PLAN_ENV: rollback_plan(plan, listener_arns, stickiness_seconds).to_json(),
           live_rollback.STACK_ENV: stack}
    if notify_topic_arn:
        env[live_rollback.NOTIFY_TOPIC_ENV] = notify_topic_arn
    size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
    if size > MAX_ENV_BYTES:
        raise ValueError(f"the rollback function's environment is {size} bytes, over Lambda's {MAX_ENV_BYTES}-byte "
                         "limit (too many extraSharedRoutes?)")
    return env


def rollback_archive() -> pulumi.AssetArchive:
    """The function's code: `components/live_rollback.py` under its own import path, with an empty package init."""
    source = Path(live_rollback.__file__).resolve()
    return pulumi.AssetArchive({"components/__init__.py": pulumi.StringAsset(""),
                                "components/live_rollback.py": pulumi.FileAsset(str(source))})


@dataclass(frozen=True)
class AutoRollbackArgs:
    plan: Sequence[PlannedRule]
    listener_arns: Mapping[str, pulumi.Input[str]]
    stickiness_seconds: int
    stack: str
    notify_topic_arn: str | None = None
    log_retention_days: int = 30
    tags: Mapping[str, str] = field(default_factory=dict)


class AutoRollback(pulumi.ComponentResource):
    """Trigger topic, rollback function, its log group, role and SNS subscription."""

    topic: aws.sns.Topic
    function: aws.lambda_.Function
    role: aws.iam.Role

    def __init__(self, name: str, args: AutoRollbackArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(AUTO_ROLLBACK_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        fn_name = ROLLBACK_FUNCTION_NAME
        listeners = pulumi.Output.all(*[args.listener_arns[alb] for alb in ALB_KEYS])
        self.topic = aws.sns.Topic(f"{name}-topic", name=fn_name, tags=tags, opts=child)
        self.role = aws.iam.Role(f"{name}-role", assume_role_policy=assume_role_policy(), tags=tags, opts=child)
        aws.iam.RolePolicy(f"{name}-policy", role=self.role.id, opts=child, policy=listeners.apply(
            lambda arns: rollback_policy(arns, fn_name, args.notify_topic_arn)))
        log_group = aws.cloudwatch.LogGroup(f"{name}-logs", name=log_group_name(fn_name),
                                            retention_in_days=args.log_retention_days, tags=tags, opts=child)
        environment = listeners.apply(lambda arns: rollback_environment(
            args.plan, dict(zip(ALB_KEYS, arns, strict=True)), args.stickiness_seconds, args.stack,
            args.notify_topic_arn))
        self.function = aws.lambda_.Function(
            fn_name, name=fn_name, role=self.role.arn, runtime=aws.lambda_.Runtime.PYTHON3D12,
            handler=ROLLBACK_HANDLER, code=rollback_archive(), architectures=["arm64"], memory_size=128, timeout=60,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment), tags=tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_group]))
        permission = aws.lambda_.Permission(f"{name}-invoke", action="lambda:InvokeFunction",
                                            function=self.function.name, principal="sns.amazonaws.com",
                                            source_arn=self.topic.arn, opts=child)
        aws.sns.TopicSubscription(f"{name}-subscription", topic=self.topic.arn, protocol="lambda",
                                  endpoint=self.function.arn,
                                  opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]))
        self.register_outputs({"topic": self.topic, "function": self.function})
