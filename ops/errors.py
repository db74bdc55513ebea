"""Exit codes and error types of the operations CLI, and the one-line description of AWS errors.

Every error an operator can hit ends as one `error: …` line on stderr and one of the exit codes below; commands
raise `OpsError` subclasses (or let botocore errors through) and only `ops.cli.main` prints and picks the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # drift, failed invariant, unhealthy scorer, live rules not matching the plan, compare diffs
EXIT_USAGE = 2  # bad arguments or stack config (argparse uses 2 as well)
EXIT_AWS = 3  # credentials, region, network, permissions, throttling, missing AWS resources
EXIT_INSUFFICIENT_DATA = 4  # health: not enough traffic on the scorer side for a verdict

EXIT_CODES_HELP = f"""exit codes:
  {EXIT_OK}  ok (no drift, invariants hold, health PASS, change applied)
  {EXIT_CHECK_FAILED}  check failed: drift, a routing invariant, health FAIL, live rules that do not match the plan,
     or compare: a difference or a failed request on either side
  {EXIT_USAGE}  usage or stack config error (including an invalid percentage)
  {EXIT_AWS}  AWS error: no credentials, endpoint unreachable, access denied, throttling, listener not found
  {EXIT_INSUFFICIENT_DATA}  health: INSUFFICIENT DATA (too few scorer requests in the window; not a pass)"""

_THROTTLING = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
                         "RequestThrottled", "SlowDown"})
_ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
_BAD_CREDENTIALS = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                              "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"})


class OpsError(Exception):
    """An error with a message meant for the operator; `exit_code` says which kind."""

    exit_code = EXIT_USAGE


class ConfigError(OpsError):
    """Bad arguments or stack configuration."""

    exit_code = EXIT_USAGE


class CheckFailed(OpsError):
    """A check refused to go on (e.g. live rules that do not match the plan)."""

    exit_code = EXIT_CHECK_FAILED


class AwsError(OpsError):
    """An AWS call failed; the message is already one line for the operator."""

    exit_code = EXIT_AWS


def describe_aws_error(exc: BaseException, region: str | None = None) -> str:
    """Return one line saying what went wrong with an AWS call and what to do about it."""
    where = f" in region {region}" if region else ""
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return ("no usable AWS credentials found: set AWS_PROFILE (or pass --profile) or export AWS_ACCESS_KEY_ID/"
                "AWS_SECRET_ACCESS_KEY, e.g. after `aws sso login`")
    if isinstance(exc, ProfileNotFound):
        return f"AWS profile not found: {exc.kwargs.get('profile')!r} (check --profile / AWS_PROFILE)"
    if isinstance(exc, NoRegionError):
        return "no AWS region: set aws:region in the stack file or pass --region"
    if isinstance(exc, EndpointConnectionError | ConnectTimeoutError | ReadTimeoutError):
        return f"cannot reach the AWS endpoint{where} ({exc}); check the network, a proxy and --region"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Unknown"), " ".join(str(error.get("Message", "")).split())
        operation = exc.operation_name
        if code in _THROTTLING:
            return f"AWS throttled {operation} ({code}){where}; wait a minute and run the command again"
        if code in _ACCESS_DENIED:
            return f"access denied for {operation}{where} ({code}): {message}"
        if code in _BAD_CREDENTIALS:
            return f"AWS rejected the credentials ({code}): {message}; refresh them (e.g. `aws sso login`)"
        if code == "ListenerNotFound":
            return (f"listener not found{where} ({operation}): check publicListenerArn/internalListenerArn in the "
                    "stack file, the region and the AWS account of your credentials")
        if code == "TargetGroupNotFound":
            return f"target group not found{where} ({operation}): {message}; has the stack been deployed?"
        return f"AWS error {code} on {operation}{where}: {message}"
    if isinstance(exc, BotoCoreError):
        return f"AWS client error{where}: {exc}"
    return f"{type(exc).__name__}: {exc}"


@contextmanager
def aws_errors(region: str | None) -> Iterator[None]:
    """Turn botocore errors raised inside the block into `AwsError` with the one-line description."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise AwsError(describe_aws_error(exc, region)) from exc
