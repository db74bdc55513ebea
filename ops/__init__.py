"""Rollout operations tooling for the weighted routing of the Passport Scorer ALBs (routing contract §5.4, §6.4).

`python -m ops <command> --stack NAME`: `plan` (offline), `status`, `health`, `set`, `rollback [--now]`.

    cli.py              argparse front end: parse, run, print (table or --json), map errors to one line + exit code
    config_commands.py  plan / set / rollback on the stack file only (no AWS)
    live_commands.py    status / health / rollback --now: ops.live composed with the pure modules below
    context.py          a stack's file, settings (components.settings), region and listener ARNs
    stack_file.py       scorerPercent edit that keeps the file's comments and layout
    live.py             thin boto3 wrappers (DescribeRules, DescribeTargetGroups, ModifyRule, GetMetricData)
    drift.py            live rules vs the plan; the rollback action (pure)
    health.py           thresholds, metrics and the PASS / FAIL / INSUFFICIENT DATA verdict (pure)
    plan_report.py      routing invariants and the changes between two percentages (pure)
    render.py           text tables
    errors.py           exit codes, error types, one-line AWS error descriptions

The plan, weights and stickiness always come from `components.routing`, the module the Pulumi program uses.
"""
