"""Typed stack settings, parsed by a pure function from raw config strings and the stack name (routing contract §8).

`parse_settings(raw, stack)` takes the project-namespace config exactly as `pulumi.Config().get()` returns it (plain
strings; objects and lists as JSON text) without the `passport-scorer-lambdas:` prefix. It never reads the engine,
the environment or the clock, so tests and the operations tooling call it with dicts or with a committed stack file
loaded by `load_stack_file` (secure values skipped).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from components.alarms import DEFAULT_ALARM_CONFIG, AlarmConfig, parse_alarm_config
from components.environment import (
    LEGACY_BASE_ENV,
    MAX_ENV_BYTES,
    PROGRAM_ENV,
    RESERVED_ENV,
    SECRET_ENV,
    env_value,
)
from components.inventory import (
    LEGACY_FUNCTIONS,
    SCORER_TARGET_GROUPS,
    SHARED_ROUTES,
    LegacyFunction,
    alb_arn_suffix,
    target_group_name_problem,
)
from components.override_header import (
    DEFAULT_OVERRIDE_HEADER,
    OVERRIDE_HEADER_KEY,
    OverrideHeader,
    parse_override_header,
)
from components.rollout_config import (
    EXTRA_ROUTES_KEY,
    PERCENT_BY_ROUTE_KEY,
    ExtraRoute,
    parse_extra_routes,
    parse_percent_by_route,
)
from components.stack_files import PROJECT, PROJECT_DIR, StackFile, load_stack_file, stack_file_path

__all__ = [
    "AUTO_ROLLBACK_KEY", "DATABASE_URL_KEY", "DEFAULT_LOG_RETENTION_DAYS", "DEFAULT_SCORER_PERCENT",
    "EXTRA_ROUTES_KEY", "KNOWN_KEYS", "LOG_RETENTION_KEY", "MAX_RESERVED_CONCURRENCY",
    "OVERRIDE_HEADER_KEY", "PERCENT_BY_ROUTE_KEY", "PROJECT", "PROJECT_DIR", "RESERVED_CONCURRENCY_KEY",
    "SCORER_PERCENT_KEY", "ExtraRoute", "OverrideHeader", "Settings", "SettingsError", "StackFile",
    "default_auto_rollback", "default_scorer_percent", "env_value", "legacy_environment", "load_stack_file",
    "load_stack_settings", "parse_scorer_percent", "parse_settings", "scorer_environment", "stack_file_path",
]

SCORER_PERCENT_KEY = "scorerPercent"
DATABASE_URL_KEY = "scorerDatabaseUrl"  # the only secret key; read with config.get_secret
RESERVED_CONCURRENCY_KEY = "scorerReservedConcurrency"
MAX_RESERVED_CONCURRENCY = 10_000  # sanity bound, far above any account's concurrency quota
DEFAULT_SCORER_PERCENT: Mapping[str, int] = {"staging": 100, "review": 100, "production": 0}
OTHER_STACK_SCORER_PERCENT = 0
PRODUCTION_STACK = "production"
AUTO_ROLLBACK_KEY = "autoRollback"
LOG_RETENTION_KEY = "logRetentionDays"
DEFAULT_LOG_RETENTION_DAYS = 30
# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)

KNOWN_KEYS = (
    "scorerPercent", "publicListenerArn", "internalListenerArn", "privateSubnetIds", "coreInfraStack",
    "lambdaSecurityGroupId", "legacyImageUri", "registryTargetGroupName", "legacyFunctions", "legacyEnv",
    "legacyExtraPolicyArns", "scorerSecretArn", "scorerSecretKmsKeyArn", "scorerEnv", "scorerMemoryMb",
    "scorerTimeoutSeconds", "scorerHandler", "scorerZipPath", "v2HostHeaders", "stickinessSeconds", "alarmTopicArn",
    "alarms", "scorerReservedConcurrency", "scorerOverrideHeader", "scorerPercentByRoute", "extraSharedRoutes",
    "autoRollback", "logRetentionDays",
    # Read by the operations tooling only (`python -m ops health` / `advance`), not used here:
    "rolloutHealth", "rolloutSteps", "rolloutHoldMinutes",
)

_ARN = {
    "secret": re.compile(
        r"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"
    ),
    "kms": re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$"),
    "sns": re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]+$"),
    "policy": re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[A-Za-z0-9/+=,.@_-]+$"),
}
_HOST_PATTERN = re.compile(r"^[A-Za-z0-9.*?-]{1,128}$")
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")


class SettingsError(ValueError):
    """Invalid stack configuration; the message lists every problem, each naming its key and value."""


@dataclass(frozen=True)
class Settings:
    """Everything the program needs from one stack's config (§8.1), validated."""

    stack: str
    scorer_percent: int
    public_listener_arn: str
    internal_listener_arn: str | None  # None: taken from core_infra_stack
    private_subnet_ids: tuple[str, ...] | None  # None: taken from core_infra_stack
    core_infra_stack: str | None
    lambda_security_group_id: str
    legacy_image_uri: str
    scorer_secret_arn: str
    registry_target_group_name: str = "scorer-api-reg"
    legacy_functions: Mapping[str, LegacyFunction] = field(default_factory=lambda: dict(LEGACY_FUNCTIONS))
    legacy_env: Mapping[str, str] = field(default_factory=dict)
    legacy_extra_policy_arns: tuple[str, ...] = ()
    scorer_secret_kms_key_arn: str | None = None
    has_database_url: bool = False
    scorer_env: Mapping[str, str] = field(default_factory=dict)
    scorer_memory_mb: int = 256
    scorer_timeout_s: int = 30
    scorer_reserved_concurrency: int | None = None  # None: no reservation (the function uses the unreserved pool)
    scorer_handler: str = "scorer_lambda.handler.handler"
    scorer_zip_path: str = "dist/scorer_lambda.zip"
    v2_host_headers: tuple[str, ...] = ("*.passport.xyz",)
    stickiness_seconds: int = 3600
    alarm_topic_arn: str | None = None
    alarms: AlarmConfig = DEFAULT_ALARM_CONFIG
    override_header: OverrideHeader | None = DEFAULT_OVERRIDE_HEADER  # None: `scorerOverrideHeader: false`
    scorer_percent_by_route: Mapping[str, int] = field(default_factory=dict)  # P11.3 overrides by route key
    extra_shared_routes: tuple[ExtraRoute, ...] = ()  # P11.4
    auto_rollback: bool = False  # P11.6; default true on production only (`default_auto_rollback`)
    log_retention_days: int = DEFAULT_LOG_RETENTION_DAYS  # P11.5
    unknown_keys: tuple[str, ...] = ()

    def with_percent(self, percent: int) -> Settings:
        """Return a copy with another scorer percentage (validated like the config value)."""
        return replace(self, scorer_percent=parse_scorer_percent(str(percent), self.stack))

    def percent_for(self, route_key: str) -> int:
        """The scorer percentage of one shared route: its `scorerPercentByRoute` entry, else `scorerPercent`."""
        return self.scorer_percent_by_route.get(route_key, self.scorer_percent)

    @property
    def shared_route_keys(self) -> tuple[str, ...]:
        """Keys of every weighted route: the inventory's shared routes, then the extra shared routes."""
        return tuple(r.key for r in SHARED_ROUTES) + tuple(r.key for r in self.extra_shared_routes)


