"""The routing module's default data equals routing contract §2 exactly, and names obey AWS rules."""

from __future__ import annotations

import re

import pytest

from components.inventory import alb_arn_suffix, function_name_problem, target_group_name_problem
from components.routing import (
    LEGACY_FUNCTIONS,
    LEGACY_ONLY_ROUTES,
    OVERRIDE_PRIORITIES,
    SCORER_FUNCTION_NAME,
    SCORER_TARGET_GROUPS,
    SHARED_ROUTES,
)

# (key, alb, priority, path, methods, v2 host, legacy function) — §2.2
EXPECTED_SHARED = [
    ("cc-score-post", "public", 1001, "/ceramic-cache/score/*", ("POST",), False, "cc-v1-score-POST-0"),
    ("cc-bulk-post", "public", 1002, "/ceramic-cache/stamps/bulk", ("POST",), False, "cc-v1-st-bulk-POST-0"),
    ("cc-bulk-patch", "public", 1003, "/ceramic-cache/stamps/bulk", ("PATCH",), False, "cc-v1-st-bulk-PATCH-0"),
    ("cc-bulk-delete", "public", 1004, "/ceramic-cache/stamps/bulk", ("DELETE",), False, "cc-v1-st-bulk-DELETE-0"),
    # 2026 instead of the contract's 2023: the override rules 2024/2025 must fit between history (2022) and this rule.
    ("v2-stamp-score", "public", 2026, "/v2/stamps/*/score/*", ("GET",), True, "passport-v2-stamp-score"),
    ("embed-stamps", "internal", 2100, "/internal/embed/stamps/*", ("POST",), False, "embed-st-lambda"),
    ("embed-validate-key", "internal", 2101, "/internal/embed/validate-api-key", ("GET",), False, "embed-rl-lambda"),
    ("embed-score", "internal", 2103, "/internal/embed/score/*/*", ("GET",), False, "embed-gs-lambda"),
]
# §2.4
EXPECTED_LEGACY_ONLY = [
    ("cc-authenticate", "public", 1005, "/ceramic-cache/authenticate", ("POST", "OPTIONS"), False, "cc-auth-lambda"),
    ("v2-model-score", "public", 2021, "/v2/models/score/*", ("GET",), True, "passport-v2-model-score"),
    ("v2-stamp-history", "public", 2022, "/v2/stamps/*/score/*/history", ("GET",), True, None),
    ("v2-catch-all", "public", 2060, "/v2/*", (), True, None),
]
# (function, TG, command, memory, timeout) — §2.5
EXPECTED_FUNCTIONS = [
    ("cc-v1-score-POST-0", "l-cc-v1-score-POST-0", "aws_lambdas.scorer_api_passport.v1.score_POST.handler", 512, 60),
    ("cc-v1-st-bulk-POST-0", "l-cc-v1-st-bulk-POST-0",
     "aws_lambdas.scorer_api_passport.v1.stamps.bulk_POST.handler", 512, 60),
    ("cc-v1-st-bulk-PATCH-0", "l-cc-v1-st-bulk-PATCH-0",
     "aws_lambdas.scorer_api_passport.v1.stamps.bulk_PATCH.handler", 512, 60),
    ("cc-v1-st-bulk-DELETE-0", "l-cc-v1-st-bulk-DELETE-0",
     "aws_lambdas.scorer_api_passport.v1.stamps.bulk_DELETE.handler", 512, 60),
    ("passport-v2-stamp-score", "l-passport-v2-stamp-score", "v2.aws_lambdas.stamp_score_GET.handler", 256, 60),
    ("embed-st-lambda", "embed-st-lambda-target-group", "embed.lambda_fn.lambda_handler_save_stamps", 512, 60),
    ("embed-rl-lambda", "embed-rl-lambda-target-group", "embed.lambda_fn.lambda_handler_get_rate_limit", 512, 60),
    ("embed-gs-lambda", "embed-gs-lambda-target-group", "embed.lambda_fn.lambda_handler_get_score", 512, 60),
    ("cc-auth-lambda", "cc-auth-lambda-target-group", "app_api.lambda_fn.lambda_handler_authenticate", 512, 60),
    ("passport-v2-model-score", "l-passport-v2-model-score", "v2.aws_lambdas.models_score_GET.handler", 256, 90),
]


def _rows(routes):
    return [(r.key, r.alb, r.priority, r.path, r.methods, r.v2_host, r.legacy_function) for r in routes]


def test_shared_routes_equal_contract_table():
    assert _rows(SHARED_ROUTES) == EXPECTED_SHARED
    assert all(r.weighted for r in SHARED_ROUTES), "every shared route must be weighted"


def test_legacy_only_routes_equal_contract_table():
    assert _rows(LEGACY_ONLY_ROUTES) == EXPECTED_LEGACY_ONLY
    assert not any(r.weighted for r in LEGACY_ONLY_ROUTES), "legacy-only routes must not be weighted"


