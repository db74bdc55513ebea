"""`set` and `rollback` (without --now) edit only `scorerPercent` in a stack file (routing contract §5.2, §5.4)."""

from __future__ import annotations

import difflib
import json

import pytest

from components.settings import load_stack_settings
from ops.stack_file import replace_percent_text

from .helpers import ROOT, copy_stack_file, run_cli

KEY_LINE = "  passport-scorer-lambdas:scorerPercent: {}\n"


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.ndiff(before.splitlines(True), after.splitlines(True))
            if line.startswith(("+ ", "- "))]


def test_set_changes_only_the_percentage_line_of_the_production_file(tmp_path, capsys, no_aws, no_network):
    path = copy_stack_file("production", tmp_path)
    original = path.read_text()

    run = run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, "5")

    assert run.code == 0, run.err
    assert changed_lines(original, path.read_text()) == ["- " + KEY_LINE.format(0), "+ " + KEY_LINE.format(5)]
    assert load_stack_settings("production", tmp_path).scorer_percent == 5
    assert "scorerPercent 0 → 5" in run.out and "[100, 0] → [95, 5]" in run.out
    assert "pulumi preview --stack production" in run.out and "pulumi up --stack production" in run.out
    assert run.err == ""


def test_rollback_restores_the_file_byte_for_byte(tmp_path, capsys, no_aws, no_network):
    path = copy_stack_file("production", tmp_path)
    original = path.read_bytes()
    assert run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, "25").code == 0

    run = run_cli(capsys, "rollback", "--stack", "production", "--stack-dir", tmp_path)

    assert run.code == 0, run.err
    assert path.read_bytes() == original, "comments, key order and layout must survive set + rollback"
    assert "scorerPercent 25 → 0" in run.out and "stickiness on (3600s) → off" in run.out
    assert "rollback --stack production --now" in run.out, "the emergency path is offered"


@pytest.mark.parametrize("stack", ["staging", "review", "production"])
def test_every_committed_stack_file_keeps_its_comments_and_order(tmp_path, stack):
    original = (ROOT / f"Pulumi.{stack}.yaml").read_text()
    edited = replace_percent_text(original, 42)
    diff = changed_lines(original, edited)
    assert len(diff) == 2 and diff[1] == "+ " + KEY_LINE.format(42), diff
    assert [ln for ln in original.splitlines() if ln.lstrip().startswith("#")] == \
        [ln for ln in edited.splitlines() if ln.lstrip().startswith("#")]


@pytest.mark.parametrize("raw", ["-1", "101", "5%", "12.5", "true"])
def test_invalid_percentages_are_refused_with_key_stack_and_value(tmp_path, capsys, raw, no_aws):
    path = copy_stack_file("production", tmp_path)
    original = path.read_bytes()

    run = run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, raw)

    assert run.code == 2
    assert run.err == f"error: scorerPercent for stack 'production' must be an integer from 0 to 100, got {raw!r}\n"
    assert run.out == ""
    assert path.read_bytes() == original


def test_setting_the_same_value_does_not_write(tmp_path, capsys, no_aws):
    path = copy_stack_file("production", tmp_path)
    before = path.stat().st_mtime_ns

    run = run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, "0", "--json")

    assert run.code == 0
    change = json.loads(run.out)["stack_file_change"]
    assert change["written"] is False and change["after"] == 0
    assert path.stat().st_mtime_ns == before


def test_quoted_value_keeps_its_quotes(tmp_path, capsys):
    """`pulumi config set` writes the value as a quoted string; keep that style."""
    path = copy_stack_file("staging", tmp_path)
    path.write_text(path.read_text().replace("scorerPercent: 100", 'scorerPercent: "100"   # knob'))

    assert run_cli(capsys, "set", "--stack", "staging", "--stack-dir", tmp_path, "50").code == 0

    assert '  passport-scorer-lambdas:scorerPercent: "50"   # knob\n' in path.read_text()
    assert load_stack_settings("staging", tmp_path).scorer_percent == 50


