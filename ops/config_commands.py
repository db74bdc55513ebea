"""Commands that work on the committed stack file only: `plan` (read) and `set` / `rollback` (write) — no AWS
credentials, no network (routing contract §5.2, §5.4, §9).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from components.routing import SCORER_FUNCTION_NAME, routing_table, stickiness_for, weights_for
from components.settings import default_scorer_percent, parse_scorer_percent, stack_file_path
from ops.context import load_context
from ops.drift import stickiness_text
from ops.errors import EXIT_CHECK_FAILED, EXIT_OK, ConfigError
from ops.plan_report import check_invariants, plan_changes
from ops.render import command_line, percent_change_text, plan_text
from ops.result import Result
from ops.stack_file import PercentChange, set_percent


def plan_command(stack: str, stack_dir: Path, raw_percent: str | None = None) -> Result:
    """Routing table and invariants of a stack from its stack file, optionally at another percentage."""
    context = load_context(stack, stack_dir)
    config_percent = context.settings.scorer_percent
    percent = config_percent if raw_percent is None else _parse_percent(raw_percent, stack)
    current, proposed = context.plan(), context.plan(percent)
    invariants = check_invariants(proposed, percent,
                                  function_names=[*context.settings.legacy_functions, SCORER_FUNCTION_NAME])
    data = {"stack": stack, "stack_file": context.path.name, "config_percent": config_percent, "percent": percent,
            "routing_table": routing_table(proposed),
            "invariants": [{"name": i.name, "ok": i.is_ok, "detail": i.detail} for i in invariants],
            "changes": [asdict(c) for c in plan_changes(current, proposed)]}
    data["ok"] = all(i.is_ok for i in invariants)
    return Result(data, plan_text(data), EXIT_OK if data["ok"] else EXIT_CHECK_FAILED)


def set_command(stack: str, stack_dir: Path, raw_percent: str) -> Result:
    """Write a new `scorerPercent` into the stack file and say which Pulumi commands apply it."""
    data = percent_change(stack, stack_dir, raw_percent)
    data["next"] = [
        command_line(f"git diff {data['stack_file_change']['path']}", "only the scorerPercent line; commit it"),
        command_line(f"pulumi preview --stack {stack}", "expect the 8 weighted rules updated in place, no replace"),
        command_line(f"pulumi up --stack {stack}"),
        command_line(f"python -m ops status --stack {stack}", "after the up: no drift"),
        command_line(f"python -m ops health --stack {stack} --since 1h", "before the next step"),
    ]
    return Result(data, percent_change_text(data))


def rollback_file_command(stack: str, stack_dir: Path) -> Result:
    """`rollback` without `--now`: set `scorerPercent` to 0 in the stack file; `pulumi up` applies it."""
    data = percent_change(stack, stack_dir, "0")
    data["next"] = [
        command_line(f"git diff {data['stack_file_change']['path']}", "scorerPercent: 0; commit it"),
        command_line(f"pulumi up --stack {stack}", "8 weighted rules → [100, 0], stickiness off, in place"),
        command_line(f"python -m ops status --stack {stack}", "confirm: no drift"),
        command_line(f"python -m ops rollback --stack {stack} --now", "if Pulumi cannot run: ModifyRule directly"),
    ]
    return Result(data, percent_change_text(data))


def percent_change(stack: str, stack_dir: Path, raw_percent: str) -> dict[str, Any]:
    """Validate and write the percentage; describe the change as data."""
    path = stack_file_path(stack, stack_dir)
    if not path.is_file():
        raise ConfigError(f"no stack file {path.name} in {stack_dir}")
    change = set_percent(path, stack, raw_percent)
    duration = load_context(stack, stack_dir).settings.stickiness_seconds  # the file is valid after the change
    return {"stack": stack, "stack_file_change": file_change_data(change, duration)}


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
