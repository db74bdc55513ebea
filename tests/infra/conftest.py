"""Pulumi mocks and a program runner for the infrastructure tests (routing contract §10.1, §10.2).

`set_mocks` is called exactly once, here: a second call would install a new monitor and silently cut the first
mock instance off from registrations. Tests reach the mocks only through the fixtures below.
"""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` without `python -m` does not put the project directory on sys.path
    sys.path.insert(0, str(ROOT))

from components.settings import PROJECT  # noqa: E402

from .helpers import (  # noqa: E402
    ACCOUNT,
    FUNCTION_TYPE,
    RULE_TYPE,
    TG_TYPE,
    fn_arn,
    rule_arn,
    stack_config,
    tg_arn,
    tg_arn_suffix,
)


class RoutingMocks(pulumi.runtime.Mocks):
    """Records every registration; answers the outputs the program reads (ARNs, suffixes, names)."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.calls: list[pulumi.runtime.MockCallArgs] = []
        self.stack_outputs: dict[str, Any] = {}

    def reset(self) -> None:
        self.resources, self.calls, self.stack_outputs = [], [], {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.resources.append(args)
        state, rid = dict(args.inputs), args.resource_id or f"{args.name}-id"
        if args.typ == TG_TYPE:
            name = state.get("name") or args.name
            state.update(arn=tg_arn(name), arnSuffix=tg_arn_suffix(name))
            rid = state["arn"]
        elif args.typ == FUNCTION_TYPE:
            state.setdefault("name", args.name)
            state["arn"] = fn_arn(state["name"])
        elif args.typ == RULE_TYPE:
            state["arn"] = rule_arn(args.name)
        elif args.typ == "aws:iam/role:Role":
            state.update(arn=f"arn:aws:iam::{ACCOUNT}:role/{args.name}-mock", name=f"{args.name}-mock")
        elif args.typ == "aws:sns/topic:Topic":
            state["arn"] = f"arn:aws:sns:us-west-2:{ACCOUNT}:{state.get('name') or args.name}"
        elif args.typ == "pulumi:pulumi:StackReference":
            state["outputs"] = dict(self.stack_outputs)
        return rid, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        self.calls.append(args)
        if args.token == "aws:lb/getTargetGroup:getTargetGroup":
            name = args.args["name"]
            return {"arn": tg_arn(name), "arnSuffix": tg_arn_suffix(name), "name": name}
        return {}


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated resource classes when `aws.lambda_` is first imported.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws.*")


MOCKS = RoutingMocks()
pulumi.runtime.set_mocks(MOCKS, project=PROJECT, stack="staging", preview=False)


@dataclass
class ProgramRun:
    """The registrations and resolved stack outputs of one program run."""

    stack: str
    resources: list[pulumi.runtime.MockResourceArgs]
    exports: dict[str, Any]

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def named(self, typ: str, name: str) -> pulumi.runtime.MockResourceArgs:
        found = [r for r in self.of_type(typ) if r.name == name]
        assert len(found) == 1, f"expected exactly one {typ} named {name}, found {len(found)}"
        return found[0]

    def rules_by_priority(self) -> dict[tuple[str, int], pulumi.runtime.MockResourceArgs]:
        return {(r.inputs["listenerArn"], int(r.inputs["priority"])): r for r in self.of_type(RULE_TYPE)}


# The language host runs __main__.py with run_name="__main__"; under another name it only defines its functions.
PROGRAM = runpy.run_path(str(ROOT / "__main__.py"), run_name="passport_scorer_program")
PROGRAM_MAIN: Callable[[str | None], None] = PROGRAM["main"]


def run_program(stack: str, raw: Mapping[str, str], *, secrets: Mapping[str, str] | None = None,
                stack_outputs: Mapping[str, Any] | None = None) -> ProgramRun:
    """Run `__main__.main(stack)` under the mocks with the given project config (bare keys) and collect results."""
    secrets = dict(secrets or {})
    full = {f"{PROJECT}:{k}": v for k, v in {**raw, **secrets}.items()}
    pulumi.runtime.set_all_config(full, [f"{PROJECT}:{k}" for k in secrets])
    MOCKS.reset()
    MOCKS.stack_outputs = dict(stack_outputs or {})
    exported: dict[str, Any] = {}
    resolved: dict[str, Any] = {}

    def program() -> pulumi.Output:
        with mock.patch.object(pulumi, "export", lambda name, value: exported.__setitem__(name, value)):
            PROGRAM_MAIN(stack)
        return pulumi.Output.from_input(exported).apply(resolved.update)

    try:
        pulumi.runtime.test(program)()
    finally:
        pulumi.runtime.set_all_config({})
    return ProgramRun(stack=stack, resources=list(MOCKS.resources), exports=resolved)


_RUNS: dict[tuple[str, str], ProgramRun] = {}


@pytest.fixture(scope="session")
def program_run() -> Callable[..., ProgramRun]:
    """`program_run(stack, percent=None, **overrides)`: the committed stack file, optionally with another
    scorerPercent and other keys replaced (None removes a key). Runs are cached by their effective config."""

    def get(stack: str, percent: str | None = None, **overrides: str | None) -> ProgramRun:
        if percent is not None:
            overrides["scorerPercent"] = percent
        raw = stack_config(stack, **overrides)
        key = (stack, json.dumps(raw, sort_keys=True))
        if key not in _RUNS:
            _RUNS[key] = run_program(stack, raw)
        return _RUNS[key]

    return get


@pytest.fixture
def run_stack() -> Callable[..., ProgramRun]:
    """`run_stack(stack, raw, secrets=None, stack_outputs=None)`: one uncached run with arbitrary config."""
    return run_program


@pytest.fixture
def mocks() -> RoutingMocks:
    """The one mock instance (for asserting on what a failed run registered)."""
    return MOCKS


@pytest.fixture
def program_module() -> dict[str, Any]:
    """The namespace of `__main__.py` (its functions, without running the program)."""
    MOCKS.reset()
    return PROGRAM
