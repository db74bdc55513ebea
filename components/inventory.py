"""Endpoint inventory: the load balancers, routes, legacy functions and scorer target groups (routing contract §2).

This is the default data of the routing module. It is defined once, as plain frozen data; components, rules, stack
outputs and tests are all derived from it. Nothing here imports Pulumi.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

AlbKey = Literal["public", "internal"]
ALB_KEYS: tuple[AlbKey, ...] = ("public", "internal")

SCORER_FUNCTION_NAME = "passport-v2-scorer"
SCORER_TARGET_GROUPS: Mapping[AlbKey, str] = MappingProxyType(
    {"public": "l-passport-v2-scorer", "internal": "l-passport-v2-scorer-int"}
)


@dataclass(frozen=True)
class Route:
    """One endpoint of §2.2/§2.4.

    `legacy_function` is `None` for the routes served by the Django web service (history and `/v2/*` catch-all),
    whose rules forward to the registry target group looked up by name.
    """

    key: str
    alb: AlbKey
    priority: int
    path: str
    methods: tuple[str, ...]
    legacy_function: str | None
    weighted: bool
    v2_host: bool = False


@dataclass(frozen=True)
class LegacyFunction:
    """One legacy Lambda of §2.5: function name, its target group, image command, memory and timeout."""

    name: str
    tg_name: str
    command: str
    memory_mb: int
    timeout_s: int


SHARED_ROUTES: tuple[Route, ...] = (
    Route("cc-score-post", "public", 1001, "/ceramic-cache/score/*", ("POST",), "cc-v1-score-POST-0", True),
    Route("cc-bulk-post", "public", 1002, "/ceramic-cache/stamps/bulk", ("POST",), "cc-v1-st-bulk-POST-0", True),
    Route("cc-bulk-patch", "public", 1003, "/ceramic-cache/stamps/bulk", ("PATCH",), "cc-v1-st-bulk-PATCH-0", True),
    Route("cc-bulk-delete", "public", 1004, "/ceramic-cache/stamps/bulk", ("DELETE",), "cc-v1-st-bulk-DELETE-0", True),
    # 2026, not the legacy rule's 2023: the override rules of this endpoint must sit between the history rule (2022)
    # and this rule, and 2022/2023 leave no number free (OVERRIDE_PRIORITIES below).
    Route("v2-stamp-score", "public", 2026, "/v2/stamps/*/score/*", ("GET",), "passport-v2-stamp-score", True, True),
    Route("embed-stamps", "internal", 2100, "/internal/embed/stamps/*", ("POST",), "embed-st-lambda", True),
    Route("embed-validate-key", "internal", 2101, "/internal/embed/validate-api-key", ("GET",), "embed-rl-lambda",
          True),
    Route("embed-score", "internal", 2103, "/internal/embed/score/*/*", ("GET",), "embed-gs-lambda", True),
)

LEGACY_ONLY_ROUTES: tuple[Route, ...] = (
    Route("cc-authenticate", "public", 1005, "/ceramic-cache/authenticate", ("POST", "OPTIONS"), "cc-auth-lambda",
          False),
    Route("v2-model-score", "public", 2021, "/v2/models/score/*", ("GET",), "passport-v2-model-score", False, True),
    Route("v2-stamp-history", "public", 2022, "/v2/stamps/*/score/*/history", ("GET",), None, False, True),
    Route("v2-catch-all", "public", 2060, "/v2/*", (), None, False, True),
)

ROUTES: tuple[Route, ...] = SHARED_ROUTES + LEGACY_ONLY_ROUTES

# Priorities of the override header rules (production contract P11.1): shared route key → (rule to the scorer, rule
# to legacy). Each pair sits just before its weighted rule and after every planned rule whose path it overlaps, on
# numbers free in the live listeners (routing contract §6.3):
# - public 901-908: below every ceramic-cache rule (1001-1004) and below the legacy set (1000-1015); the paths are
#   exact or end in `*` under /ceramic-cache/score/ and /ceramic-cache/stamps/bulk, which no other rule matches.
# - public 2024/2025: after the history rule 2022 (a history request carrying the header must still reach the web
#   service) and before the weighted rule, which therefore moved from 2023 to 2026; the legacy v2 rule at 2023 is
#   imported as the weighted rule and moved in place, and 2023 stays unused so no `pulumi up` reuses a priority it
#   gives up (§6.2). The catch-all 2060 stays last.
# - internal 2091-2096: below the embed rules (2100-2103) on the shared internal listener, clear of the verifier
#   (1011).
OVERRIDE_PRIORITIES: Mapping[str, tuple[int, int]] = MappingProxyType({
    "cc-score-post": (901, 902),
    "cc-bulk-post": (903, 904),
    "cc-bulk-patch": (905, 906),
    "cc-bulk-delete": (907, 908),
    "v2-stamp-score": (2024, 2025),
    "embed-stamps": (2091, 2092),
    "embed-validate-key": (2093, 2094),
    "embed-score": (2095, 2096),
})

_LEGACY_FUNCTIONS = (
    LegacyFunction("cc-v1-score-POST-0", "l-cc-v1-score-POST-0",
                   "aws_lambdas.scorer_api_passport.v1.score_POST.handler", 512, 60),
    LegacyFunction("cc-v1-st-bulk-POST-0", "l-cc-v1-st-bulk-POST-0",
                   "aws_lambdas.scorer_api_passport.v1.stamps.bulk_POST.handler", 512, 60),
    LegacyFunction("cc-v1-st-bulk-PATCH-0", "l-cc-v1-st-bulk-PATCH-0",
                   "aws_lambdas.scorer_api_passport.v1.stamps.bulk_PATCH.handler", 512, 60),
    LegacyFunction("cc-v1-st-bulk-DELETE-0", "l-cc-v1-st-bulk-DELETE-0",
                   "aws_lambdas.scorer_api_passport.v1.stamps.bulk_DELETE.handler", 512, 60),
    LegacyFunction("passport-v2-stamp-score", "l-passport-v2-stamp-score",
                   "v2.aws_lambdas.stamp_score_GET.handler", 256, 60),
    LegacyFunction("embed-st-lambda", "embed-st-lambda-target-group",
                   "embed.lambda_fn.lambda_handler_save_stamps", 512, 60),
    LegacyFunction("embed-rl-lambda", "embed-rl-lambda-target-group",
                   "embed.lambda_fn.lambda_handler_get_rate_limit", 512, 60),
    LegacyFunction("embed-gs-lambda", "embed-gs-lambda-target-group",
                   "embed.lambda_fn.lambda_handler_get_score", 512, 60),
    LegacyFunction("cc-auth-lambda", "cc-auth-lambda-target-group",
                   "app_api.lambda_fn.lambda_handler_authenticate", 512, 60),
    LegacyFunction("passport-v2-model-score", "l-passport-v2-model-score",
                   "v2.aws_lambdas.models_score_GET.handler", 256, 90),
)

LEGACY_FUNCTIONS: Mapping[str, LegacyFunction] = MappingProxyType({f.name: f for f in _LEGACY_FUNCTIONS})

# arn:aws:elasticloadbalancing:<region>:<acct>:listener/app/<lb-name>/<lb-id>/<listener-id>
_LISTENER_ARN = re.compile(
    r"^arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:listener/(app/[A-Za-z0-9-]{1,32}/[0-9a-f]+)/[0-9a-f]+$"
)


def alb_arn_suffix(listener_arn: str) -> str:
    """Return the ALB's CloudWatch `LoadBalancer` dimension (`app/<name>/<id>`) derived from a listener ARN (§2.1).

    Deriving it from the listener means an alarm can never point at a different ALB than the rule it watches.
    Raises `ValueError` for anything that is not the listener ARN of an application load balancer.
    """
    match = _LISTENER_ARN.match(listener_arn or "")
    if match is None:
        raise ValueError(f"not the listener ARN of an application load balancer: {listener_arn!r}")
    return match.group(1)


def route_of_function(function_name: str) -> Route:
    """Return the single route served by a legacy function."""
    routes = [r for r in ROUTES if r.legacy_function == function_name]
    if len(routes) != 1:
        raise ValueError(f"legacy function {function_name!r} must serve exactly one route, found {len(routes)}")
    return routes[0]


_TG_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
MAX_FUNCTION_NAME = 64


def target_group_name_problem(name: str) -> str | None:
    """Return why `name` is not a legal target group name (≤ 32 letters/digits/hyphens, no edge hyphen), or None."""
    if _TG_NAME.match(name or ""):
        return None
    return f"target group name {name!r} must be 1-32 letters, digits or hyphens, not starting or ending with '-'"


def function_name_problem(name: str) -> str | None:
    """Return why `name` is not a legal Lambda function name, or None."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name or ""):
        return None
    return f"function name {name!r} must be 1-{MAX_FUNCTION_NAME} letters, digits, hyphens or underscores"