def default_scorer_percent(stack: str) -> int:
    """Return the code default of `scorerPercent` for a stack (§5.2): staging/review 100, anything else 0."""
    return DEFAULT_SCORER_PERCENT.get(stack, OTHER_STACK_SCORER_PERCENT)


def default_auto_rollback(stack: str) -> bool:
    """`autoRollback` when the key is absent: on for production (P11.6), off elsewhere."""
    return stack == PRODUCTION_STACK


def parse_scorer_percent(raw: str | None, stack: str) -> int:
    """Parse the scorer percentage `p` of a stack (routing contract §5.2).

    `None` (key absent) gives the stack default. Otherwise the stripped string must be 1-3 ASCII digits with a value
    in 0..100; anything else raises `ValueError` naming the key, the stack and the offending value. There is no
    silent fallback.
    """
    if raw is None:
        return default_scorer_percent(stack)
    text = raw.strip() if isinstance(raw, str) else None
    if text is not None and re.fullmatch(r"[0-9]{1,3}", text) and int(text) <= 100:
        return int(text)
    raise ValueError(f"{SCORER_PERCENT_KEY} for stack '{stack}' must be an integer from 0 to 100, got {raw!r}")


def parse_settings(raw: Mapping[str, str], stack: str, *, has_database_url: bool = False) -> Settings:
    """Parse and validate one stack's raw config (routing contract §8.1); raise `SettingsError` listing all problems.

    `has_database_url` says whether the secret `scorerDatabaseUrl` is set; it is refused on production (§7.2).
    """
    p = _Parser(raw, stack)
    percent = p.run(lambda: parse_scorer_percent(raw.get(SCORER_PERCENT_KEY), stack), 0)
    core = p.optional_str("coreInfraStack")
    public_arn = p.listener_arn("publicListenerArn", required=True)
    internal_arn = p.listener_arn("internalListenerArn", required=core is None)
    if public_arn and internal_arn and alb_arn_suffix(public_arn) == alb_arn_suffix(internal_arn):
        p.problem(f"publicListenerArn and internalListenerArn must belong to two different ALBs, got {internal_arn!r}")
    subnets = p.json("privateSubnetIds", list, None)
    if subnets is None and core is None:
        p.problem("privateSubnetIds is required unless coreInfraStack is set")
    elif subnets is not None and (not subnets or not all(isinstance(s, str) and s.startswith("subnet-")
                                                          for s in subnets)):
        p.problem(f"privateSubnetIds must be a non-empty list of subnet ids, got {subnets!r}")
    if has_database_url and stack == PRODUCTION_STACK:
        p.problem(f"{DATABASE_URL_KEY} is refused on stack '{stack}': a plain DATABASE_URL is readable by anyone who "
                  "can view the function configuration; put it in the scorerSecretArn secret")
    if DATABASE_URL_KEY in raw:
        p.problem(f"{DATABASE_URL_KEY} must be set with `pulumi config set --secret`, not as plain text")
    hosts = tuple(p.json("v2HostHeaders", list, ["*.passport.xyz"]))
    for host in hosts:
        if not isinstance(host, str) or not _HOST_PATTERN.match(host):
            p.problem(f"v2HostHeaders: {host!r} is not a host pattern (letters, digits, '-', '.', '*', '?')")
    extras = p.run(lambda: parse_extra_routes(raw.get(EXTRA_ROUTES_KEY), stack), ())
    route_keys = [r.key for r in SHARED_ROUTES] + [r.key for r in extras]
    by_route = p.run(lambda: parse_percent_by_route(raw.get(PERCENT_BY_ROUTE_KEY), stack, route_keys), {})
    secret_arn = p.arn("scorerSecretArn", "secret", required=True)
    kms_key_arn = p.arn("scorerSecretKmsKeyArn", "kms")
    if secret_arn and kms_key_arn and _ARN["secret"].match(secret_arn) and _ARN["kms"].match(kms_key_arn) \
            and _arn_region(kms_key_arn) != _arn_region(secret_arn):
        p.problem(f"scorerSecretKmsKeyArn must be in the region of scorerSecretArn ({_arn_region(secret_arn)}): "
                  f"Secrets Manager only uses a KMS key of its own region, got {kms_key_arn!r}")
    settings = Settings(
        stack=stack,
        scorer_percent=percent,
        public_listener_arn=public_arn or "",
        internal_listener_arn=internal_arn,
        private_subnet_ids=None if subnets is None else tuple(subnets),
        core_infra_stack=core,
        lambda_security_group_id=p.matching("lambdaSecurityGroupId", r"sg-[0-9a-f]{8,17}"),
        legacy_image_uri=p.matching("legacyImageUri", r"\S+/\S+(:[\w.-]+|@sha256:[0-9a-f]{64})"),
        scorer_secret_arn=secret_arn or "",
        registry_target_group_name=p.tg_name("registryTargetGroupName", "scorer-api-reg"),
        legacy_functions=p.legacy_functions(),
        legacy_env=p.env("legacyEnv", reserved=PROGRAM_ENV),
        legacy_extra_policy_arns=p.policy_arns("legacyExtraPolicyArns"),
        scorer_secret_kms_key_arn=kms_key_arn,
        has_database_url=has_database_url,
        scorer_env=p.env("scorerEnv", reserved=PROGRAM_ENV),
        scorer_memory_mb=p.integer("scorerMemoryMb", 256, 128, 10240),
        scorer_timeout_s=p.integer("scorerTimeoutSeconds", 30, 1, 900),
        scorer_reserved_concurrency=p.reserved_concurrency(RESERVED_CONCURRENCY_KEY),
        scorer_handler=p.matching("scorerHandler", _HANDLER.pattern, "scorer_lambda.handler.handler"),
        scorer_zip_path=p.relative_path("scorerZipPath", "dist/scorer_lambda.zip"),
        v2_host_headers=hosts,
        stickiness_seconds=p.integer("stickinessSeconds", 3600, 1, 604_800),
        alarm_topic_arn=p.arn("alarmTopicArn", "sns"),
        alarms=p.alarms(),
        override_header=p.run(lambda: parse_override_header(raw.get(OVERRIDE_HEADER_KEY), stack), None),
        scorer_percent_by_route=by_route,
        extra_shared_routes=extras,
        auto_rollback=p.boolean(AUTO_ROLLBACK_KEY, default_auto_rollback(stack)),
        log_retention_days=p.log_retention(LOG_RETENTION_KEY),
        unknown_keys=tuple(sorted(k for k in raw if k not in KNOWN_KEYS and k != DATABASE_URL_KEY)),
    )
    for name, env in (("scorer", scorer_environment(settings)), ("legacy", legacy_environment(settings))):
        size = sum(len(k.encode()) + len(v.encode()) for k, v in env.items())
        if size > MAX_ENV_BYTES:
            p.problem(f"{name} environment is {size} bytes, over Lambda's {MAX_ENV_BYTES}-byte limit")
    if p.problems:
        raise SettingsError(f"invalid config for stack '{stack}':\n  " + "\n  ".join(p.problems))
    return settings


