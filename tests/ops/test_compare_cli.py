"""`ops compare` end to end through the CLI: the Lambda transport against stubbed Lambda responses (botocore
Stubber), the HTTP transport against a local stand-in for the load balancer's override rules, exit codes and the
report (production contract P11.2)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from ops.compare import command as compare_module

from .helpers import REGION, ROOT, copy_stack_file, run_cli

A = "0x" + "a" * 40
B = "0x" + "b" * 40
KEY_ENV = {"SCORER_COMPARE_API_KEY": "DEMOKEY1.secret", "SCORER_COMPARE_JWT": "jwt-token"}
SCORE = {"address": A, "score": "1.24900", "passing_score": True,
         "last_score_timestamp": "2026-11-22T13:49:56.680383+00:00", "expiration_timestamp": None,
         "threshold": "1.24900", "error": None, "stamps": {}, "points_data": None, "possible_points_data": None,
         "linked_score": None}


@pytest.fixture
def stack_dir(tmp_path: Path, no_aws: None) -> Path:
    copy_stack_file("production", tmp_path)
    return tmp_path


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEY_ENV.items():
        monkeypatch.setenv(name, value)


def request_file(tmp_path: Path, *entries: dict[str, Any]) -> Path:
    path = tmp_path / "requests.json"
    path.write_text(json.dumps({"requests": list(entries)}))
    return path


def alb_payload(body: Any, status: int = 200) -> bytes:
    return json.dumps({"statusCode": status, "statusDescription": f"{status} OK", "isBase64Encoded": False,
                       "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}).encode()


def streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


class StubbedLambda:
    """A Lambda client whose Invoke answers are queued in order (run with --concurrency 1 for a fixed order)."""

    def __init__(self) -> None:
        self.client = boto3.client("lambda", region_name=REGION, aws_access_key_id="testing",
                                   aws_secret_access_key="testing")
        self.stubber = Stubber(self.client)

    def answer(self, function: str, payload: bytes, function_error: str | None = None) -> None:
        response: dict[str, Any] = {"StatusCode": 200, "Payload": streaming(payload)}
        if function_error:
            response["FunctionError"] = function_error
        self.stubber.add_response("invoke", response, {"FunctionName": function, "InvocationType": "RequestResponse",
                                                      "Payload": ANY})

    def fail(self, function: str, code: str) -> None:
        self.stubber.add_client_error("invoke", service_error_code=code, service_message=f"{code} for {function}",
                                      http_status_code=404 if code == "ResourceNotFoundException" else 400,
                                      expected_params={"FunctionName": function, "InvocationType": "RequestResponse",
                                                       "Payload": ANY})


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubbedLambda]:
    stub = StubbedLambda()
    monkeypatch.setattr(compare_module, "_lambda_client", lambda target, context, concurrency: stub.client)
    with stub.stubber:
        yield stub
        stub.stubber.assert_no_pending_responses()


def compare(capsys: Any, stack_dir: Path, requests: Path, *extra: str):
    return run_cli(capsys, "compare", "--stack", "production", "--stack-dir", stack_dir, "--requests", requests,
                   "--concurrency", "1", *extra)


# --- Lambda Invoke with stubbed responses --------------------------------------------------------------------------

def test_identical_answers_exit_0(stack_dir, env, stubbed, capsys, tmp_path):
    requests = request_file(tmp_path, {"route": "E1", "scorer_id": 3, "addresses": [A, B]}, {"route": "E7"})
    later = {**SCORE, "last_score_timestamp": "2026-11-22T13:50:01.000001+00:00"}  # each side scored at its time
    for body_legacy, body_scorer, legacy_fn in ((SCORE, later, "passport-v2-stamp-score"),
                                                ({**SCORE, "address": B}, {**later, "address": B},
                                                 "passport-v2-stamp-score"),
                                                ({"Ens": 0.208}, {"Ens": 0.208}, "cc-weights-GET-0")):
        stubbed.answer(legacy_fn, alb_payload(body_legacy))
        stubbed.answer("passport-v2-scorer", alb_payload(body_scorer))

    run = compare(capsys, stack_dir, requests)

    assert run.code == 0, run.err
    assert "IDENTICAL: every request got the same answer from both sides" in run.out
    rows = {line.split()[0]: line.split() for line in run.out.splitlines() if line.startswith(("E1 ", "E7 ", "all "))}
    assert rows["E1"][1:6] == ["2", "2", "0", "0", "0"] and rows["all"][1:3] == ["3", "3"]
    assert run.err.splitlines()[-1] == "compare: 3/3 requests, 0 different, 0 with errors", "plain progress lines"


def test_a_difference_is_reported_with_route_request_and_diff(stack_dir, env, stubbed, capsys, tmp_path):
    requests = request_file(tmp_path, {"route": "E11", "scorer_id": 3, "address": A})
    legacy = {"success": True, "stamps": [], "score": SCORE}
    scorer = {"success": True, "stamps": [], "score": {**SCORE, "score": "2.00000", "stamps": {
        "Github": {"score": "1.50000", "dedup": False, "expiration_date": None}}}}
    stubbed.answer("embed-gs-lambda", alb_payload(legacy))
    stubbed.answer("passport-v2-scorer", alb_payload(scorer))
    report = tmp_path / "report.json"

    run = compare(capsys, stack_dir, requests, "--report", report)

    assert run.code == 1
    assert f"#0 E11 GET /internal/embed/score/3/{A} (different)" in run.out
    assert '  $.score.score: legacy "1.24900" ≠ scorer "2.00000"' in run.out
    assert '  $.score.stamps.Github: only in scorer: {"score": "1.50000", "dedup": false, "expiration_date": null}' \
        in run.out
    assert "NOT IDENTICAL: 1 request(s) differ, 0 failed on a side" in run.out and f"report: {report}" in run.out
    data = json.loads(report.read_text())
    (difference,) = data["differences"]
    assert difference["request"] == {"route": "E11", "method": "GET", "path": f"/internal/embed/score/3/{A}",
                                     "query": {}}
    assert [d["path"] for d in difference["differences"]] == ["$.score.score", "$.score.stamps.Github"]
    assert json.loads(difference["scorer"]["body"]) == scorer and difference["legacy"]["status"] == 200
    assert data["identical"] is False and data["functions"]["E11 legacy"] == "embed-gs-lambda"


def test_invoke_and_function_errors_are_reported_per_request(stack_dir, env, stubbed, capsys, tmp_path):
    requests = request_file(tmp_path, {"route": "E1", "scorer_id": 3, "addresses": [A, B]}, {"route": "E10"})
    stubbed.fail("passport-v2-stamp-score", "ResourceNotFoundException")
    stubbed.answer("passport-v2-scorer", alb_payload(SCORE))
    stubbed.answer("passport-v2-stamp-score", alb_payload(SCORE))
    stubbed.answer("passport-v2-scorer", json.dumps({"errorType": "RuntimeError", "errorMessage": "DATABASE_URL "
                                                     "is not set"}).encode(), function_error="Unhandled")
    stubbed.answer("embed-rl-lambda", b'{"not": "an ALB response"}')
    stubbed.answer("passport-v2-scorer", alb_payload({"embed_rate_limit": "125/15m"}))

    run = compare(capsys, stack_dir, requests, "--json")

    assert run.code == 1, run.err
    data = json.loads(run.out)
    errors = {e["index"]: e for e in data["errors"]}
    assert set(errors) == {0, 1, 2} and data["differences"] == []
    assert errors[0]["legacy"]["error"].startswith("Invoke passport-v2-stamp-score: AWS error "
                                                   "ResourceNotFoundException on Invoke")
    assert errors[0]["scorer"]["error"] is None and errors[0]["scorer"]["status"] == 200
    assert errors[1]["scorer"]["error"] == ("passport-v2-scorer failed (Unhandled): RuntimeError: DATABASE_URL is "
                                            "not set")
    assert errors[2]["legacy"]["error"].startswith("embed-rl-lambda: not an ALB response")
    summary = {row["route"]: row for row in data["summary"]}
    assert (summary["E1"]["legacy_errors"], summary["E1"]["scorer_errors"], summary["E1"]["identical"]) == (1, 1, 0)
    assert summary["E10"]["legacy_errors"] == 1


def test_bad_credentials_stop_the_run_with_one_line(stack_dir, env, stubbed, capsys, tmp_path):
    requests = request_file(tmp_path, {"route": "E7"})
    stubbed.fail("cc-weights-GET-0", "UnrecognizedClientException")

    run = compare(capsys, stack_dir, requests)

    assert run.code == 3 and run.out == ""
    assert run.err.splitlines()[-1].startswith("error: AWS rejected the credentials (UnrecognizedClientException)")
    assert "Traceback" not in run.err


def test_legacy_function_override(stack_dir, env, stubbed, capsys, tmp_path):
    requests = request_file(tmp_path, {"route": "E7"})
    stubbed.answer("my-weights-fn", alb_payload({}))
    stubbed.answer("passport-v2-scorer", alb_payload({}))
    assert compare(capsys, stack_dir, requests, "--legacy-function", "e7=my-weights-fn").code == 0
    bad = compare(capsys, stack_dir, requests, "--legacy-function", "E2=x")
    assert bad.code == 2 and "unknown route 'E2'" in bad.err


# --- usage errors and AWS-free runs --------------------------------------------------------------------------------

def test_write_routes_are_refused_before_anything_is_sent(stack_dir, env, capsys, tmp_path, no_network):
    requests = request_file(tmp_path, {"route": "E7"}, {"route": "E2"})
    run = compare(capsys, stack_dir, requests)
    assert run.code == 2 and run.out == ""
    assert run.err.startswith("error: ") and run.err.count("\n") == 1
    assert "route E2 is a write route and is refused (POST /ceramic-cache/stamps/bulk adds stamps to the cache)" \
        in run.err


def test_a_missing_credential_is_a_usage_error(stack_dir, capsys, tmp_path, monkeypatch, no_network):
    monkeypatch.delenv("SCORER_COMPARE_API_KEY", raising=False)
    run = compare(capsys, stack_dir, request_file(tmp_path, {"route": "E10"}))
    assert run.code == 2 and "E10 need a partner API key: export SCORER_COMPARE_API_KEY" in run.err


def test_no_credentials_is_one_line_exit_3(stack_dir, env, capsys, no_network):
    run = compare(capsys, stack_dir, ROOT / "ops" / "examples" / "compare-requests.json")
    assert run.code == 3 and run.out == ""
    assert run.err == ("error: no usable AWS credentials found: set AWS_PROFILE (or pass --profile) or export "
                       "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, e.g. after `aws sso login`\n")


def clean_env(**extra: str) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", **extra}


def test_help_and_the_readme_example_run_without_aws_credentials():
    done = subprocess.run([sys.executable, "-m", "ops", "compare", "--help"], cwd=ROOT, env=clean_env(),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "--via-url BASE" in done.stdout and "write routes are refused" in done.stdout
    done = subprocess.run([sys.executable, "-m", "ops", "compare", "--stack", "production", "--requests",
                           "ops/examples/compare-requests.json", "--report", "/tmp/compare-report.json"],
                          cwd=ROOT, env=clean_env(**KEY_ENV), capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "" and done.stderr.startswith("error: no usable AWS credentials found")
    assert done.stderr.count("\n") == 1


@pytest.mark.parametrize(("entries", "flags", "fragment"), [
    ([{"route": "E6", "address": A}], ["--via-url", "https://api.passport.xyz"],
     "E6: no override rule on the load balancer"),
    ([{"route": "E10"}], ["--via-url", "https://api.passport.xyz"],
     "E10 go to the internal load balancer: give its base URL with --via-internal-url"),
    ([{"route": "E1", "scorer_id": 1, "address": A}], ["--via-url", "file:///etc/passwd"], "not an http(s) URL"),
    ([{"route": "E7"}], ["--concurrency", "0"], "--concurrency must be 1..32"),
])
def test_via_url_and_option_usage_errors(stack_dir, env, capsys, tmp_path, entries, flags, fragment):
    run = run_cli(capsys, "compare", "--stack", "production", "--stack-dir", stack_dir, "--requests",
                  request_file(tmp_path, *entries), *flags)
    assert run.code == 2 and fragment in run.err, run.err


def test_via_url_needs_the_override_header(stack_dir, env, capsys, tmp_path):
    path = stack_dir / "Pulumi.production.yaml"
    path.write_text(path.read_text() + "  passport-scorer-lambdas:scorerOverrideHeader: false\n")
    run = compare(capsys, stack_dir, request_file(tmp_path, {"route": "E1", "scorer_id": 1, "address": A}),
                  "--via-url", "https://api.passport.xyz")
    assert run.code == 2 and "stack 'production' disables (scorerOverrideHeader: false)" in run.err


# --- through a load balancer stand-in ------------------------------------------------------------------------------

class OverrideRules(BaseHTTPRequestHandler):
    """Answers like the listener with the override rules: the header picks the side; a bad value gets neither."""

    seen: ClassVar[list[tuple[str, str | None, str | None, str | None]]] = []
    scorer_score = "1.24900"

    def do_GET(self) -> None:
        side = (self.headers.get("X-Scorer-Target") or "").lower()
        OverrideRules.seen.append((self.path, side, self.headers.get("x-api-key"), self.headers.get("host")))
        if side not in ("legacy", "scorer"):
            self.send_response(503)
            self.end_headers()
            return
        body = {**SCORE, "score": OverrideRules.scorer_score if side == "scorer" else "1.24900"}
        status = 200 if self.path.startswith("/v2/") else 404
        data = json.dumps(body if status == 200 else {"error": "Not Found"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def balancer() -> Iterator[str]:
    OverrideRules.seen, OverrideRules.scorer_score = [], "1.24900"
    server = ThreadingHTTPServer(("127.0.0.1", 0), OverrideRules)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_via_url_sends_the_override_header_to_reach_each_side(stack_dir, env, capsys, tmp_path, balancer):
    requests = request_file(tmp_path, {"route": "E1", "scorer_id": 3, "addresses": [A, B]},
                            {"route": "E11", "scorer_id": 3, "address": A})

    run = compare(capsys, stack_dir, requests, "--via-url", balancer, "--via-internal-url", balancer)

    assert run.code == 0, run.out + run.err
    assert "via the load balancer with the override header" in run.out
    assert sorted(OverrideRules.seen) == sorted(
        [(f"/v2/stamps/3/score/{a}", side, KEY_ENV["SCORER_COMPARE_API_KEY"], balancer.removeprefix("http://"))
         for a in (A, B) for side in ("legacy", "scorer")] +
        [(f"/internal/embed/score/3/{A}", side, None, balancer.removeprefix("http://")) for side in ("legacy",
                                                                                                    "scorer")])
    OverrideRules.scorer_score = "9.00000"
    run = compare(capsys, stack_dir, requests, "--via-url", balancer, "--via-internal-url", balancer)
    assert run.code == 1 and run.out.count('$.score: legacy "1.24900" ≠ scorer "9.00000"') == 2
