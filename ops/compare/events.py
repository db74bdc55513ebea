"""Requests as the functions receive them, and their answers as comparable replies (scoring contract §2.1, §11.5).
Pure.

Both sides get the same event; only `requestContext.elb.targetGroupArn` names each side's own target group, as the
load balancer would. Headers are lower-case, single-valued (multi-value headers are off on every target group), and
carry one `x-amzn-trace-id` per request so that both sides' log lines of one comparison can be found together.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ops.compare.request_file import CompareRequest, Credentials

USER_AGENT = "passport-scorer-ops-compare"


@dataclass(frozen=True)
class Reply:
    """One side's HTTP answer: status, headers (names lower-cased) and body text."""

    status: int
    headers: Mapping[str, str]
    body: str


class MalformedResponse(ValueError):
    """A function returned something that is not an ALB response."""


def request_headers(request: CompareRequest, credentials: Credentials, *, host: str,
                    trace_id: str) -> dict[str, str]:
    """The headers of one request, credentials included (never logged or reported)."""
    headers = {"host": host, "user-agent": USER_AGENT, "accept": "application/json", "x-amzn-trace-id": trace_id}
    if request.route.auth == "api_key" and credentials.api_key:
        headers["x-api-key"] = credentials.api_key
    if request.route.auth == "jwt" and credentials.jwt:
        headers["authorization"] = f"Bearer {credentials.jwt}"
    return headers


def alb_event(request: CompareRequest, credentials: Credentials, *, host: str, trace_id: str,
              target_group_arn: str) -> dict[str, Any]:
    """The ALB event the load balancer would deliver for `request` to the target group `target_group_arn`."""
    headers = {**request_headers(request, credentials, host=host, trace_id=trace_id),
               "x-forwarded-proto": "https", "x-forwarded-port": "443"}
    return {"httpMethod": request.route.method, "path": request.path,
            "queryStringParameters": dict(request.query), "headers": headers, "body": "",
            "isBase64Encoded": False, "requestContext": {"elb": {"targetGroupArn": target_group_arn}}}


def trace_id_for(run_id: str, index: int) -> str:
    """`Root=1-<run id>-<request number>`: an X-Ray trace id shape, unique per request of one run."""
    return f"Root=1-{run_id[:8]}-{index:024x}"


def reply_from_alb(response: Any) -> Reply:
    """Turn a function's ALB response (`statusCode`, `headers`, `body`, `isBase64Encoded`) into a `Reply`."""
    if not isinstance(response, Mapping) or not isinstance(response.get("statusCode"), int) \
            or isinstance(response.get("statusCode"), bool):
        raise MalformedResponse(f"not an ALB response (no integer statusCode): {_excerpt(response)}")
    headers = response.get("headers") or {}
    if not isinstance(headers, Mapping):
        raise MalformedResponse(f"headers is not an object: {_excerpt(headers)}")
    body = response.get("body") or ""
    if not isinstance(body, str):
        raise MalformedResponse(f"body is not a string: {_excerpt(body)}")
    if response.get("isBase64Encoded") and body:
        try:
            body = base64.b64decode(body, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"isBase64Encoded body does not decode: {exc}") from None
    return Reply(int(response["statusCode"]), {str(k).lower(): str(v) for k, v in headers.items()}, body)


def _excerpt(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + "…"
