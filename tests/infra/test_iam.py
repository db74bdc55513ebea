"""The inline secret-read policy (routing contract §7.3): the exact secret, and KMS decrypt only via Secrets Manager."""

from __future__ import annotations

import json

import pytest

from components.iam import kms_key_region, secret_read_policy

SECRET = "arn:aws:secretsmanager:ap-southeast-2:000000000000:secret:scorer-secret-AbCdEf"
KEY = "arn:aws:kms:ap-southeast-2:000000000000:key/22222222-2222-2222-2222-222222222222"
READ = {"Sid": "ReadScorerSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": SECRET}


def _statements(policy: str) -> list[dict]:
    document = json.loads(policy)
    assert document["Version"] == "2012-10-17"
    return document["Statement"]


def test_decrypt_is_restricted_to_secrets_manager_in_the_key_region():
    assert _statements(secret_read_policy(SECRET, KEY)) == [
        READ,
        {"Sid": "DecryptScorerSecret", "Effect": "Allow", "Action": "kms:Decrypt", "Resource": KEY,
         "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.ap-southeast-2.amazonaws.com"}}},
    ]


@pytest.mark.parametrize("key", [None, ""])
def test_no_kms_statement_without_a_key(key):
    assert _statements(secret_read_policy(SECRET, key)) == [READ]


@pytest.mark.parametrize(("arn", "region"), [
    (KEY, "ap-southeast-2"),
    ("arn:aws:kms:us-west-2:000000000000:key/mrk-0123456789abcdef0123456789abcdef", "us-west-2"),
    ("arn:aws-us-gov:kms:us-gov-west-1:000000000000:key/33333333-3333-3333-3333-333333333333", "us-gov-west-1"),
])
def test_kms_key_region(arn, region):
    assert kms_key_region(arn) == region


@pytest.mark.parametrize("arn", [
    "arn:aws:kms:us-west-2:000000000000:alias/scorer",
    "arn:aws:secretsmanager:us-west-2:000000000000:secret:scorer-secret-AbCdEf",
    "22222222-2222-2222-2222-222222222222",
    "arn:aws:kms::000000000000:key/22222222-2222-2222-2222-222222222222",
])
def test_kms_key_region_refuses_anything_but_a_key_arn(arn):
    with pytest.raises(ValueError, match="not a KMS key ARN"):
        kms_key_region(arn)
    with pytest.raises(ValueError, match="not a KMS key ARN"):
        secret_read_policy(SECRET, arn)
