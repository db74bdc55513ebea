"""Listener-rule argument builders shared by `LambdaService` and `WeightedRouting` (routing contract §5.1).

Both rule owners build conditions and actions the same way, so a rule keeps the same shape when it moves between
owners (§6.2) and the wire form the tests check is produced in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws


@dataclass(frozen=True)
class HeaderMatch:
    """An `http-header` condition: the header `name` with one of `values` (both compared case-insensitively)."""

    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class RuleSpec:
    """Priority and conditions of one listener rule; `methods == ()` means any method, `hosts == ()` any host,
    `header is None` any headers."""

    priority: int
    path: str
    methods: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    header: HeaderMatch | None = None


def rule_conditions(spec: RuleSpec) -> list[aws.lb.ListenerRuleConditionArgs]:
    """One path condition, plus method, host and http-header conditions when the rule has them (§5.1, P11.1)."""
    conditions = [aws.lb.ListenerRuleConditionArgs(
        path_pattern=aws.lb.ListenerRuleConditionPathPatternArgs(values=[spec.path]))]
    if spec.methods:
        conditions.append(aws.lb.ListenerRuleConditionArgs(
            http_request_method=aws.lb.ListenerRuleConditionHttpRequestMethodArgs(values=list(spec.methods))))
    if spec.hosts:
        conditions.append(aws.lb.ListenerRuleConditionArgs(
            host_header=aws.lb.ListenerRuleConditionHostHeaderArgs(values=list(spec.hosts))))
    if spec.header is not None:
        conditions.append(aws.lb.ListenerRuleConditionArgs(
            http_header=aws.lb.ListenerRuleConditionHttpHeaderArgs(http_header_name=spec.header.name,
                                                                   values=list(spec.header.values))))
    return conditions


def single_forward_action(target_group_arn: pulumi.Input[str]) -> aws.lb.ListenerRuleActionArgs:
    """A plain forward to one target group (component-owned and web-service rules)."""
    return aws.lb.ListenerRuleActionArgs(type="forward", target_group_arn=target_group_arn)


def weighted_forward_action(targets: Sequence[tuple[pulumi.Input[str], int]], *, is_sticky: bool,
                            duration: int) -> aws.lb.ListenerRuleActionArgs:
    """A weighted forward (§5.1, §5.3): every target stays in the action even at weight 0, so changing `p` is always
    an in-place update; `duration` is sent even when stickiness is off because AWS rejects 0."""
    return aws.lb.ListenerRuleActionArgs(
        type="forward",
        forward=aws.lb.ListenerRuleActionForwardArgs(
            target_groups=[aws.lb.ListenerRuleActionForwardTargetGroupArgs(arn=arn, weight=weight)
                           for arn, weight in targets],
            stickiness=aws.lb.ListenerRuleActionForwardStickinessArgs(enabled=is_sticky, duration=duration),
        ),
    )
