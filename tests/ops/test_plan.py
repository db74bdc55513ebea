"""`plan`: the routing table and invariants from a stack file, offline (routing contract §3, §5, §9)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from components.routing import plan_rules
from components.settings import load_stack_settings
from ops.plan_report import check_invariants

from .helpers import ROOT, STACKS, run_cli

SHARED = {"cc-score-post", "cc-bulk-post", "cc-bulk-patch", "cc-bulk-delete", "v2-stamp-score", "embed-stamps",
          "embed-validate-key", "embed-score"}


def test_every_stack_of_the_repository_is_found():
    assert set(STACKS) >= {"staging", "review", "production"}


@pytest.mark.parametrize("stack", STACKS)
def test_plan_works_without_credentials_or_network(capsys, stack, no_aws, no_network):
    percent = load_stack_settings(stack, ROOT).scorer_percent

    run = run_cli(capsys, "plan", "--stack", stack)

    assert run.code == 0, run.err
    assert run.err == ""
    rows = [line for line in run.out.splitlines() if line.startswith(("public ", "internal "))]
    assert len(rows) == 28, run.out
    assert sum(1 for row in rows if "X-Scorer-Target: " in row) == 16, run.out
    for invariant in ("one rule per (listener, priority)", "no shadowed rule", "valid weights and stickiness",
                      "AWS limits (validate_plan)", "override header rules"):
        assert any(line.startswith(invariant) and " ok " in line for line in run.out.splitlines()), invariant
    assert f"scorerPercent {percent} in Pulumi.{stack}.yaml" in run.out


@pytest.mark.parametrize("stack", STACKS)
def test_plan_json_has_the_routing_table_and_invariants(capsys, stack, no_aws, no_network):
    run = run_cli(capsys, "plan", "--stack", stack, "--json")

    data = json.loads(run.out)
    assert run.code == 0 and data["ok"] is True
    p = data["percent"]
    weighted = [e for e in data["routing_table"] if e["owner"] == "routing" and e["stickiness"] is not None]
    assert {e["key"] for e in weighted} == SHARED
    for entry in weighted:
        assert [t["weight"] for t in entry["targets"]] == [100 - p, p], entry["key"]
        assert entry["stickiness"] == {"enabled": 0 < p < 100, "duration": 3600}, entry["key"]
    assert all(i["ok"] for i in data["invariants"])


def test_percent_shows_what_a_change_would_do(capsys, no_aws, no_network):
    run = run_cli(capsys, "plan", "--stack", "production", "--percent", "25")

    assert run.code == 0, run.err
    assert "change scorerPercent 0 → 25: 8 weighted rules change in place" in run.out
    assert run.out.count("[100, 0] → [75, 25]") == 8 and run.out.count("off → on (3600s)") == 8
    assert "python -m ops set --stack production 25" in run.out
    data = json.loads(run_cli(capsys, "plan", "--stack", "production", "--percent", "25", "--json").out)
    assert data["config_percent"] == 0 and data["percent"] == 25 and len(data["changes"]) == 8


@pytest.mark.parametrize("raw", ["-1", "101", "5%", "12.5", "true"])
def test_invalid_percent_is_a_usage_error(capsys, raw, no_aws):
    run = run_cli(capsys, "plan", "--stack", "production", "--percent", raw)
    assert run.code == 2
    assert run.err == f"error: scorerPercent for stack 'production' must be an integer from 0 to 100, got {raw!r}\n"


def test_unknown_stack_is_a_usage_error(capsys):
    run = run_cli(capsys, "plan", "--stack", "nope")
    assert run.code == 2 and run.err.startswith("error: no stack file Pulumi.nope.yaml") and run.err.count("\n") == 1


def test_invariants_report_shadowing_duplicates_and_weights():
    settings = load_stack_settings("production", ROOT).with_percent(25)
    plan = plan_rules(settings)
    mutated = [replace(r, priority=2027) if r.key == "v2-stamp-history" else  # after the weighted rule (2026)
               replace(r, priority=1002) if r.key == "cc-bulk-patch" else r for r in plan]
    mutated = [replace(r, targets=(r.targets[0], replace(r.targets[1], weight=30))) if r.key == "embed-score" else r
               for r in mutated]

    result = {i.name: i for i in check_invariants(mutated, 25)}

    assert not result["one rule per (listener, priority)"].is_ok
    assert "public 1002 ×2" in result["one rule per (listener, priority)"].detail
    assert not result["no shadowed rule"].is_ok
    assert "v2-stamp-history shadowed by v2-stamp-score" in result["no shadowed rule"].detail
    assert not result["valid weights and stickiness"].is_ok and "embed-score [75, 30]" in \
        result["valid weights and stickiness"].detail
    assert not result["AWS limits (validate_plan)"].is_ok


def test_plan_entry_point_runs_in_a_clean_environment():
    """`python -m ops plan` as an operator runs it, with no AWS variables at all."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/nonexistent"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    done = subprocess.run([sys.executable, "-m", "ops", "plan", "--stack", "production"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "v2-stamp-score" in done.stdout and done.stderr == ""


def test_help_documents_the_exit_codes():
    done = subprocess.run([sys.executable, "-m", "ops", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0
    for line in ("0  ok", "1  check failed", "2  usage or stack config error", "3  AWS error", "4  health"):
        assert line in done.stdout, line
