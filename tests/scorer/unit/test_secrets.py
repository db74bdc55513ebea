"""The Secrets Manager overlay read at cold start (scoring contract §2.2), against moto."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from scorer_lambda.secrets import SecretLoadError, environment_with_secret
from scorer_lambda.settings import SettingsError, parse_settings

REGION = "us-west-2"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        yield


def test_secret_keys_override_plain_variables(aws: None) -> None:
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="scorer", SecretString=json.dumps({"DATABASE_URL": "postgresql://db/scorer", "FF_API_ANALYTICS": "on"})
    )["ARN"]
    merged = environment_with_secret({"SCORER_SERVER_SSM_ARN": arn, "DATABASE_URL": "plain", "SECRET_KEY": "k"})
    assert merged["DATABASE_URL"] == "postgresql://db/scorer"
    assert merged["SECRET_KEY"] == "k"
    assert parse_settings(merged).api_analytics is True


def test_no_secret_configured_reads_nothing() -> None:
    assert environment_with_secret({"A": "1"}) == {"A": "1"}


def test_unreadable_or_malformed_secret_fails_cold_start_without_its_content(aws: None) -> None:
    client = boto3.client("secretsmanager", region_name=REGION)
    with pytest.raises(SecretLoadError, match="ResourceNotFoundException"):
        environment_with_secret({"SCORER_SERVER_SSM_ARN": "arn:aws:secretsmanager:us-west-2:123456789012:secret:x"})
    arn = client.create_secret(Name="list", SecretString='["not", "an", "object"]')["ARN"]
    with pytest.raises(SecretLoadError, match="not a JSON object") as failure:
        environment_with_secret({"SCORER_SERVER_SSM_ARN": arn})
    assert "not\", \"an" not in str(failure.value)


def test_invalid_issuer_list_stops_the_cold_start_naming_the_variable() -> None:
    with pytest.raises(SettingsError, match="TRUSTED_IAM_ISSUERS"):
        parse_settings({"TRUSTED_IAM_ISSUERS": "did:ethr:0x1"})
