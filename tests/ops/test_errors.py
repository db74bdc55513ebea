"""Errors an operator can hit end as one line on stderr and a documented exit code, never a traceback."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber

from ops import live
from ops.errors import describe_aws_error

from .helpers import REGION, copy_stack_file, run_cli


def assert_one_line(run, code: int, starts: str) -> None:
    assert run.code == code, (run.code, run.out, run.err)
    assert run.err.startswith(f"error: {starts}"), run.err
    assert run.err.count("\n") == 1 and "Traceback" not in run.err, run.err
    assert run.out == ""


@pytest.mark.parametrize("command", [("status",), ("health",), ("rollback", "--now")])
def test_no_credentials(tmp_path, capsys, command, no_aws, no_network):
    path = copy_stack_file("production", tmp_path)
    original = path.read_bytes()

    run = run_cli(capsys, *command, "--stack", "production", "--stack-dir", tmp_path)

    assert_one_line(run, 3, "no usable AWS credentials found")
    assert path.read_bytes() == original, "nothing written when AWS cannot be reached"


def test_listener_not_found(emulated, capsys, tmp_path):
    albs, _ = emulated(percent=25)
    missing = albs.listener_arns["public"][:-16] + "0123456789abcdef"
    stack_dir = tmp_path / "other"
    stack_dir.mkdir()
    copy_stack_file("production", stack_dir, listeners={"public": missing, "internal": albs.listener_arns["internal"]})

    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", stack_dir)

    assert_one_line(run, 3, f"listener not found in region {REGION} (DescribeRules): check publicListenerArn")


def test_wrong_region(emulated, capsys):
    _albs, stack_dir = emulated(percent=25)

    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", stack_dir, "--region", "eu-west-1")

    assert_one_line(run, 2, "wrong region: the public listener of stack 'production' is in us-west-2 but the AWS "
                            "region is eu-west-1")


def stubbed_clients(monkeypatch, operation: str, code: str, status: int = 400) -> None:
    elbv2 = boto3.client("elbv2", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    stubber = Stubber(elbv2)
    stubber.add_client_error(operation, service_error_code=code, service_message="Rate exceeded",
                             http_status_code=status)
    stubber.activate()
    monkeypatch.setattr(live, "make_clients", lambda region, profile=None: live.AwsClients(elbv2, cloudwatch, region))


@pytest.mark.parametrize(("code", "expected"), [
    ("Throttling", "AWS throttled DescribeRules (Throttling) in region us-west-2; wait a minute"),
    ("AccessDenied", "access denied for DescribeRules in region us-west-2 (AccessDenied): Rate exceeded"),
    ("ExpiredToken", "AWS rejected the credentials (ExpiredToken)"),
])
def test_client_errors(tmp_path, capsys, monkeypatch, code, expected, no_aws):
    copy_stack_file("production", tmp_path)
    stubbed_clients(monkeypatch, "describe_rules", code)

    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", tmp_path)

    assert_one_line(run, 3, expected)


def test_throttled_metrics(emulated, capsys, monkeypatch):
    _albs, stack_dir = emulated(percent=25)
    real = live.make_clients

    def throttled_cloudwatch(region, profile=None):
        clients = real(region, profile)
        stubber = Stubber(clients.cloudwatch)
        stubber.add_client_error("get_metric_data", service_error_code="Throttling", http_status_code=400)
        stubber.activate()
        return clients

    monkeypatch.setattr(live, "make_clients", throttled_cloudwatch)

    run = run_cli(capsys, "health", "--stack", "production", "--stack-dir", stack_dir)

    assert_one_line(run, 3, "AWS throttled GetMetricData (Throttling)")


def test_unreachable_endpoint(tmp_path, capsys, monkeypatch, no_aws):
    copy_stack_file("production", tmp_path)

    class Unreachable:
        def get_paginator(self, name):
            raise EndpointConnectionError(endpoint_url="https://elasticloadbalancing.us-west-2.amazonaws.com/")

    monkeypatch.setattr(live, "make_clients",
                        lambda region, profile=None: live.AwsClients(Unreachable(), Unreachable(), region))

    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", tmp_path)

    assert_one_line(run, 3, "cannot reach the AWS endpoint in region us-west-2")


def test_unknown_profile(tmp_path, capsys, no_aws):
    copy_stack_file("production", tmp_path)
    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", tmp_path, "--profile", "nope")
    assert_one_line(run, 3, "AWS profile not found: 'nope'")


def test_bad_listener_override_is_a_usage_error(tmp_path, capsys, no_aws):
    copy_stack_file("production", tmp_path)
    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", tmp_path,
                  "--internal-listener-arn", "arn:aws:elasticloadbalancing:us-west-2:1:loadbalancer/app/x/1")
    assert_one_line(run, 2, "--internal-listener-arn: not the listener ARN of an application load balancer")


def test_invalid_stack_file_is_a_usage_error(tmp_path, capsys, no_aws):
    path = copy_stack_file("production", tmp_path)
    path.write_text(path.read_text().replace("scorerPercent: 0", "scorerPercent: 12.5"))
    run = run_cli(capsys, "status", "--stack", "production", "--stack-dir", tmp_path)
    assert run.code == 2 and "scorerPercent for stack 'production' must be an integer from 0 to 100, got '12.5'" \
        in run.err and run.err.count("\n") == 1


def test_argparse_errors_exit_2(capsys):
    assert run_cli(capsys, "status").code == 2
    assert run_cli(capsys, "frobnicate", "--stack", "production").code == 2


def test_descriptions_of_other_errors():
    error = ClientError({"Error": {"Code": "ValidationError", "Message": "bad\nthing"}}, "ModifyRule")
    assert describe_aws_error(error, "us-west-2") == \
        "AWS error ValidationError on ModifyRule in region us-west-2: bad thing"
    assert describe_aws_error(NoCredentialsError()).startswith("no usable AWS credentials")
