"""`python -m ops advance`: move a rollout to its next step once it has earned it (production contract P11.3).

Gates, all on the routes being moved (every route that follows `scorerPercent`, or the one `--route`):

| Gate | Passes when |
|---|---|
| live = file | the live weighted rules carry the stack file's current percentage (no drift: the last change is live) |
| hold | no `ModifyRule` on those rules within `rolloutHoldMinutes` (CloudTrail, so it holds whoever changed them) |
| health | `health` over the hold window is PASS (for `--route`: the verdict of that route's ALB) |

At 0 % there is nothing to judge (no scorer traffic) and no step to hold: only the first gate applies. On success the
next step of `rolloutSteps` is written into the stack file (comments and layout kept) and the Pulumi commands are
printed; `--apply` runs `pulumi up` through the Automation API and then `status`.

The pure parts (policy parsing, next step, gate verdicts) are separate from the AWS and Pulumi calls.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from components.settings import PERCENT_BY_ROUTE_KEY, stack_file_path
from ops import live
from ops.config_commands import next_commands
from ops.context import StackContext
from ops.errors import EXIT_AWS, EXIT_CHECK_FAILED, EXIT_INSUFFICIENT_DATA, EXIT_OK, ConfigError, OpsError, aws_errors
from ops.health import INSUFFICIENT, UNHEALTHY
from ops.live_commands import AwsTarget, health_command, read_rule_states, status_command
from ops.render import command_line, format_table
from ops.result import Result
from ops.route_percent_file import set_rollout_percents
from ops.stack_file import set_percent

STEPS_KEY = "rolloutSteps"
HOLD_KEY = "rolloutHoldMinutes"
DEFAULT_STEPS: tuple[int, ...] = (1, 5, 25, 50, 100)
DEFAULT_HOLD_MINUTES = 60
MAX_HOLD_MINUTES = 15 * 24 * 60  # health reads CloudWatch's 1-minute data, kept 15 days


class DeployError(OpsError):
    """`pulumi up` through the Automation API failed (the stack file change is kept; run it by hand)."""

    exit_code = EXIT_AWS


@dataclass(frozen=True)
class RolloutPolicy:
    steps: tuple[int, ...] = DEFAULT_STEPS
    hold_minutes: int = DEFAULT_HOLD_MINUTES


def parse_rollout_policy(config: Mapping[str, str], stack: str) -> RolloutPolicy:
    """`rolloutSteps` (strictly increasing integers 1..100) and `rolloutHoldMinutes` (0..21600) of a stack file's
    raw config; ValueError naming the key, stack and value."""
    steps, hold = DEFAULT_STEPS, DEFAULT_HOLD_MINUTES
    raw_steps = config.get(STEPS_KEY)
    if raw_steps is not None:
        try:
            decoded = json.loads(raw_steps)
        except ValueError:
            decoded = None
        if not isinstance(decoded, list) or not decoded or \
                not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 100 for s in decoded) or \
                any(a >= b for a, b in pairwise(decoded)):
            raise ValueError(f"{STEPS_KEY} for stack '{stack}' must be a non-empty list of strictly increasing "
                             f"integers from 1 to 100, got {raw_steps!r}")
        steps = tuple(decoded)
    raw_hold = config.get(HOLD_KEY)
    if raw_hold is not None:
        text = raw_hold.strip()
        if not re.fullmatch(r"[0-9]{1,5}", text) or int(text) > MAX_HOLD_MINUTES:
            raise ValueError(f"{HOLD_KEY} for stack '{stack}' must be an integer from 0 to {MAX_HOLD_MINUTES}, "
                             f"got {raw_hold!r}")
        hold = int(text)
    return RolloutPolicy(steps, hold)


def next_step(current: int, steps: Sequence[int]) -> int | None:
    """The first step above `current` (a percentage between steps moves to the next one up); None at the end."""
    return next((step for step in steps if step > current), None)


@dataclass(frozen=True)
class Gate:
    name: str
    outcome: str  # "ok", "FAIL", "INSUFFICIENT DATA", "skipped"
    detail: str

    @property
    def exit_code(self) -> int:
        return {"FAIL": EXIT_CHECK_FAILED, INSUFFICIENT: EXIT_INSUFFICIENT_DATA}.get(self.outcome, EXIT_OK)


def hold_gate(change: live.RuleChange | None, now: datetime, hold_minutes: int) -> Gate:
    """Too soon while the last ModifyRule on the rules is younger than the hold time."""
    if change is None:
        return Gate("hold", "ok", f"no ModifyRule on these rules in the last {hold_minutes} min (CloudTrail)")
    ready = change.at + timedelta(minutes=hold_minutes)
    if now < ready:
        minutes = int((ready - now).total_seconds() // 60) + 1
        return Gate("hold", "FAIL", f"too soon: last ModifyRule at {change.at.isoformat()} by {change.by}; "
                                    f"hold {hold_minutes} min, wait until {ready.isoformat()} (~{minutes} min)")
    return Gate("hold", "ok", f"last ModifyRule at {change.at.isoformat()} by {change.by}, {hold_minutes} min ago "
                              "or more")


def health_gate(verdict: str, scope: str) -> Gate:
    """PASS only; FAIL and INSUFFICIENT DATA refuse with their own exit codes."""
    outcome = {UNHEALTHY: "FAIL", INSUFFICIENT: INSUFFICIENT}.get(verdict, "ok")
    return Gate("health", outcome, f"{scope}: {verdict}")


def first_refusal(gates: Sequence[Gate]) -> Gate | None:
    """The gate that decides the exit code: a FAIL before INSUFFICIENT DATA (a failure is the stronger reason)."""
    failed = [g for g in gates if g.outcome == "FAIL"]
    return failed[0] if failed else next((g for g in gates if g.outcome == INSUFFICIENT), None)


# The Automation API boundary: tests replace `pulumi_up`; it needs the operator's installed `pulumi` CLI.
def pulumi_up(stack: str, work_dir: Path, on_output: Callable[[str], None]) -> dict[str, Any]:
    """`pulumi up --stack <stack>` in `work_dir` through `pulumi.automation`; a summary of the update."""
    from pulumi import automation as auto  # imported here: only --apply needs it

    try:
        workspace_stack = auto.select_stack(stack_name=stack, work_dir=str(work_dir))
        result = workspace_stack.up(on_output=on_output)
    except auto.CommandError as exc:
        raise DeployError(f"pulumi up --stack {stack} failed: {' '.join(str(exc).split())[:500]}") from None
    except OSError as exc:  # no `pulumi` executable on PATH
        raise DeployError(f"cannot run the pulumi CLI ({exc}); install it or run `pulumi up --stack {stack}` "
                          "yourself") from None
    return {"result": result.summary.result, "resource_changes": dict(result.summary.resource_changes or {})}


def advance_command(target: AwsTarget, route: str | None = None, *, apply: bool = False, since: str | None = None,
                    now: datetime | None = None) -> Result:
    """Check the gates and move `scorerPercent` (or one route's entry) to the next step; `--apply` deploys it.

    The health window is `since`, by default the hold time: the scorer is judged on its time at the current step.
    """
    context = target.context()
    settings = context.settings
    try:
        policy = parse_rollout_policy(context.stack_file.config, context.stack)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if route is not None and route not in settings.shared_route_keys:
        raise ConfigError(f"--route {route!r} is not a shared route of stack '{context.stack}' (shared routes: "
                          f"{', '.join(settings.shared_route_keys)})")
    if apply and not (Path(target.stack_dir) / "Pulumi.yaml").is_file():
        raise ConfigError(f"--apply runs pulumi in {target.stack_dir}, which holds no Pulumi.yaml")
    moved = [route] if route else [k for k in settings.shared_route_keys if k not in settings.scorer_percent_by_route]
    if not moved:
        raise ConfigError(f"every shared route of stack '{context.stack}' has its own scorerPercentByRoute entry, so "
                          "scorerPercent moves nothing; advance one route with --route KEY")
    current = settings.percent_for(route) if route else settings.scorer_percent
    key = f"{PERCENT_BY_ROUTE_KEY}.{route}" if route else "scorerPercent"
    step = next_step(current, policy.steps)
    data: dict[str, Any] = {"stack": context.stack, "key": key, "routes": moved, "current": current, "next": step,
                            "steps": list(policy.steps), "hold_minutes": policy.hold_minutes,
                            "not_moved": {k: v for k, v in settings.scorer_percent_by_route.items() if k not in moved}}
    if step is None:
        data.update(gates=[], advanced=False, reason=f"already at the last step {current} of {STEPS_KEY}")
        return Result(data, advance_text(data))
    now = (now or datetime.now(UTC)).astimezone(UTC)
    window = since or f"{max(policy.hold_minutes, 1)}m"
    gates = _gates(target, context, moved, route, current, policy, now, window)
    data["gates"] = [asdict(g) for g in gates]
    refusal = first_refusal(gates)
    if refusal is not None:
        data.update(advanced=False, reason=f"{refusal.name}: {refusal.detail}")
        return Result(data, advance_text(data), refusal.exit_code)
    path = stack_file_path(context.stack, target.stack_dir)
    if route:
        change = set_rollout_percents(path, context.stack, percent=None, routes={route: step})
        written = change.is_written
    else:
        written = set_percent(path, context.stack, str(step)).is_written
    data.update(advanced=True, stack_file={"path": path.name, "key": key, "before": current, "after": step,
                                           "written": written})
    what = f"the weighted rule {route}" if route else "the weighted rules following scorerPercent"
    data["next_commands"] = next_commands(context.stack, path.name, what)
    if not apply:
        return Result(data, advance_text(data))
    data["apply"] = pulumi_up(context.stack, Path(target.stack_dir),
                              lambda line: print(line.rstrip("\n"), file=sys.stderr))  # stdout stays the result
    status = status_command(target)
    data["status"] = status.data
    return Result(data, advance_text(data) + "\n\n" + status.text, status.exit_code)


def _gates(target: AwsTarget, context: StackContext, moved: Sequence[str], route: str | None, current: int,
           policy: RolloutPolicy, now: datetime, window: str) -> list[Gate]:
    with aws_errors(context.region):
        clients = target.clients(context)
        states = [s for s in read_rule_states(context, clients) if s.planned.key in moved]
    drifted = [f"{s.planned.key}: {'; '.join(p.message for p in s.problems)}" for s in states if s.has_drift]
    gates = [Gate("live = file", "FAIL" if drifted else "ok",
                  "live rules differ from the stack file (run `pulumi up` or see `ops status`): " + " | ".join(drifted)
                  if drifted else f"{len(states)} weighted rule(s) live at {current} %")]
    if current == 0:
        reason = "at 0 % there is no scorer traffic to judge and no step to hold"
        return [*gates, Gate("hold", "skipped", reason), Gate("health", "skipped", reason)]
    arns = {s.live.arn for s in states if s.live is not None}
    with aws_errors(context.region):
        last = live.last_rule_change(clients.cloudtrail, arns, now - timedelta(minutes=policy.hold_minutes))
    gates.append(hold_gate(last, now, policy.hold_minutes))
    health = health_command(target, window, until=now)
    if route is None:
        gates.append(health_gate(health.data["verdict"], f"health over {window}, both ALBs"))
    else:
        alb = next(s.planned.alb for s in states)
        verdict = next(a["verdict"] for a in health.data["albs"] if a["alb"] == alb)
        gates.append(health_gate(verdict, f"health over {window}, {alb} ALB (the scorer side is measured per ALB)"))
    return gates


def advance_text(data: Mapping[str, Any]) -> str:
    parts = [f"stack {data['stack']}: {data['key']} {data['current']} → next step {data['next']} "
             f"(steps {data['steps']}, hold {data['hold_minutes']} min)"]
    if data.get("not_moved"):
        parts.append("not moved (own scorerPercentByRoute): " + ", ".join(f"{k} {v}" for k, v in
                                                                          data["not_moved"].items()))
    if data["gates"]:
        parts += ["", format_table(("GATE", "RESULT", "DETAIL"), [(g["name"], g["outcome"], g["detail"])
                                                                  for g in data["gates"]])]
    if not data["advanced"]:
        parts += ["", f"not advanced: {data['reason']}"]
        return "\n".join(parts)
    file = data["stack_file"]
    parts += ["", f"{file['path']}: {file['key']} {file['before']} → {file['after']}"]
    if "apply" in data:
        parts.append(f"pulumi up: {data['apply']['result']} {data['apply']['resource_changes']}")
        parts.append(command_line(f"git diff {file['path']}", "commit the new step"))
    else:
        parts += ["", "next:"] + [f"  {c}" for c in data["next_commands"]]
    return "\n".join(parts)
