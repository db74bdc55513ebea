"""`health` also reads the scorer's EMF metrics (production contract P10/P11.5): credential validation rate,
dedup clashes and DB time, shown for information next to the ALB metrics and never part of the verdict."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from ops.health import scorer_emf_summary

from .test_health import health, put_traffic


def put_emf(namespace: str = "PassportScorer") -> None:
    """What the scorer's EMF lines become: metrics without dimensions (dimension set `[]`)."""
    cloudwatch = boto3.client("cloudwatch", region_name="us-west-2")
    at = datetime.now(UTC) - timedelta(minutes=10)
    cloudwatch.put_metric_data(Namespace=namespace, MetricData=[
        {"MetricName": "StampsChecked", "Value": 200, "Timestamp": at},
        {"MetricName": "StampsValid", "Value": 150, "Timestamp": at},
        {"MetricName": "DedupClashes", "Value": 3, "Timestamp": at},
        {"MetricName": "DbTime", "Values": [4.0, 40.0], "Counts": [99, 1], "Unit": "Milliseconds", "Timestamp": at},
    ])


def test_health_shows_the_scorer_emf_metrics_for_information(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs)
    put_emf()

    run = health(capsys, stack_dir)

    assert run.code == 0, run.out + run.err
    assert ("scorer metrics (PassportScorer, all routes; for information, not part of the verdict): credential "
            "validation 75.00% (150 valid of 200 checked), dedup clashes 3, DB time avg") in run.out
    data = json.loads(health(capsys, stack_dir, "--json").out)
    emf = data["scorer_metrics"]
    assert emf["validation_rate"] == pytest.approx(0.75) and emf["dedup_clashes"] == 3
    assert emf["db_time_avg_ms"] == pytest.approx((4 * 99 + 40) / 100) and emf["db_time_p99_ms"] == 4.0


def test_health_without_emf_data_still_judges_the_alb_metrics(emulated, capsys):
    albs, stack_dir = emulated(percent=25)
    put_traffic(albs)
    run = health(capsys, stack_dir)
    assert run.code == 0 and "credential validation - (- valid of - checked)" in run.out


def test_emf_summary_pure():
    summary = scorer_emf_summary({"stamps_checked": [10.0], "stamps_valid": [9.0]}, "NS")
    assert summary["validation_rate"] == pytest.approx(0.9) and summary["dedup_clashes"] is None
    assert scorer_emf_summary({}, "NS")["validation_rate"] is None
    assert scorer_emf_summary({"stamps_checked": [0.0], "stamps_valid": [0.0]}, "NS")["validation_rate"] is None
