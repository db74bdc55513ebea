"""`LambdaRole`: a least-privilege execution role for the Lambdas of this program (routing contract §7.3).

Managed policies for logs and VPC networking, plus one inline statement that reads exactly the configured secret
(and decrypts with its customer-managed KMS key, if one is configured, only through Secrets Manager). Policy JSON is
built with `json.dumps` from plain strings, so no `get_policy_document` invoke has to be mocked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

LAMBDA_ROLE_TYPE = "passport:scorer:LambdaRole"
BASE_POLICY_ARNS: Mapping[str, str] = {
    "basic-execution": "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "vpc-access": "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
}
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:(?P<region>[a-z0-9-]+):\d{12}:key/[A-Za-z0-9-]+$")


def assume_role_policy() -> str:
    """Trust policy: only the Lambda service may assume the role."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def kms_key_region(kms_key_arn: str) -> str:
    """Region of a KMS key ARN `arn:aws:kms:<region>:<account>:key/<id>`; `ValueError` for anything else."""
    match = _KMS_KEY_ARN.match(kms_key_arn)
    if match is None:
        raise ValueError(f"not a KMS key ARN: {kms_key_arn!r}")
    return match["region"]


def secret_read_policy(secret_arn: str, kms_key_arn: str | None = None) -> str:
    """Inline policy: `GetSecretValue` on exactly one secret (full ARN), `kms:Decrypt` on its key if configured.

    The decrypt grant only holds for calls Secrets Manager makes on the function's behalf (`kms:ViaService` of the
    key's region, which is the secret's region), not for direct `kms:Decrypt` calls with the role's credentials.
    """
    statements: list[dict[str, object]] = [{"Sid": "ReadScorerSecret", "Effect": "Allow",
                                            "Action": "secretsmanager:GetSecretValue", "Resource": secret_arn}]
    if kms_key_arn:
        via_service = f"secretsmanager.{kms_key_region(kms_key_arn)}.amazonaws.com"
        statements.append({"Sid": "DecryptScorerSecret", "Effect": "Allow", "Action": "kms:Decrypt",
                           "Resource": kms_key_arn,
                           "Condition": {"StringEquals": {"kms:ViaService": via_service}}})
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


@dataclass(frozen=True)
class LambdaRoleArgs:
    secret_arn: str
    kms_key_arn: str | None = None
    extra_policy_arns: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class LambdaRole(pulumi.ComponentResource):
    """An auto-named IAM role for Lambda with the §7.3 policies."""

    role: aws.iam.Role
    arn: pulumi.Output[str]

    def __init__(self, name: str, args: LambdaRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(LAMBDA_ROLE_TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.role = aws.iam.Role(name, assume_role_policy=assume_role_policy(), tags=dict(args.tags), opts=child)
        for suffix, policy_arn in BASE_POLICY_ARNS.items():
            aws.iam.RolePolicyAttachment(f"{name}-{suffix}", role=self.role.name, policy_arn=policy_arn, opts=child)
        for policy_arn in args.extra_policy_arns:
            policy_name = re.sub(r"[^A-Za-z0-9-]", "-", policy_arn.rsplit("/", 1)[-1])
            aws.iam.RolePolicyAttachment(f"{name}-extra-{policy_name}", role=self.role.name, policy_arn=policy_arn,
                                         opts=child)
        aws.iam.RolePolicy(f"{name}-secret-read", role=self.role.id,
                           policy=secret_read_policy(args.secret_arn, args.kms_key_arn), opts=child)
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})
