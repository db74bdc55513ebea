"""One stack as the operations commands see it: its committed stack file, parsed settings, region and listeners.

Built on `components.settings` (the same parser the Pulumi program uses); secure values are skipped, so no
secrets provider or Pulumi CLI is needed (routing contract §8, §9).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from components.routing import ALB_KEYS, PlannedRule, alb_arn_suffix, plan_rules
from components.settings import (
    DATABASE_URL_KEY,
    PERCENT_BY_ROUTE_KEY,
    SCORER_PERCENT_KEY,
    Settings,
    SettingsError,
    StackFile,
    load_stack_file,
    parse_settings,
    stack_file_path,
)
from ops.errors import ConfigError

logger = logging.getLogger(__name__)

REGION_KEY = "aws:region"
# Keys read only by this tooling; the program's settings parser reports them as unknown (a warning, not an error).
OPS_KEYS = frozenset({"rolloutHealth", "rolloutSteps", "rolloutHoldMinutes"})


@dataclass(frozen=True)
class StackContext:
    """A stack's file, settings and AWS coordinates; `listener_arns` maps ALB key → listener ARN (None if unknown)."""

    stack: str
    path: Path
    stack_file: StackFile
    settings: Settings
    region: str | None
    listener_arns: Mapping[str, str | None]

    def plan(self, percent: int | None = None) -> list[PlannedRule]:
        """The program's rule plan for this stack, optionally at another percentage (validated)."""
        try:
            settings = self.settings if percent is None else self.settings.with_percent(percent)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        return plan_rules(settings)

    def listener_arn(self, alb: str) -> str:
        arn = self.listener_arns.get(alb)
        if not arn:
            raise ConfigError(f"the {alb} listener ARN of stack '{self.stack}' is not in {self.path.name} (it comes "
                              f"from coreInfraStack); pass --{alb}-listener-arn")
        return arn

    def check_region(self, region: str | None) -> None:
        """A listener ARN names its region; calling another region could only answer ListenerNotFound, so say why."""
        for alb in ALB_KEYS:
            arn = self.listener_arns.get(alb)
            if region and arn and arn.split(":")[3] != region:
                raise ConfigError(f"wrong region: the {alb} listener of stack '{self.stack}' is in {arn.split(':')[3]} "
                                  f"but the AWS region is {region} (aws:region in {self.path.name} or --region)")

    def load_balancer(self, alb: str) -> str:
        """CloudWatch `LoadBalancer` dimension of an ALB, derived from its listener ARN (§2.1)."""
        return alb_arn_suffix(self.listener_arn(alb))


def load_context(stack: str, stack_dir: Path, *, region: str | None = None,
                 listener_overrides: Mapping[str, str | None] | None = None,
                 percent_override: str | None = None) -> StackContext:
    """Read and validate `Pulumi.<stack>.yaml` from `stack_dir`; raise `ConfigError` with the parser's message.

    `percent_override` replaces the file's `scorerPercent` and drops its `scorerPercentByRoute` before parsing, so
    every route is at that percentage (a rollback must work even when the file holds an invalid percentage).
    """
    path = stack_file_path(stack, stack_dir)
    if not path.is_file():
        found = sorted(p.name for p in Path(stack_dir).glob("Pulumi.*.yaml"))
        raise ConfigError(f"no stack file {path.name} in {stack_dir} (found: {', '.join(found) or 'none'})")
    try:
        stack_file = load_stack_file(path)
        raw = dict(stack_file.config)
        if percent_override is not None:
            raw[SCORER_PERCENT_KEY] = percent_override
            raw.pop(PERCENT_BY_ROUTE_KEY, None)
        settings = parse_settings(raw, stack,
                                  has_database_url=DATABASE_URL_KEY in stack_file.secure_keys)
    except (OSError, SettingsError) as exc:
        raise ConfigError(str(exc)) from None
    except (ValueError, yaml.YAMLError) as exc:  # YAML syntax errors and the like
        raise ConfigError(f"{path.name} is not a valid stack file: {' '.join(str(exc).split())}") from None
    for key in settings.unknown_keys:
        if key not in OPS_KEYS:
            logger.warning("unknown config key %s in %s is ignored", key, path.name)
    listeners: dict[str, str | None] = {"public": settings.public_listener_arn,
                                        "internal": settings.internal_listener_arn}
    for alb, arn in (listener_overrides or {}).items():
        if arn:
            try:
                alb_arn_suffix(arn)
            except ValueError as exc:
                raise ConfigError(f"--{alb}-listener-arn: {exc}") from None
            listeners[alb] = arn
    return StackContext(stack=stack, path=path, stack_file=stack_file, settings=settings,
                        region=region or stack_file.other.get(REGION_KEY) or None, listener_arns=listeners)
