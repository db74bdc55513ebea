"""The automatic rollback function's handler (P11.6) against ALBs emulated by moto with the program's rules: every
shared rule to `[100, 0]` without stickiness, legacy-only and override rules untouched, idempotent, a report of what
changed and a notification. The function's code runs here exactly as packaged (`rollback_archive`)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import boto3
import pytest
from moto import mock_aws

from components.auto_rollback import ROLLBACK_FUNCTION_NAME, rollback_archive
from components.live_rollback import PLAN_ENV, handler

from .helpers import FUNCTION_TYPE, REGION
from .test_moto_replay import replay

SHARED = {("public", p) for p in (1001, 1002, 1003, 1004, 2026)} | {("internal", p) for p in (2100, 2101, 2103)}


def _alarm_event(name: str) -> dict:
    return {"Records": [{"EventSource": "aws:sns", "Sns": {
        "Message": json.dumps({"AlarmName": name, "NewStateValue": "ALARM"})}}]}


@pytest.fixture
def deployed(program_run, monkeypatch):
    """The production program at 25 % replayed into moto, the function's environment pointed at moto's listeners and
    a queue subscribed to the alarm topic to read the notification."""
    run = program_run("production", "25")
    env = dict(run.named(FUNCTION_TYPE, ROLLBACK_FUNCTION_NAME).inputs["environment"]["variables"])
    with mock_aws():
        albs = replay(run, "production")
        plan_json = env[PLAN_ENV]
        for program_arn, moto_arn in albs.listener_map.items():
            plan_json = plan_json.replace(program_arn, moto_arn)
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="scorer-pagerduty")["TopicArn"]
        queue = sqs.create_queue(QueueName="pager")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        monkeypatch.setenv(PLAN_ENV, plan_json)
        monkeypatch.setenv("STACK", env["STACK"])
        monkeypatch.setenv("NOTIFY_TOPIC_ARN", topic)
        monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
        yield albs, {"elbv2": albs.elbv2, "sns": sns}, (sqs, queue)


def _all_rules(albs) -> dict[tuple[str, int], dict]:
    out = {}
    for program_arn, alb in zip(albs.listener_map, ("public", "internal"), strict=True):
        out.update({(alb, p): r for p, r in albs.rules_by_priority(program_arn).items()})
    return out


def _weights(albs, rule) -> tuple[list[tuple[str, int]], dict]:
    config = rule["Actions"][0]["ForwardConfig"]
    return ([(albs.tg_name(t["TargetGroupArn"]), t["Weight"]) for t in config["TargetGroups"]],
            config["TargetGroupStickinessConfig"])


def test_handler_rolls_every_shared_rule_back_and_nothing_else(deployed):
    albs, clients, (sqs, queue) = deployed
    before = _all_rules(albs)
    assert len(before) == 28 and set(before) > SHARED  # 8 weighted, 16 override, 4 legacy-only

    report = handler(_alarm_event("HTTP-Target-5XX-l-passport-v2-scorer-sustain"), None, clients=clients)

    after = _all_rules(albs)
    assert set(after) == set(before), "no rule created or deleted"
    for slot, rule in after.items():
        assert rule["RuleArn"] == before[slot]["RuleArn"] and rule["Conditions"] == before[slot]["Conditions"]
        if slot not in SHARED:
            assert rule == before[slot], f"legacy-only or override rule {slot} must not be touched"
    for slot in SHARED:
        targets, stickiness = _weights(albs, after[slot])
        assert [w for _, w in targets] == [100, 0], slot
        assert stickiness == {"Enabled": False, "DurationSeconds": 3600}, slot
    assert report["status"] == "rolled back" and report["trigger"] == ["HTTP-Target-5XX-l-passport-v2-scorer-sustain"]
    assert [r["action"] for r in report["rules"]] == ["modified"] * 8
    first = report["rules"][0]
    assert (first["alb"], first["priority"], first["before"], first["after"]) == (
        "public", 1001, {"weights": [75, 25], "stickiness": "on (3600s)"},
        {"weights": [100, 0], "stickiness": "off"})

    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    text = json.loads(message["Body"])["Message"]
    assert "Automatic rollback of stack production: rolled back" in text
    assert "public 1001 cc-score-post: [75, 25] on (3600s) -> [100, 0] off (modified)" in text
    assert "python -m ops rollback --stack production" in text


def test_handler_is_idempotent(deployed):
    albs, clients, _ = deployed
    handler(_alarm_event("Lambda-Errors-passport-v2-scorer"), None, clients=clients)
    rules = _all_rules(albs)
    again = handler(_alarm_event("Lambda-Errors-passport-v2-scorer"), None, clients=clients)
    assert again["status"] == "already rolled back"
    assert [r["action"] for r in again["rules"]] == ["unchanged"] * 8
    assert all(r["before"] == r["after"] == {"weights": [100, 0], "stickiness": "off"} for r in again["rules"])
    assert _all_rules(albs) == rules


def test_handler_refuses_and_changes_nothing_when_a_shared_rule_is_missing(deployed):
    albs, clients, (sqs, queue) = deployed
    albs.elbv2.delete_rule(RuleArn=_all_rules(albs)[("internal", 2103)]["RuleArn"])
    rules = _all_rules(albs)
    report = handler(_alarm_event("x"), None, clients=clients)
    assert report["status"] == "refused" and "internal 2103 (embed-score): no rule at priority 2103" in report["error"]
    assert _all_rules(albs) == rules
    (message,) = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert "refused" in json.loads(message["Body"])["Message"]


def test_the_packaged_module_imports_with_the_standard_library_only(tmp_path):
    """The zip holds `components/live_rollback.py` and an empty package init; with site-packages disabled (no pulumi,
    no boto3) the handler module still imports: boto3 is only needed, from the Lambda runtime, when it runs."""
    archive = rollback_archive()
    assert sorted(archive.assets) == ["components/__init__.py", "components/live_rollback.py"]
    zip_path = tmp_path / "rollback.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("components/__init__.py", archive.assets["components/__init__.py"].text)
        zf.write(archive.assets["components/live_rollback.py"].path, "components/live_rollback.py")
    code = (f"import sys; sys.path.insert(0, {str(zip_path)!r}); import components.live_rollback as m; "
            "assert callable(m.handler); print(sorted(k for k in sys.modules if k.split('.')[0] in "
            "('pulumi', 'boto3', 'botocore')))")
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
