"""Drive the scorer Lambda through real ALB events, and mint the tokens the ceramic routes need."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jwt

from scorer_lambda.app import App
from scorer_lambda.context import AppContext, utc_now
from scorer_lambda.db.connection import Database
from scorer_lambda.settings import parse_settings

TEST_SECRET_KEY = "test-secret-key-for-hs256-tokens-only"


def alb_event(method: str, path: str, *, headers: Mapping[str, str] | None = None, body: Any = None,
              query: Mapping[str, str] | None = None, base64_body: bool = False) -> dict[str, Any]:
    """An ALB event as the load balancer delivers it (scoring contract §11.5)."""
    text = "" if body is None else body if isinstance(body, str) else json.dumps(body)
    if base64_body and text:
        text = base64.b64encode(text.encode("utf-8")).decode("ascii")
    return {
        "httpMethod": method,
        "path": path,
        "queryStringParameters": dict(query or {}),
        "headers": {"host": "api.example", **(headers or {})},
        "body": text,
        "isBase64Encoded": base64_body,
        "requestContext": {"elb": {"targetGroupArn": "arn:aws:elasticloadbalancing:us-west-2:0:targetgroup/t/0"}},
    }


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any
    headers: dict[str, str]
    raw: dict[str, Any]


class Scorer:
    """The Lambda application wired to a test database, called with ALB events."""

    def __init__(self, db_url: str, env: Mapping[str, str], clock: Any = utc_now) -> None:
        self.settings = parse_settings({"DATABASE_URL": db_url, "SECRET_KEY": TEST_SECRET_KEY, **env})
        self.db = Database(db_url)
        self.app = App(AppContext(settings=self.settings, db=self.db, clock=clock))

    def call(self, method: str, path: str, **kwargs: Any) -> Reply:
        raw = self.app.handle(alb_event(method, path, **kwargs), None)
        assert set(raw) == {"statusCode", "statusDescription", "headers", "body", "isBase64Encoded"}, raw
        assert raw["isBase64Encoded"] is False
        return Reply(raw["statusCode"], json.loads(raw["body"]), raw["headers"], raw)

    def close(self) -> None:
        self.db.close()


def hs256_token(address: str, *, secret: str = TEST_SECRET_KEY, now: float | None = None, **claims: Any) -> str:
    """A legacy access token as the sign-in service issues it (§11.3); ``claims`` override or drop (None) keys."""
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {"token_type": "access", "exp": issued + 86400, "iat": issued,
                               "jti": uuid.uuid4().hex, "did": f"did:pkh:eip155:1:{address}"}
    payload.update(claims)
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def fixed_clock(moment: datetime) -> Any:
    return lambda: moment
