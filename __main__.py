"""Passport Scorer Lambdas: the legacy Lambdas and the new scorer behind the two Scorer ALBs (routing contract).

Deploys, into existing ALB listeners, VPC and secret:
- 10 legacy Lambdas (one container image, one handler each), each with its Lambda target group and alarms;
- the scorer Lambda (`dist/scorer_lambda.zip`, python3.12 arm64) with one target group per ALB and alarms;
- the listener rules: 8 weighted rules splitting the shared endpoints `[legacy 100-p, scorer p]` (`p` per route with
  `scorerPercentByRoute`), one weighted rule per `extraSharedRoutes` entry (legacy TG looked up), 16 override header
  rules reaching either side of a shared endpoint on purpose (`scorerOverrideHeader`), 2 rules owned by legacy
  Lambdas, 2 rules to the Django web service's target group;
- two least-privilege execution roles;
- a log group `/aws/lambda/<name>` with a retention per function, alarms on the scorer function's own metrics and one
  CloudWatch dashboard (P11.5);
- with `autoRollback`, the automatic rollback (P11.6): an SNS topic the scorer side's sustained alarms notify and a
  small function subscribed to it that rolls the weighted rules back to `[100, 0]` (`components.live_rollback`).

Wiring only: typed stack config → roles → LambdaServices → routing plan → rules → exports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pulumi
import pulumi.runtime.config as runtime_config
import pulumi_aws as aws

from components import packaging
from components.auto_rollback import AutoRollback, AutoRollbackArgs
from components.dashboard import DEFAULT_METRICS_NAMESPACE, METRICS_NAMESPACE_ENV, dashboard_body, dashboard_name
from components.iam import LambdaRole, LambdaRoleArgs
from components.inventory import SCORER_FUNCTION_NAME, SCORER_TARGET_GROUPS, alb_arn_suffix, route_of_function
from components.lambda_service import AlbRef, AlbTarget, ImagePackage, LambdaService, LambdaServiceArgs, ZipPackage
from components.routing import (
    PlannedRule,
    WeightedRouting,
    WeightedRoutingArgs,
    plan_rules,
    routing_component_urn,
    validate_plan,
)
from components.settings import (
    DATABASE_URL_KEY,
    PROJECT,
    Settings,
    legacy_environment,
    parse_settings,
    scorer_environment,
)

PROJECT_DIR = Path(__file__).resolve().parent


def read_raw_config() -> dict[str, str]:
    """Every plain (non-secret) value of the project namespace, without its prefix, as the engine passed it."""
    prefix = f"{PROJECT}:"
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    secret_keys = set(runtime_config.get_config_secret_keys_env())
    return {key.removeprefix(prefix): value for key, value in values.items()
            if key.startswith(prefix) and not (runtime_config.is_config_secret(key) or key in secret_keys)}


def load_settings(stack: str, has_database_url: bool) -> tuple[Settings, list[PlannedRule], str | None]:
    """Parse and validate config and plan before any resource is registered; a bad value fails the preview cleanly."""
    try:
        settings = parse_settings(read_raw_config(), stack, has_database_url=has_database_url)
        plan = plan_rules(settings)
        validate_plan(plan, function_names=[*settings.legacy_functions, SCORER_FUNCTION_NAME])
        zip_path = PROJECT_DIR / settings.scorer_zip_path
        if not zip_path.exists():
            pulumi.log.warn(f"{settings.scorer_zip_path} does not exist: run `python -m components.packaging` first")
            return settings, plan, None
        packaging.check_zip(zip_path)
        return settings, plan, packaging.source_code_hash(zip_path)
    except ValueError as exc:
        raise pulumi.RunError(str(exc)) from None


def network(settings: Settings) -> tuple[dict[str, AlbRef], pulumi.Input]:
    """The two ALBs and the Lambda subnets, from explicit config or else from the core infrastructure stack."""
    core = settings.core_infra_stack
    ref = pulumi.StackReference(core) if core else None

    def from_core(name: str, value: object) -> pulumi.Input:
        if value is not None:
            return value
        assert ref is not None  # parse_settings requires coreInfraStack when a value is absent

        def present(output_value: object) -> object:
            if output_value is None:
                raise pulumi.RunError(f"core infrastructure stack {core} has no output {name!r}")
            return output_value

        return ref.get_output(name).apply(present)

    internal_listener = pulumi.Output.from_input(from_core("privateAlbHttpListenerArn", settings.internal_listener_arn))
    subnets = from_core("privateSubnetIds", list(settings.private_subnet_ids) if settings.private_subnet_ids else None)
    public = settings.public_listener_arn
    return {"public": AlbRef("public", public, alb_arn_suffix(public)),
            "internal": AlbRef("internal", internal_listener, internal_listener.apply(alb_arn_suffix))}, subnets


def main(stack: str | None = None) -> None:
    stack = stack or pulumi.get_stack()
    database_url = pulumi.Config(PROJECT).get_secret(DATABASE_URL_KEY)
    settings, plan, zip_hash = load_settings(stack, has_database_url=database_url is not None)
    for key in settings.unknown_keys:
        pulumi.log.warn(f"unknown config key {PROJECT}:{key} is ignored")
    tags = {"project": PROJECT, "stack": stack}
    albs, subnets = network(settings)
    common = {"subnet_ids": subnets, "security_group_ids": [settings.lambda_security_group_id],
              "alarm_config": settings.alarms, "alarm_topic_arn": settings.alarm_topic_arn, "tags": tags,
              "log_retention_days": settings.log_retention_days}
    listener_arns = {key: alb.listener_arn for key, alb in albs.items()}
    # Created before the services: the scorer's trigger alarms name its topic.
    auto_rollback = AutoRollback("auto-rollback", AutoRollbackArgs(
        plan=plan, listener_arns=listener_arns, stickiness_seconds=settings.stickiness_seconds, stack=stack,
        notify_topic_arn=settings.alarm_topic_arn, log_retention_days=settings.log_retention_days,
        tags=tags)) if settings.auto_rollback else None

    legacy_role = LambdaRole("legacy-lambda-role", LambdaRoleArgs(
        settings.scorer_secret_arn, settings.scorer_secret_kms_key_arn, settings.legacy_extra_policy_arns, tags))
    scorer_role = LambdaRole("scorer-lambda-role", LambdaRoleArgs(
        settings.scorer_secret_arn, settings.scorer_secret_kms_key_arn, (), tags))

    planned = {rule.key: rule for rule in plan}
    services: dict[str, LambdaService] = {}
    for fn in settings.legacy_functions.values():
        rule = planned[route_of_function(fn.name).key]
        own_rule = rule.owner == "component"
        aliases = [pulumi.Alias(name=rule.alias_of[0], parent=routing_component_urn())] if rule.alias_of else []
        services[fn.name] = LambdaService(fn.name, LambdaServiceArgs(
            package=ImagePackage(settings.legacy_image_uri, fn.command), architecture="x86_64",
            memory_mb=fn.memory_mb, timeout_s=fn.timeout_s, role_arn=legacy_role.arn,
            environment=legacy_environment(settings), targets=[AlbTarget(albs[rule.alb], fn.tg_name)],
            rule=rule.spec if own_rule else None, skip_listener_rule=not own_rule,
            rule_aliases=aliases if own_rule else [], **common))

    scorer_env: dict[str, pulumi.Input[str]] = dict(scorer_environment(settings))
    if database_url is not None:
        scorer_env["DATABASE_URL"] = database_url
    services[SCORER_FUNCTION_NAME] = LambdaService(SCORER_FUNCTION_NAME, LambdaServiceArgs(
        package=ZipPackage(pulumi.FileArchive(str(PROJECT_DIR / settings.scorer_zip_path)), settings.scorer_handler,
                           zip_hash),
        architecture="arm64", memory_mb=settings.scorer_memory_mb, timeout_s=settings.scorer_timeout_s,
        role_arn=scorer_role.arn, environment=scorer_env, skip_listener_rule=True,
        reserved_concurrency=settings.scorer_reserved_concurrency, function_alarms=True,
        rollback_topic_arn=auto_rollback.topic.arn if auto_rollback else None,
        targets=[AlbTarget(albs[alb], tg_name) for alb, tg_name in SCORER_TARGET_GROUPS.items()], **common))

    target_group_arns = {svc.target_group_names[alb]: tg.arn
                         for svc in services.values() for alb, tg in svc.target_groups.items()}
    routing = WeightedRouting("routing", WeightedRoutingArgs(
        plan=plan, listener_arns=listener_arns,
        target_group_arns=target_group_arns, services=services, tags=tags,
        component_rule_arns={r.key: services[r.parent].rule.arn for r in plan if r.owner == "component"}))

    scorer = services[SCORER_FUNCTION_NAME].function
    dashboard(stack, settings, plan, albs, routing.target_group_arns)
    pulumi.export("scorer_percent", settings.scorer_percent)
    # The percentage in force on every weighted rule, after the per-route overrides of P11.3.
    pulumi.export("scorer_percent_by_route", {key: settings.percent_for(key) for key in settings.shared_route_keys})
    pulumi.export("routing_table", routing.routing_table)
    pulumi.export("target_group_arns", target_group_arns)
    pulumi.export("scorer_function_name", scorer.name)
    pulumi.export("scorer_function_arn", scorer.arn)
    pulumi.export("legacy_function_names", list(settings.legacy_functions))
    pulumi.export("dashboard_name", dashboard_name(stack))
    pulumi.export("rollback_function_name", auto_rollback.function.name if auto_rollback else None)
    pulumi.export("rollback_topic_arn", auto_rollback.topic.arn if auto_rollback else None)


def dashboard(stack: str, settings: Settings, plan: list[PlannedRule], albs: dict[str, AlbRef],
              target_group_arns: dict[str, pulumi.Input[str]]) -> aws.cloudwatch.Dashboard:
    """The stack's dashboard (P11.5), from the plan and the ALB / target group dimensions once resolved."""
    names = {t.target_group for r in plan if r.is_weighted for t in r.targets}
    dimensions = pulumi.Output.from_input({"lbs": {key: alb.arn_suffix for key, alb in albs.items()},
                                           "tgs": {name: target_group_arns[name] for name in sorted(names)}})
    region = settings.public_listener_arn.split(":")[3]
    namespace = settings.scorer_env.get(METRICS_NAMESPACE_ENV, DEFAULT_METRICS_NAMESPACE)
    body = dimensions.apply(lambda d: json.dumps(dashboard_body(
        plan=plan, region=region, load_balancers=d["lbs"],
        tg_suffixes={name: arn.split(":", 5)[5] for name, arn in d["tgs"].items()},  # targetgroup/<name>/<id>
        scorer_function=SCORER_FUNCTION_NAME, metrics_namespace=namespace)))
    return aws.cloudwatch.Dashboard("dashboard", dashboard_name=dashboard_name(stack), dashboard_body=body)


# The Pulumi language host runs this file with run_name="__main__"; tests load it under another name and call main().
if __name__ == "__main__":
    main()
