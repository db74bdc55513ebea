"""Commands that work on the committed stack file only: `plan` (read) and `set` / `rollback` (write) — no AWS
credentials, no network (routing contract §5.2, §5.4, §9).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from components.rollout_config import percent_value
from components.routing import SCORER_FUNCTION_NAME, routing_table, stickiness_for, weights_for
from components.settings import (
    PERCENT_BY_ROUTE_KEY,
    default_scorer_percent,
    load_stack_file,
    parse_scorer_percent,
    stack_file_path,
)
from ops.context import load_context
from ops.drift import stickiness_text
from ops.errors import EXIT_CHECK_FAILED, EXIT_OK, ConfigError
from ops.plan_report import check_invariants, plan_changes
from ops.render import command_line, percent_change_text, plan_text
from ops.result import Result
from ops.route_percent_file import read_route_percents, set_rollout_percents
from ops.stack_file import PercentChange, set_percent


def plan_command(stack: str, stack_dir: Path, raw_percent: str | None = None) -> Result:
    """Routing table and invariants of a stack from its stack file, optionally at another percentage."""
    context = load_context(stack, stack_dir)
    config_percent = context.settings.scorer_percent
    percent = config_percent if raw_percent is None else _parse_percent(raw_percent, stack)
    current, proposed = context.plan(), context.plan(percent)
    by_route = dict(context.settings.scorer_percent_by_route)
    invariants = check_invariants(proposed, percent,
                                  function_names=[*context.settings.legacy_functions, SCORER_FUNCTION_NAME],
                                  percent_by_route=by_route)
    data = {"stack": stack, "stack_file": context.path.name, "config_percent": config_percent, "percent": percent,
            "percent_by_route": by_route,
            "routing_table": routing_table(proposed),
            "invariants": [{"name": i.name, "ok": i.is_ok, "detail": i.detail} for i in invariants],
            "changes": [asdict(c) for c in plan_changes(current, proposed)]}
    data["ok"] = all(i.is_ok for i in invariants)
    return Result(data, plan_text(data), EXIT_OK if data["ok"] else EXIT_CHECK_FAILED)


def set_command(stack: str, stack_dir: Path, raw_percent: str, route: str | None = None) -> Result:
    """Write a new `scorerPercent` (or, with `route`, that route's `scorerPercentByRoute` entry) into the stack file
    and say which Pulumi commands apply it."""
    data = percent_change(stack, stack_dir, raw_percent) if route is None else \
        route_percent_change(stack, stack_dir, route, raw_percent)
    what = f"the weighted rule {route}" if route else "the weighted rules"
    data["next"] = next_commands(stack, data["stack_file_change"]["path"], what)
    return Result(data, percent_change_text(data))


def next_commands(stack: str, file_name: str, what: str) -> list[str]:
    """The commands that review, apply and check a percentage change in the stack file."""
    return [
        command_line(f"git diff {file_name}", "only the percentage line; commit it"),
        command_line(f"pulumi preview --stack {stack}", f"expect {what} updated in place, no replace"),
        command_line(f"pulumi up --stack {stack}"),
        command_line(f"python -m ops status --stack {stack}", "after the up: no drift"),
        command_line(f"python -m ops health --stack {stack} --since 1h", "before the next step"),
    ]


def rollback_file_command(stack: str, stack_dir: Path) -> Result:
    """`rollback` without `--now`: `scorerPercent` and every `scorerPercentByRoute` entry to 0 in the stack file;
    `pulumi up` applies it."""
    path = stack_file_path(stack, stack_dir)
    if not path.is_file():
        raise ConfigError(f"no stack file {path.name} in {stack_dir}")
    data = {"stack": stack, **rollback_file_change(path, stack, load_context(stack, stack_dir, percent_override="0")
                                                   .settings.stickiness_seconds)}
    data["next"] = [
        command_line(f"git diff {data['stack_file_change']['path']}", "every percentage 0; commit it"),
        command_line(f"pulumi up --stack {stack}", "every weighted rule → [100, 0], stickiness off, in place"),
        command_line(f"python -m ops status --stack {stack}", "confirm: no drift"),
        command_line(f"python -m ops rollback --stack {stack} --now", "if Pulumi cannot run: ModifyRule directly"),
    ]
    return Result(data, percent_change_text(data))


def rollback_file_change(path: Path, stack: str, duration: int) -> dict[str, Any]:
    """Write `scorerPercent: 0` and every per-route entry 0 in one edit; the change as data (P11.3: every route 0)."""
    routes = read_route_percents(load_stack_file(path).config)
    change = set_rollout_percents(path, stack, percent=0, routes=dict.fromkeys(routes, 0))
    percent = PercentChange(path, stack, change.percent_before, 0,
                            is_written=(change.percent_before or "").strip() != "0")
    return {"stack_file_change": file_change_data(percent, duration),
            "route_changes": [{"key": f"{PERCENT_BY_ROUTE_KEY}.{key}", "before": before, "after": 0}
                              for key, before in routes.items()]}


def percent_change(stack: str, stack_dir: Path, raw_percent: str) -> dict[str, Any]:
    """Validate and write the percentage; describe the change as data."""
    path = stack_file_path(stack, stack_dir)
    if not path.is_file():
        raise ConfigError(f"no stack file {path.name} in {stack_dir}")
    change = set_percent(path, stack, raw_percent)
    settings = load_context(stack, stack_dir).settings  # the file is valid after the change
    data = {"stack": stack, "stack_file_change": file_change_data(change, settings.stickiness_seconds)}
    if settings.scorer_percent_by_route:  # these routes do not follow scorerPercent
        data["routes_with_own_percent"] = dict(settings.scorer_percent_by_route)
    return data


def route_percent_change(stack: str, stack_dir: Path, route: str, raw_percent: str) -> dict[str, Any]:
    """Validate and write one route's `scorerPercentByRoute` entry (P11.3); describe the change as data."""
    settings = load_context(stack, stack_dir).settings
    if route not in settings.shared_route_keys:
        raise ConfigError(f"--route {route!r} is not a shared route of stack '{stack}' (shared routes: "
                          f"{', '.join(settings.shared_route_keys)})")
    try:
        percent = percent_value(raw_percent, f"{PERCENT_BY_ROUTE_KEY}.{route} for stack '{stack}'")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    before = settings.percent_for(route)
    path = stack_file_path(stack, stack_dir)
    change = set_rollout_percents(path, stack, percent=None, routes={route: percent})
    duration = settings.stickiness_seconds
    return {"stack": stack, "route": route, "stack_file_change": {
        "path": path.name, "key": f"{PERCENT_BY_ROUTE_KEY}.{route}",
        "before": settings.scorer_percent_by_route.get(route), "after": percent, "written": change.is_written,
        "weights_before": list(weights_for(before)), "weights_after": list(weights_for(percent)),
        "stickiness_before": stickiness_text(stickiness_for(before, duration)),
        "stickiness_after": stickiness_text(stickiness_for(percent, duration))}}


def file_change_data(change: PercentChange, duration: int) -> dict[str, Any]:
    """The stack file change as data, with the weights and stickiness it means for the weighted rules."""
    try:
        before = parse_scorer_percent(change.before, change.stack) if change.before is not None else \
            default_scorer_percent(change.stack)
    except ValueError:
        before = None  # the file held an invalid value; nothing meaningful to show
    return {"path": change.path.name, "before": change.before, "after": change.after, "written": change.is_written,
            "weights_before": None if before is None else list(weights_for(before)),
            "weights_after": list(weights_for(change.after)),
            "stickiness_before": None if before is None else stickiness_text(stickiness_for(before, duration)),
            "stickiness_after": stickiness_text(stickiness_for(change.after, duration))}


def _parse_percent(raw: str, stack: str) -> int:
    try:
        return parse_scorer_percent(raw, stack)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
