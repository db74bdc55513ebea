"""Optional Secrets Manager overlay read once at cold start (scoring contract §2.2, routing contract §7.2)."""

from __future__ import annotations

import json
from collections.abc import Mapping

SECRET_ARN_VARIABLE = "SCORER_SERVER_SSM_ARN"  # noqa: S105 (a variable name, not a secret)


class SecretLoadError(RuntimeError):
    """The configured secret could not be read or is not a JSON object of strings."""


def environment_with_secret(environ: Mapping[str, str]) -> dict[str, str]:
    """Return ``environ`` overlaid with the keys of the secret named by ``SCORER_SERVER_SSM_ARN``, if set.

    Secret values take precedence over plain variables of the same name, as in the legacy Lambdas.
    """
    merged = dict(environ)
    arn = environ.get(SECRET_ARN_VARIABLE)
    if not arn:
        return merged
    import boto3  # provided by the Lambda runtime; imported only when a secret is configured

    try:
        response = boto3.client("secretsmanager").get_secret_value(SecretId=arn)
        values = json.loads(response["SecretString"])
    except Exception as exc:
        # The message names the failure class only: secret contents never reach the logs.
        raise SecretLoadError(f"cannot read secret {arn}: {type(exc).__name__}") from None
    if not isinstance(values, dict):
        raise SecretLoadError(f"secret {arn} is not a JSON object")
    merged.update({str(key): value if isinstance(value, str) else json.dumps(value) for key, value in values.items()})
    return merged
