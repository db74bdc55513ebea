"""`health`: CloudWatch metrics of the legacy and scorer target groups in moto, the verdict and its exit code
(routing contract §4.4, §5.4), and the pure verdict logic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from components.alarms import DEFAULT_ALARM_CONFIG
from components.routing import SCORER_TARGET_GROUPS
from ops.health import (
    HealthThresholds,
    TgMetrics,
    alarm_limits,
    combine,
    evaluate_alb,
    overall_verdict,
    parse_health_thresholds,
)

from .helpers import copy_stack_file, run_cli

LEGACY_TGS = {"public": ("l-cc-v1-score-POST-0", "l-cc-v1-st-bulk-POST-0", "l-cc-v1-st-bulk-PATCH-0",
                         "l-cc-v1-st-bulk-DELETE-0", "l-passport-v2-stamp-score"),
              "internal": ("embed-st-lambda-target-group", "embed-rl-lambda-target-group",
                           "embed-gs-lambda-target-group")}
HEALTHY_LEGACY = {"requests": 2000, "target_5xx": 2, "target_4xx": 40, "latencies": ((0.1, 90), (0.5, 10))}
HEALTHY_SCORER = {"requests": 1000, "target_5xx": 0, "target_4xx": 20, "latencies": ((0.08, 95), (0.3, 5))}


def put_traffic(albs, *, legacy=HEALTHY_LEGACY, scorer=HEALTHY_SCORER, public_scorer=None) -> None:
    at = datetime.now(UTC) - timedelta(minutes=10)
    for alb, tgs in LEGACY_TGS.items():
        for tg in tgs:
            if legacy:
                albs.put_tg_metrics(alb, tg, at, **legacy)
        chosen = public_scorer if alb == "public" and public_scorer is not None else scorer
        if chosen:
            albs.put_tg_metrics(alb, SCORER_TARGET_GROUPS[alb], at, **chosen)


def health(capsys, stack_dir, *extra):
    return run_cli(capsys, "health", "--stack", "production", "--stack-dir", stack_dir, *extra)


def checks_of(data, alb):
    return {c["name"]: c for c in next(a for a in data["albs"] if a["alb"] == alb)["checks"]}


def test_healthy_scorer_passes(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs)

    run = health(capsys, stack_dir)

    assert run.code == 0, run.out + run.err
    assert "verdict: PASS (exit 0)" in run.out
    assert "public: PASS" in run.out and "internal: PASS" in run.out
    scorer_row = next(ln for ln in run.out.splitlines() if ln.startswith("scorer  l-passport-v2-scorer "))
    assert "1,000" in scorer_row and "0.00%" in scorer_row and "2.00%" in scorer_row and "0.300" in scorer_row
    data = json.loads(health(capsys, stack_dir, "--json").out)
    public = next(a for a in data["albs"] if a["alb"] == "public")
    assert public["legacy_combined"]["requests"] == 10_000
    assert public["legacy_combined"]["ratio_5xx"] == pytest.approx(0.001)
    assert public["legacy_combined"]["p99_latency"] == pytest.approx(0.5)
    assert public["scorer"]["avg_latency"] == pytest.approx((0.08 * 95 + 0.3 * 5) / 100)
    assert [e["route"] for e in public["legacy"]] == ["cc-score-post", "cc-bulk-post", "cc-bulk-patch",
                                                      "cc-bulk-delete", "v2-stamp-score"]
    assert data["verdict"] == "PASS" and data["exit_code"] == 0
    assert data["window"]["seconds"] == 3600


def test_scorer_with_more_5xx_fails(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs, public_scorer={**HEALTHY_SCORER, "target_5xx": 50})

    run = health(capsys, stack_dir, "--json")

    assert run.code == 1
    data = json.loads(run.out)
    assert data["verdict"] == "FAIL"
    public = checks_of(data, "public")
    assert public["5xx ratio vs legacy"]["outcome"] == "FAIL"
    assert public["5xx ratio vs legacy"]["value"] == pytest.approx(0.05)
    assert public["5xx ratio vs legacy"]["limit"] == pytest.approx(0.001 + 0.005)
    assert public["5xx ratio vs alarm"]["outcome"] == "FAIL"
    assert checks_of(data, "internal")["5xx ratio vs legacy"]["outcome"] == "ok"
    assert "verdict: FAIL (exit 1)" in health(capsys, stack_dir).out


def test_failing_function_shows_as_lambda_errors_and_fails(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs, public_scorer={**HEALTHY_SCORER, "lambda_errors": 30})

    run = health(capsys, stack_dir, "--json")

    assert run.code == 1
    assert checks_of(json.loads(run.out), "public")["Lambda error ratio vs legacy"]["outcome"] == "FAIL"


def test_slow_p99_fails(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs, public_scorer={**HEALTHY_SCORER, "latencies": ((0.1, 90), (2.5, 10))})

    data = json.loads(health(capsys, stack_dir, "--json").out)

    p99 = checks_of(data, "public")["p99 latency vs legacy"]
    assert (p99["outcome"], p99["value"], p99["limit"]) == ("FAIL", 2.5, pytest.approx(0.5 * 1.5 + 0.05))
    assert checks_of(data, "public")["avg latency vs alarm"]["outcome"] == "ok"
    assert data["verdict"] == "FAIL"


def test_no_scorer_traffic_is_insufficient_data_not_a_pass(emulated, capsys):
    albs, stack_dir = emulated(percent=0)
    put_traffic(albs, scorer=None)

    run = health(capsys, stack_dir)

    assert run.code == 4, run.out
    assert "verdict: INSUFFICIENT DATA (exit 4)" in run.out
    assert "too little scorer traffic for a verdict" in run.out


def test_no_legacy_traffic_judges_the_scorer_against_its_alarms_only(emulated, capsys):
    albs, stack_dir = emulated(percent=100)
    put_traffic(albs, legacy=None)

    data = json.loads(health(capsys, stack_dir, "--json").out)

    assert data["verdict"] == "PASS"
    public = checks_of(data, "public")
    assert public["5xx ratio vs legacy"]["outcome"] == "n/a"
    assert public["5xx ratio vs alarm"]["outcome"] == "ok"


def test_rollout_health_config_sets_the_thresholds(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs)
    path = stack_dir / "Pulumi.production.yaml"
    path.write_text(path.read_text() + "  passport-scorer-lambdas:rolloutHealth:\n    minRequests: 5000\n")

    run = health(capsys, stack_dir, "--json")

    assert run.code == 4
    assert json.loads(run.out)["thresholds"]["minRequests"] == 5000
    assert run.err == "", "rolloutHealth is a key of this tool, not an unknown one"
    assert health(capsys, stack_dir, "--min-requests", "10").code == 0


def test_a_window_without_the_traffic_has_no_data(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs)
    until = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")

    assert health(capsys, stack_dir, "--since", "30m", "--until", until).code == 4


@pytest.mark.parametrize("since", ["1", "h", "0m", "16d", "1w", "-1h", "1.5h", "٣h"])
def test_bad_window_is_a_usage_error(tmp_path, capsys, since, no_aws, no_network):
    copy_stack_file("production", tmp_path)
    run = health(capsys, tmp_path, f"--since={since}")
    assert run.code == 2 and run.err.startswith("error: --since must") and run.err.count("\n") == 1


def test_invalid_rollout_health_is_a_usage_error(tmp_path, capsys, no_aws):
    path = copy_stack_file("production", tmp_path)
    path.write_text(path.read_text() + "  passport-scorer-lambdas:rolloutHealth:\n    maxP99Ratio: fast\n")
    run = run_cli(capsys, "health", "--stack", "production", "--stack-dir", tmp_path)
    assert run.code == 2
    assert run.err == "error: rolloutHealth for stack 'production': maxP99Ratio must be a number >= 0, got 'fast'\n"


# Pure verdict logic


def metrics(requests, t5xx=0, t4xx=0, lambda_errors=0, avg=0.1, p99=0.5) -> TgMetrics:
    return TgMetrics(requests, t5xx, t4xx, lambda_errors, avg, p99)


LIMITS = alarm_limits(DEFAULT_ALARM_CONFIG, "l-passport-v2-scorer")


def test_alarm_limits_come_from_the_sustain_thresholds():
    assert LIMITS == {"ratio_5xx": 0.01, "ratio_4xx": 0.5, "avg_latency": 2}


def test_combined_legacy_adds_counts_and_weights_latencies():
    combined = combine([metrics(100, 1, avg=0.1, p99=1.0), metrics(300, 3, avg=0.5, p99=2.0), metrics(0, avg=None,
                                                                                                       p99=None)])
    assert (combined.requests, combined.target_5xx) == (400, 4)
    assert combined.avg_latency == pytest.approx(0.4) and combined.p99_latency == pytest.approx(1.75)


@pytest.mark.parametrize(("scorer", "verdict"), [
    (metrics(1000, 5), "PASS"),  # 0.5 % vs legacy 0.1 % + 0.5 pt
    (metrics(1000, 7), "FAIL"),  # 0.7 %: above legacy + delta
    (metrics(1000, t4xx=400), "FAIL"),  # 40 % 4xx vs legacy 2 % + 2 pt
    (metrics(1000, avg=2.5, p99=0.6), "FAIL"),  # average above the 2 s alarm
    (metrics(1000, p99=0.8), "PASS"),  # 0.5 × 1.5 + 0.05 = 0.8
    (metrics(1000, p99=0.81), "FAIL"),
    (metrics(99, 99), "INSUFFICIENT DATA"),  # too little traffic: no verdict, even when it looks bad
])
def test_verdicts(scorer, verdict):
    legacy = {"a": metrics(5000, 5, 100), "b": metrics(5000, 5, 100)}
    result = evaluate_alb("public", "l-passport-v2-scorer", legacy, scorer, HealthThresholds(), LIMITS)
    assert result.verdict == verdict, [(c.name, c.value, c.limit, c.outcome) for c in result.checks]


def test_overall_verdict_fail_wins_then_insufficient():
    def alb(verdict):
        result = evaluate_alb("x", "t", {}, metrics(1000), HealthThresholds(), LIMITS)
        return type(result)(**{**result.__dict__, "verdict": verdict})

    assert overall_verdict([alb("PASS"), alb("INSUFFICIENT DATA"), alb("FAIL")]) == "FAIL"
    assert overall_verdict([alb("PASS"), alb("INSUFFICIENT DATA")]) == "INSUFFICIENT DATA"
    assert overall_verdict([alb("PASS"), alb("PASS")]) == "PASS"


@pytest.mark.parametrize(("raw", "message"), [
    ("[]", "must be an object"),
    ('{"minRequest": 1}', "unknown key 'minRequest'"),
    ('{"minRequests": 1.5}', "minRequests must be an integer"),
    ('{"max5xxRatioDelta": -1}', "must be a number >= 0"),
    ('{"maxP99Ratio": true}', "must be a number >= 0"),
])
def test_rollout_health_rejects_bad_values(raw, message):
    with pytest.raises(ValueError, match="rolloutHealth for stack 'production'") as excinfo:
        parse_health_thresholds(raw, "production")
    assert message in str(excinfo.value)


def test_rollout_health_defaults_and_overrides():
    assert parse_health_thresholds(None, "production") == HealthThresholds()
    parsed = parse_health_thresholds('{"minRequests": 10, "maxP99Ratio": 2}', "production")
    assert (parsed.min_requests, parsed.max_p99_ratio) == (10, 2.0)