def test_absent_key_is_added_after_the_region(tmp_path, capsys):
    path = copy_stack_file("review", tmp_path)
    path.write_text(path.read_text().replace(KEY_LINE.format(100), ""))
    without_key = path.read_text()

    assert run_cli(capsys, "set", "--stack", "review", "--stack-dir", tmp_path, "7").code == 0

    assert changed_lines(without_key, path.read_text()) == ["+ " + KEY_LINE.format(7)]
    assert "  aws:region: us-west-2\n" + KEY_LINE.format(7) in path.read_text()
    assert load_stack_settings("review", tmp_path).scorer_percent == 7


def test_an_invalid_value_in_the_file_can_be_repaired(tmp_path, capsys):
    path = copy_stack_file("production", tmp_path)
    path.write_text(path.read_text().replace("scorerPercent: 0", "scorerPercent: 12.5"))

    run = run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, "1")

    assert run.code == 0, run.err
    assert "scorerPercent 12.5 → 1" in run.out
    assert load_stack_settings("production", tmp_path).scorer_percent == 1


def test_crlf_line_endings_are_kept(tmp_path, capsys):
    path = copy_stack_file("production", tmp_path)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    original = path.read_bytes()

    assert run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, "5").code == 0

    assert path.read_bytes() == original.replace(b"scorerPercent: 0\r\n", b"scorerPercent: 5\r\n")


def test_a_file_the_program_would_reject_is_not_written(tmp_path, capsys):
    path = copy_stack_file("production", tmp_path)
    path.write_text(path.read_text().replace("sg-00000000000000011", "not-a-security-group"))
    original = path.read_bytes()

    run = run_cli(capsys, "set", "--stack", "production", "--stack-dir", tmp_path, "5")

    assert run.code == 2
    assert "lambdaSecurityGroupId" in run.err and run.err.count("\n") == 1
    assert path.read_bytes() == original


def test_missing_stack_file_is_a_usage_error(tmp_path, capsys):
    run = run_cli(capsys, "set", "--stack", "nope", "--stack-dir", tmp_path, "5")
    assert run.code == 2 and run.err.startswith("error: no stack file Pulumi.nope.yaml")


@pytest.mark.parametrize("command", [("set", "5"), ("rollback",), ("plan",)])
def test_broken_yaml_is_one_line_and_nothing_written(tmp_path, capsys, command):
    path = copy_stack_file("production", tmp_path)
    path.write_text(path.read_text().replace("  aws:region: us-west-2", "  aws:region: [us-west-2"))
    original = path.read_bytes()

    run = run_cli(capsys, command[0], "--stack", "production", "--stack-dir", tmp_path, *command[1:])

    assert run.code == 2 and run.err.startswith("error: Pulumi.production.yaml is not a valid stack file")
    assert run.err.count("\n") == 1 and "Traceback" not in run.err
    assert path.read_bytes() == original


@pytest.mark.parametrize(("text", "expected"), [
    ("config:\n  aws:region: us-west-2\n", "config:\n  aws:region: us-west-2\n" + KEY_LINE.format(9)),
    ("config:\n    x: 1\n", "config:\n    passport-scorer-lambdas:scorerPercent: 9\n    x: 1\n"),
    ("config:\n", "config:\n" + KEY_LINE.format(9)),
    ("# only a comment\n", "# only a comment\nconfig:\n" + KEY_LINE.format(9)),
    ("config:\n  passport-scorer-lambdas:scorerPercent:   # knob\n",
     "config:\n  passport-scorer-lambdas:scorerPercent: 9   # knob\n"),
    ("config:\n  passport-scorer-lambdas:scorerPercent: '5' # knob\n",
     "config:\n  passport-scorer-lambdas:scorerPercent: '9' # knob\n"),
])
def test_replace_percent_text_edge_cases(text, expected):
    assert replace_percent_text(text, 9) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("config: {a: 1}\n", "must be a block mapping"),
    ("config:\n  passport-scorer-lambdas:scorerPercent:\n    - 5\n", "holds a list or mapping"),
    ("- a\n", "must be a YAML mapping"),
    ("config: [\n", "is not valid YAML"),
])
def test_replace_percent_text_refuses_what_it_cannot_edit_safely(text, message):
    from ops.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        replace_percent_text(text, 9)