def _arn_region(arn: str) -> str:
    """The region field of an ARN (`arn:partition:service:region:account:resource`)."""
    return arn.split(":", 5)[3]


def scorer_environment(settings: Settings) -> dict[str, str]:
    """Plain environment of the scorer Lambda (§7.2), without the optional secret `DATABASE_URL`."""
    return {"SCORER_SERVER_SSM_ARN": settings.scorer_secret_arn, "ENVIRONMENT": settings.stack, **settings.scorer_env}


def legacy_environment(settings: Settings) -> dict[str, str]:
    """Plain environment shared by the legacy Lambdas (§7.2)."""
    return {"SCORER_SERVER_SSM_ARN": settings.scorer_secret_arn, **LEGACY_BASE_ENV, **settings.legacy_env}


def load_stack_settings(stack: str, project_dir: Path = PROJECT_DIR) -> Settings:
    """Parse the committed `Pulumi.<stack>.yaml` into `Settings` (no engine; secrets only counted as present)."""
    stack_file = load_stack_file(stack_file_path(stack, project_dir))
    return parse_settings(stack_file.config, stack, has_database_url=DATABASE_URL_KEY in stack_file.secure_keys)


class _Parser:
    """Collects problems while reading typed values out of the raw config."""

    def __init__(self, raw: Mapping[str, str], stack: str) -> None:
        self.raw, self.stack, self.problems = raw, stack, []

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def run(self, fn, fallback):
        try:
            return fn()
        except ValueError as exc:
            self.problem(str(exc))
            return fallback

    def optional_str(self, key: str) -> str | None:
        value = self.raw.get(key)
        return (value.strip() or None) if isinstance(value, str) else None

    def matching(self, key: str, pattern: str, default: str | None = None) -> str:
        value = self.optional_str(key) or default
        if value is None:
            self.problem(f"{key} is required for stack '{self.stack}'")
            return ""
        if not re.fullmatch(pattern, value):
            self.problem(f"{key} has an invalid value {value!r}")
        return value

    def listener_arn(self, key: str, *, required: bool) -> str | None:
        value = self.optional_str(key)
        if value is None:
            if required:
                self.problem(f"{key} is required for stack '{self.stack}'")
            return None
        try:
            alb_arn_suffix(value)
        except ValueError as exc:
            self.problem(f"{key}: {exc}")
            return None
        return value

    def arn(self, key: str, kind: str, *, required: bool = False) -> str | None:
        value = self.optional_str(key)
        if value is None:
            if required:
                self.problem(f"{key} is required for stack '{self.stack}'")
            return None
        if not _ARN[kind].match(value):
            self.problem(f"{key} is not a full {kind} ARN: {value!r}")
        return value

    def tg_name(self, key: str, default: str) -> str:
        value = self.optional_str(key) or default
        problem = target_group_name_problem(value)
        if problem:
            self.problem(f"{key}: {problem}")
        return value

    def relative_path(self, key: str, default: str) -> str:
        value = self.optional_str(key) or default
        if Path(value).is_absolute() or ".." in Path(value).parts:
            self.problem(f"{key} must be a path inside the project directory, got {value!r}")
        return value

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.optional_integer(key, low, high)
        return default if value is None else value

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        """The integer value of `key` in low..high; None if the key is absent or (after a problem) invalid."""
        value = self.raw.get(key)
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else ""
        if not re.fullmatch(r"[0-9]{1,7}", text) or not low <= int(text) <= high:
            self.problem(f"{key} for stack '{self.stack}' must be an integer from {low} to {high}, got {value!r}")
            return None
        return int(text)

    def boolean(self, key: str, default: bool) -> bool:
        """`true`/`false` (YAML booleans reach the program as these strings); anything else is a problem."""
        value = self.raw.get(key)
        if value is None:
            return default
        text = value.strip().lower() if isinstance(value, str) else ""
        if text not in ("true", "false"):
            self.problem(f"{key} for stack '{self.stack}' must be true or false, got {value!r}")
            return default
        return text == "true"

    def log_retention(self, key: str) -> int:
        """Retention in days, one of the values CloudWatch Logs accepts."""
        value = self.raw.get(key)
        if value is None:
            return DEFAULT_LOG_RETENTION_DAYS
        text = value.strip() if isinstance(value, str) else ""
        if not re.fullmatch(r"[0-9]{1,4}", text) or int(text) not in LOG_RETENTION_DAYS:
            self.problem(f"{key} for stack '{self.stack}' must be one of CloudWatch Logs' retention values "
                         f"{', '.join(map(str, LOG_RETENTION_DAYS))}, got {value!r}")
            return DEFAULT_LOG_RETENTION_DAYS
        return int(text)

    def reserved_concurrency(self, key: str) -> int | None:
        """Reserved concurrency 1..MAX_RESERVED_CONCURRENCY, or None (absent: no reservation).

        0 is refused: it would throttle every invocation of the function while the ALB still sends it traffic.
        """
        value = self.raw.get(key)
        text = value.strip() if isinstance(value, str) else None
        if text and re.fullmatch(r"[0-9]{1,7}", text) and int(text) == 0:
            self.problem(f"{key} for stack '{self.stack}' must not be 0, got {value!r}: a reservation of 0 throttles "
                         f"every request to the scorer; roll back with {SCORER_PERCENT_KEY}: 0, or remove the key for "
                         "no reservation")
            return None
        return self.optional_integer(key, 1, MAX_RESERVED_CONCURRENCY)

    def json(self, key: str, kind: type, default: Any) -> Any:
        value = self.raw.get(key)
        if value is None:
            return default
        try:
            decoded = json.loads(value)
        except (TypeError, ValueError):
            decoded = None
        if not isinstance(decoded, kind):
            self.problem(f"{key} must be a {'list' if kind is list else 'object'}, got {value!r}")
            return default
        return decoded

    def env(self, key: str, *, reserved: frozenset[str]) -> dict[str, str]:
        out = {}
        for name, value in self.json(key, dict, {}).items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
                self.problem(f"{key}: {name!r} is not a valid environment variable name")
            elif name in RESERVED_ENV or name in reserved:
                self.problem(f"{key}: {name} is reserved (set by Lambda or by this program)")
            elif name in SECRET_ENV:
                self.problem(f"{key}: {name} is a secret; put it in the scorerSecretArn secret, not in plain config")
            else:
                converted = self.run(lambda n=name, v=value: env_value(n, v), None)
                if converted is not None:
                    out[name] = converted
        return out

    def policy_arns(self, key: str) -> tuple[str, ...]:
        arns = self.json(key, list, [])
        for arn in arns:
            if not isinstance(arn, str) or not _ARN["policy"].match(arn):
                self.problem(f"{key}: {arn!r} is not an IAM managed policy ARN")
        names = [str(arn).rsplit("/", 1)[-1] for arn in arns]
        if len(set(names)) != len(names):
            self.problem(f"{key}: policy names must be unique (they name the attachments), got {names}")
        return tuple(arns)

    def legacy_functions(self) -> dict[str, LegacyFunction]:
        merged = dict(LEGACY_FUNCTIONS)
        for name, fields in self.json("legacyFunctions", dict, {}).items():
            if name not in merged:
                self.problem(f"legacyFunctions: unknown function {name!r} (known: {', '.join(LEGACY_FUNCTIONS)})")
                continue
            if not isinstance(fields, dict) or set(fields) - {"memoryMb", "timeoutSeconds", "command"}:
                self.problem(f"legacyFunctions.{name}: only memoryMb, timeoutSeconds and command may be set")
                continue
            memory, timeout = fields.get("memoryMb", merged[name].memory_mb), fields.get("timeoutSeconds",
                                                                                         merged[name].timeout_s)
            command = fields.get("command", merged[name].command)
            if isinstance(memory, bool) or not isinstance(memory, int) or not 128 <= memory <= 10240:
                self.problem(f"legacyFunctions.{name}.memoryMb must be an integer from 128 to 10240, got {memory!r}")
            if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 900:
                self.problem(f"legacyFunctions.{name}.timeoutSeconds must be an integer from 1 to 900, got {timeout!r}")
            if not isinstance(command, str) or not _HANDLER.match(command):
                self.problem(f"legacyFunctions.{name}.command must be a dotted handler path, got {command!r}")
            merged[name] = replace(merged[name], memory_mb=memory, timeout_s=timeout, command=command)
        return merged

    def alarms(self) -> AlarmConfig:
        tg_names = [f.tg_name for f in LEGACY_FUNCTIONS.values()] + list(SCORER_TARGET_GROUPS.values())
        config, problems = parse_alarm_config(self.json("alarms", dict, None), tg_names)
        self.problems.extend(problems)
        return config
