"""The Lambda entry point: cold start from environment variables, then warm invocations on the kept app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from scorer_lambda import handler as entry
from scorer_lambda.local.demo import DemoSeed

from ..harness import alb_event


@pytest.fixture
def fresh_entry() -> Iterator[None]:
    entry._app = None
    yield
    if entry._app is not None:
        entry._app.ctx.db.close()
    entry._app = None


class Context:
    aws_request_id = "req-1"


def test_handler_cold_starts_from_the_environment_and_reuses_its_app(
        fresh_entry: None, fixture_w: DemoSeed, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("TRUSTED_IAM_ISSUERS", json.dumps(list(fixture_w.trusted_issuers)))
    event = alb_event("GET", f"/v2/stamps/{fixture_w.community_id}/score/{fixture_w.address_a}",
                      headers={"x-api-key": fixture_w.api_key})
    first: dict[str, Any] = entry.handler(event, Context())
    app = entry._app
    second = entry.handler(event, Context())
    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert json.loads(second["body"])["score"] == "1.24900"
    assert entry._app is app, "warm invocations reuse the app and its connection"


def test_handler_without_database_url_refuses_to_start(fresh_entry: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SCORER_SERVER_SSM_ARN", raising=False)
    with pytest.raises(RuntimeError, match="DATABASE_URL is not set"):
        entry.handler(alb_event("GET", "/ceramic-cache/weights"), Context())
