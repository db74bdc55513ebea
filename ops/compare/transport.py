"""How a request reaches one side: Lambda `Invoke` with a synthesized ALB event, or HTTP through the load balancer
with the override header (production contract P11.1, P11.2). Thin: send, time, and turn the answer into a `Reply`
or a one-line error; comparing is not done here.

A failure of one request (function error, throttling, missing function, timeout) is that request's outcome. A failure
no request can get past (no credentials, an unknown profile or region) raises `FatalTransportError` and stops the run.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)

from components.override_header import OverrideHeader, Side
from ops.compare.events import MalformedResponse, Reply, reply_from_alb, request_headers
from ops.compare.request_file import CompareRequest, Credentials
from ops.errors import describe_aws_error

_FATAL_ERRORS = (NoCredentialsError, PartialCredentialsError, ProfileNotFound, NoRegionError)
_FATAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
                          "UnrecognizedClientException", "SignatureDoesNotMatch", "AuthFailure"})


@dataclass(frozen=True)
class Outcome:
    """One side's result for one request: a reply, or an error line; `latency_ms` of the call either way."""

    reply: Reply | None
    error: str | None
    latency_ms: float


class FatalTransportError(Exception):
    """No request can succeed (credentials, profile, region): the message is one line for the operator."""


class Transport(Protocol):
    def send(self, request: CompareRequest, side: Side) -> Outcome: ...


class LambdaTransport:
    """`Invoke` (RequestResponse) of each side's function with the ALB event the load balancer would send."""

    def __init__(self, client: Any, functions: Mapping[tuple[str, Side], str], event: Callable[[CompareRequest, Side],
                 dict[str, Any]], region: str | None = None) -> None:
        self.client, self.functions, self.event, self.region = client, functions, event, region

    def send(self, request: CompareRequest, side: Side) -> Outcome:
        function = self.functions[(request.route.key, side)]
        payload = json.dumps(self.event(request, side)).encode("utf-8")
        started = time.perf_counter()
        try:
            answer = self.client.invoke(FunctionName=function, InvocationType="RequestResponse", Payload=payload)
            body = answer["Payload"].read()
        except _FATAL_ERRORS as exc:
            raise FatalTransportError(describe_aws_error(exc, self.region)) from exc
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _FATAL_CODES:
                raise FatalTransportError(describe_aws_error(exc, self.region)) from exc
            return Outcome(None, f"Invoke {function}: {describe_aws_error(exc, self.region)}", _since(started))
        except BotoCoreError as exc:
            return Outcome(None, f"Invoke {function}: {describe_aws_error(exc, self.region)}", _since(started))
        latency = _since(started)
        try:
            decoded = json.loads(body or b"null")
        except ValueError:
            return Outcome(None, f"{function} returned a payload that is not JSON", latency)
        if answer.get("FunctionError"):
            return Outcome(None, f"{function} failed ({answer['FunctionError']}): {_function_error(decoded)}",
                           latency)
        try:
            return Outcome(reply_from_alb(decoded), None, latency)
        except MalformedResponse as exc:
            return Outcome(None, f"{function}: {exc}", latency)


class HttpTransport:
    """The request through the load balancer, with the override header choosing the side (`--via-url`)."""

    def __init__(self, base_urls: Mapping[str, str], header: OverrideHeader, credentials: Credentials,
                 trace_id: Callable[[CompareRequest], str], timeout_s: float = 60.0,
                 opener: Callable[..., Any] = urllib.request.urlopen) -> None:
        for base in base_urls.values():
            if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
                raise ValueError(f"not an http(s) URL: {base!r}")
        self.base_urls, self.header, self.credentials = base_urls, header, credentials
        self.trace_id, self.timeout_s, self.opener = trace_id, timeout_s, opener

    def url(self, request: CompareRequest) -> str:
        query = f"?{urllib.parse.urlencode(dict(request.query))}" if request.query else ""
        return self.base_urls[request.route.alb].rstrip("/") + request.path + query

    def send(self, request: CompareRequest, side: Side) -> Outcome:
        base = urllib.parse.urlsplit(self.base_urls[request.route.alb])
        headers = request_headers(request, self.credentials, host=base.netloc, trace_id=self.trace_id(request))
        headers[self.header.name] = self.header.value_for(side)
        del headers["host"]  # urllib sets it from the URL
        started = time.perf_counter()
        try:
            # The scheme is http(s): checked in __init__.
            outgoing = urllib.request.Request(self.url(request), headers=headers,  # noqa: S310
                                              method=request.route.method)
            with self.opener(outgoing, timeout=self.timeout_s) as answer:
                return Outcome(Reply(answer.status, _lower(answer.headers), _text(answer.read())), None,
                               _since(started))
        except urllib.error.HTTPError as exc:  # a 4xx/5xx is an answer like any other
            return Outcome(Reply(exc.code, _lower(exc.headers), _text(exc.read())), None, _since(started))
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return Outcome(None, f"{request.route.method} {self.url(request)}: {reason}", _since(started))


def _function_error(decoded: Any) -> str:
    if isinstance(decoded, dict):
        return f"{decoded.get('errorType', 'Error')}: {' '.join(str(decoded.get('errorMessage', '')).split())}"
    return str(decoded)[:200]


def _lower(headers: Any) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (headers.items() if headers else [])}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
