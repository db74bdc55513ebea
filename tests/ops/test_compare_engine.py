"""`ops compare` with the project's own application on both sides against a seeded embedded PostgreSQL (fixture W,
scoring contract §10.1): the whole command path, Invoke payloads included, through a Lambda client that hands each
payload to that side's application (production contract P11.2).

Both sides use one database, as in production, where the legacy and the scorer functions share it: the same
application on both sides must compare identical, the scoring runs' own timestamps included; a difference injected
into the scorer side's answers (a changed weight, an extra stamp) must be reported with its route, request and diff.
"""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from botocore.response import StreamingBody

from ops.compare.command import CompareOptions, compare_command
from ops.live_commands import AwsTarget
from scorer_lambda.local.demo import DemoSeed, seed_demo
from scorer_lambda.local.signing import StampSigner

from ..scorer.conftest import pg_server, signer  # noqa: F401 - the scorer tests' fixtures, reused as they are
from ..scorer.databases import template_copy
from ..scorer.harness import Scorer, hs256_token
from .helpers import copy_stack_file

A, B, NOBODY = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "0" * 39 + "1"
Inject = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@pytest.fixture
def seeded(pg_server: Any, signer: StampSigner) -> Iterator[tuple[str, DemoSeed]]:  # noqa: F811 - imported fixtures
    with template_copy(pg_server, "cmp") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            seed = seed_demo(conn, signer, now=datetime.now(UTC), pbkdf2_iterations=1000)
        yield url, seed


class ApplicationsAsLambda:
    """A Lambda client whose Invoke runs the application: `passport-v2-scorer` is the scorer side, any other name
    the legacy side; `inject` may rewrite the scorer side's answers.

    Like Lambda, every concurrent invocation gets its own instance (an application holds one connection and serves
    one request at a time): one per side and thread here.
    """

    def __init__(self, url: str, env: dict[str, str], inject: Inject | None = None) -> None:
        self.url, self.env, self.inject = url, env, inject
        self.local = threading.local()
        self.opened: list[Scorer] = []
        self.invoked: list[str] = []
        self.lock = threading.Lock()

    def invoke(self, *, FunctionName: str, InvocationType: str, Payload: bytes) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        side = "scorer" if FunctionName == "passport-v2-scorer" else "legacy"
        application = getattr(self.local, side, None)
        if application is None:
            application = Scorer(self.url, self.env)
            setattr(self.local, side, application)
            with self.lock:
                self.opened.append(application)
        with self.lock:
            self.invoked.append(FunctionName)
        event = json.loads(Payload)
        response = application.app.handle(event, None)
        if side == "scorer" and self.inject is not None:
            response = self.inject(event, response)
        data = json.dumps(response).encode()
        return {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data))}

    def close(self) -> None:
        for application in self.opened:
            application.close()


REQUESTS = [
    {"route": "E1", "scorer_id": 3, "addresses": [A, B, NOBODY, "not-an-address"]},
    {"route": "E6", "address": A},
    {"route": "E7"},
    {"route": "E8", "addresses": [A, B]},
    {"route": "E10"},
    {"route": "E11", "scorer_id": 3, "addresses": [A, B]},
    {"route": "E11", "scorer_id": "abc", "address": A},
]


def run_compare(seeded: tuple[str, DemoSeed], tmp_path: Path,
                inject: Inject | None = None) -> tuple[Any, dict[str, Any], ApplicationsAsLambda]:
    url, seed = seeded
    env = {"TRUSTED_IAM_ISSUERS": json.dumps(list(seed.trusted_issuers)), "FF_API_ANALYTICS": "on",
           "CERAMIC_CACHE_SCORER_ID": str(seed.community_id)}
    client = ApplicationsAsLambda(url, env, inject)
    copy_stack_file("production", tmp_path)
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps({"requests": REQUESTS}))
    report = tmp_path / "report.json"
    environ = {"SCORER_COMPARE_API_KEY": seed.api_key, "SCORER_COMPARE_JWT": hs256_token(A)}
    try:
        result = compare_command(AwsTarget("production", tmp_path),
                                 CompareOptions(requests_path=requests, report_path=report, concurrency=4),
                                 environ=environ, progress_stream=io.StringIO(), lambda_client=client)
    finally:
        client.close()
    return result, json.loads(report.read_text()), client


def test_the_same_application_on_both_sides_is_identical(seeded, tmp_path):
    result, report, client = run_compare(seeded, tmp_path)

    assert result.exit_code == 0, result.text
    assert report["identical"] is True and report["differences"] == [] and report["errors"] == []
    assert report["requests"] == 12 and len(client.invoked) == 24
    assert client.invoked.count("passport-v2-scorer") == 12
    assert set(client.invoked) == {"passport-v2-scorer", "passport-v2-stamp-score", "cc-v1-score-GET-0",
                                   "cc-weights-GET-0", "cc-v1-st-GET-0", "embed-rl-lambda", "embed-gs-lambda"}
    with psycopg.connect(seeded[0]) as conn:
        scores = dict(conn.execute("SELECT p.address, s.score FROM registry_score s JOIN registry_passport p "
                                   "ON p.id = s.passport_id").fetchall())
    # The scoring runs happened. A and B share a Discord nullifier: whichever was scored first (requests run
    # concurrently) owns it, so A passes or not; both sides saw the same order because they share the database.
    assert scores[B] == 1 and scores[A] in (0, 1) and scores[NOBODY] == 0, scores
    assert {row["route"]: row["identical"] for row in report["summary"]} == {
        "E1": 4, "E6": 1, "E7": 1, "E8": 2, "E10": 1, "E11": 3, "all": 12}
    assert "IDENTICAL" in result.text


def changed_weight_and_extra_stamp(event: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The scorer side answers E7 with another Google weight and lists one stamp more for A on E8."""
    body = json.loads(response["body"])
    if event["path"] == "/ceramic-cache/weights":
        body["Google"] = 0.6
    elif event["path"] == "/ceramic-cache/stamp" and event["queryStringParameters"]["address"] == A:
        body["stamps"].append({**body["stamps"][0], "id": 999, "provider": "Github"})
    else:
        return response
    return {**response, "body": json.dumps(body)}


def test_a_changed_weight_and_an_extra_stamp_on_one_side_are_reported(seeded, tmp_path):
    result, report, _client = run_compare(seeded, tmp_path, changed_weight_and_extra_stamp)

    assert result.exit_code == 1
    different = {(d["route"], d["request"]["path"], d["request"]["query"].get("address")): d
                 for d in report["differences"]}
    assert set(different) == {("E7", "/ceramic-cache/weights", None), ("E8", "/ceramic-cache/stamp", A)}
    weights = different[("E7", "/ceramic-cache/weights", None)]
    assert [d["text"] for d in weights["differences"]] == ["$.Google: legacy 0.525 ≠ scorer 0.6"]
    (extra,) = different[("E8", "/ceramic-cache/stamp", A)]["differences"]
    assert (extra["path"], extra["kind"], extra["scorer"]["provider"]) == ("$.stamps[]", "only-scorer", "Github")
    assert extra["text"].startswith('$.stamps[]: only in scorer: {"id": 999, "address": "' + A)
    assert "#6 E8 GET /ceramic-cache/stamp?address=" + A + " (different)" in result.text
    assert "E7 GET /ceramic-cache/weights (different)" in result.text
    assert "  $.Google: legacy 0.525 ≠ scorer 0.6" in result.text
    summary = {row["route"]: row for row in report["summary"]}
    assert (summary["E8"]["identical"], summary["E8"]["different"]) == (1, 1)
    assert summary["all"]["identical"] == 10
