"""One structured JSON log line per request, with fixed keys and no credentials (style guide 2.12)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from scorer_lambda.local.demo import DemoSeed
from scorer_lambda.logs import JsonFormatter

from ..harness import Scorer, bearer, hs256_token

FIXED_KEYS = {"level", "location", "message", "timestamp", "service", "function_request_id", "cold_start",
              "xray_trace_id"}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(previous)


def test_each_request_logs_one_json_line_without_secrets(scorer_w: Scorer, fixture_w: DemoSeed,
                                                          log_lines: io.StringIO) -> None:
    token = hs256_token(fixture_w.address_a)
    scorer_w.call("GET", f"/v2/stamps/{fixture_w.community_id}/score/{fixture_w.address_a}",
                  headers={"x-api-key": fixture_w.api_key, "x-amzn-trace-id": "Root=1-abc"})
    scorer_w.call("POST", "/ceramic-cache/stamps/bulk", headers=bearer(token), body=[])
    scorer_w.call("GET", "/nowhere")
    text = log_lines.getvalue()
    assert fixture_w.api_key not in text and fixture_w.api_key.split(".")[1] not in text, "no API key in logs"
    assert token not in text, "no JWT in logs"
    assert scorer_w.settings.database_url not in text, "no database URL in logs"
    lines = [json.loads(line) for line in text.splitlines()]
    requests = [line for line in lines if line["message"] == "request"]
    assert [(r["route"], r["surface"], r["status"]) for r in requests] == [
        ("E1", "v2", 200), ("E2", "ceramic", 201), (None, None, 404)]
    for line in requests:
        assert set(line) >= FIXED_KEYS, line
        assert isinstance(line["duration_ms"], float) and line["service"] == "passport-v2-scorer"
    assert requests[0]["xray_trace_id"] == "Root=1-abc"
