"""`preflight`: before the first `pulumi up` of a stack, compare every live rule of both listeners with the plan
(routing contract §6.4). Reads AWS only; the comparison is `ops.preflight`.
"""

from __future__ import annotations

from components.routing import ALB_KEYS
from ops import live
from ops.drift import LiveRule, parse_live_rule
from ops.errors import EXIT_CHECK_FAILED, EXIT_OK, aws_errors
from ops.live_commands import AwsTarget
from ops.preflight import check_data, check_plan, summary_counts
from ops.render import preflight_text
from ops.result import Result


def read_live_rules(elbv2: object, listener_arn: str) -> list[LiveRule]:
    """Every non-default rule of one listener (paginated), with target group names resolved."""
    raw = live.list_rules(elbv2, listener_arn)
    arns = {t["TargetGroupArn"] for r in raw for a in r.get("Actions", [])
            for t in a.get("ForwardConfig", {}).get("TargetGroups", [])}
    arns |= {a["TargetGroupArn"] for r in raw for a in r.get("Actions", []) if a.get("TargetGroupArn")}
    names = live.target_group_names(elbv2, arns) if arns else {}
    return [parse_live_rule(r, names) for r in raw]


def preflight_command(target: AwsTarget) -> Result:
    """Every planned rule: free, adopt (import id), conflict, shadowed or may-shadow; exit 1 on anything blocking."""
    context = target.context()
    plan = context.plan()
    with aws_errors(context.region):
        clients = target.clients(context)
        live_by_alb = {alb: read_live_rules(clients.elbv2, context.listener_arn(alb)) for alb in ALB_KEYS}
    checks = check_plan(plan, live_by_alb)
    blocking = any(c.blocking for c in checks)
    data = {"stack": context.stack, "region": clients.region,
            "live_rule_counts": {alb: len(rules) for alb, rules in live_by_alb.items()},
            "rules": [check_data(c) for c in checks], "counts": summary_counts(checks), "ok": not blocking}
    data["imports"] = [r["import"] for r in data["rules"] if r["import"] is not None]
    return Result(data, preflight_text(data), EXIT_CHECK_FAILED if blocking else EXIT_OK)