def test_legacy_functions_equal_contract_table():
    rows = [(f.name, f.tg_name, f.command, f.memory_mb, f.timeout_s) for f in LEGACY_FUNCTIONS.values()]
    assert rows == EXPECTED_FUNCTIONS
    assert all(name == f.name for name, f in LEGACY_FUNCTIONS.items())


def test_scorer_target_groups_one_per_alb():
    assert dict(SCORER_TARGET_GROUPS) == {"public": "l-passport-v2-scorer", "internal": "l-passport-v2-scorer-int"}
    assert SCORER_FUNCTION_NAME == "passport-v2-scorer"


def test_every_legacy_function_serves_exactly_one_route():
    for name in LEGACY_FUNCTIONS:
        served = [r.key for r in SHARED_ROUTES + LEGACY_ONLY_ROUTES if r.legacy_function == name]
        assert len(served) == 1, f"legacy function {name} serves {served}"


def test_target_group_names_are_legal_and_unique():
    names = [f.tg_name for f in LEGACY_FUNCTIONS.values()] + list(SCORER_TARGET_GROUPS.values())
    assert len(names) == len(set(names)) == 12
    for name in names:
        assert len(name) <= 32, f"target group {name} is longer than 32 characters"
        assert re.fullmatch(r"[A-Za-z0-9-]+", name), f"target group {name} has illegal characters"
        assert not name.startswith("-") and not name.endswith("-"), f"target group {name} has an edge hyphen"
        assert target_group_name_problem(name) is None, f"target group {name} rejected by the validator"


@pytest.mark.parametrize("bad", ["", "-leading", "trailing-", "under_score", "x" * 33, "dot.name"])
def test_target_group_name_validator_rejects_illegal_names(bad):
    assert target_group_name_problem(bad) is not None, f"{bad!r} should be rejected"


def test_function_names_are_legal():
    for name in [*LEGACY_FUNCTIONS, SCORER_FUNCTION_NAME]:
        assert len(name) <= 64 and function_name_problem(name) is None, f"function name {name} is illegal"
    assert function_name_problem("f" * 65) is not None


def test_alb_arn_suffix_is_derived_from_the_listener_arn():
    arn = ("arn:aws:elasticloadbalancing:us-west-2:000000000000:listener/app/core-private/"
           "0000000000000003/0000000000000004")
    assert alb_arn_suffix(arn) == "app/core-private/0000000000000003"


@pytest.mark.parametrize("bad", [
    "arn:aws:elasticloadbalancing:us-west-2:000000000000:listener/net/nlb/0000000000000003/0000000000000004",
    "arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/app/core-private/0000000000000003",
    "app/core-private/0000000000000003",
    "",
])
def test_alb_arn_suffix_rejects_non_alb_listener_arns(bad):
    with pytest.raises(ValueError, match="listener ARN"):
        alb_arn_suffix(bad)


# Override header rules (production contract P11.1): (scorer, legacy) priorities per shared route.
EXPECTED_OVERRIDES = {"cc-score-post": (901, 902), "cc-bulk-post": (903, 904), "cc-bulk-patch": (905, 906),
                      "cc-bulk-delete": (907, 908), "v2-stamp-score": (2024, 2025), "embed-stamps": (2091, 2092),
                      "embed-validate-key": (2093, 2094), "embed-score": (2095, 2096)}
# Live priorities of the legacy rule set that a new rule must not take (routing contract §2.4, §6.3).
LIVE_PUBLIC = {1000, 1001, 1002, 1003, 1004, 1006, 1007, 1010, 1012, 1015, 2000, 2021, 2022, 2023, 2060, 3000, 5020}
LIVE_INTERNAL = {1011, 2100, 2101, 2103}


def test_override_priorities_are_inventory_data_for_every_shared_route():
    assert dict(OVERRIDE_PRIORITIES) == EXPECTED_OVERRIDES
    assert set(OVERRIDE_PRIORITIES) == {r.key for r in SHARED_ROUTES}


def test_override_priorities_precede_their_weighted_rule_and_are_free_live():
    routes = {r.key: r for r in SHARED_ROUTES + LEGACY_ONLY_ROUTES}
    program = {(r.alb, r.priority) for r in routes.values()}
    for key, pair in OVERRIDE_PRIORITIES.items():
        route = routes[key]
        live = LIVE_PUBLIC if route.alb == "public" else LIVE_INTERNAL
        assert all(p < route.priority for p in pair), f"{key}: override rules must come before the weighted rule"
        assert not set(pair) & live, f"{key}: {pair} taken in the live {route.alb} listener"
        assert not {(route.alb, p) for p in pair} & program, f"{key}: {pair} taken by another rule of the program"
    assert routes["v2-stamp-history"].priority < min(OVERRIDE_PRIORITIES["v2-stamp-score"]), "history first"
