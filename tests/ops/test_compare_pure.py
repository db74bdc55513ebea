"""`ops compare`, the pure parts: request file, ALB events and replies, normalisation, diff, summary, progress
(production contract P11.2)."""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from pathlib import Path

import pytest

from ops.compare.diff import Difference, compare_replies, diff_values
from ops.compare.engine import RequestResult, run_comparison
from ops.compare.events import MalformedResponse, Reply, alb_event, reply_from_alb
from ops.compare.normalise import TIMESTAMP_PLACEHOLDER, UnorderedList, normalise_body
from ops.compare.progress import Progress
from ops.compare.request_file import (
    Credentials,
    RequestFileError,
    load_request_file,
    parse_request_file,
    read_credentials,
)
from ops.compare.summary import percentile, summarise
from ops.compare.transport import FatalTransportError, Outcome

from .helpers import ROOT

A = "0x" + "a" * 40
B = "0x" + "b" * 40
EXAMPLE = ROOT / "ops" / "examples" / "compare-requests.json"


def parse(doc, base_dir=Path(".")):
    return parse_request_file(doc, base_dir=base_dir)


# --- request file --------------------------------------------------------------------------------------------------

def test_entries_expand_to_one_request_per_address(tmp_path):
    (tmp_path / "list.txt").write_text(f"# addresses\n{A}\n\n{B}  # second\n")
    doc = {"requests": [{"route": "E1", "scorer_id": 335, "addresses": [A, B]},
                        {"route": "e11", "scorer_id": "7", "addresses_file": "list.txt"},
                        {"route": "E6", "address": A.upper().replace("0X", "0x"), "alternate_scorer_id": 7},
                        {"route": "E7"}, {"route": "E8", "address": A}, {"route": "E10"}]}

    requests = parse(doc, tmp_path).requests

    assert [(r.index, r.route.key, r.path, dict(r.query)) for r in requests] == [
        (0, "E1", f"/v2/stamps/335/score/{A}", {}), (1, "E1", f"/v2/stamps/335/score/{B}", {}),
        (2, "E11", f"/internal/embed/score/7/{A}", {}), (3, "E11", f"/internal/embed/score/7/{B}", {}),
        (4, "E6", f"/ceramic-cache/score/{A.upper().replace('0X', '0x')}", {"alternate_scorer_id": "7"}),
        (5, "E7", "/ceramic-cache/weights", {}), (6, "E8", "/ceramic-cache/stamp", {"address": A}),
        (7, "E10", "/internal/embed/validate-api-key", {})]
    assert [r.address for r in requests] == [A, B, A, B, A, None, A, None], "addresses serialise, lower-cased"


def test_the_example_file_of_the_repository_is_valid():
    request_file = load_request_file(EXAMPLE)
    assert {r.route.key for r in request_file.requests} == {"E1", "E6", "E7", "E8", "E10", "E11"}
    assert (request_file.api_key_env, request_file.jwt_env) == ("SCORER_COMPARE_API_KEY", "SCORER_COMPARE_JWT")
    assert len(request_file.requests) == 3 + 3 + 1 + 1 + 1 + 1 + 1


@pytest.mark.parametrize("route", ["E2", "E3", "E4", "E5", "E9"])
def test_write_routes_are_refused_with_the_reason(route):
    with pytest.raises(RequestFileError) as excinfo:
        parse({"requests": [{"route": "E1", "scorer_id": 1, "address": A}, {"route": route}]})
    message = str(excinfo.value)
    assert f"request 2: route {route} is a write route and is refused" in message
    assert "compare sends only E1, E6, E7, E8, E10, E11" in message


@pytest.mark.parametrize(("doc", "fragment"), [
    ({"requests": [{"route": "E1", "scorer_id": 1, "address": A, "api_key": "k"}]}, "requests.0.api_key looks like a "
                                                                                     "credential"),
    ({"api_key": "secret", "requests": [{"route": "E7"}]}, "api_key looks like a credential"),
    ({"requests": [{"route": "E10", "headers": {"x-api-key": "k"}}]}, "looks like a credential"),
    ({"requests": []}, "non-empty list"),
    ({"requests": [{"route": "E1", "address": A}]}, "(E1): missing scorer_id"),
    ({"requests": [{"route": "E1", "scorer_id": 1}]}, "exactly one of address, addresses or addresses_file"),
    ({"requests": [{"route": "E1", "scorer_id": 1, "address": A, "addresses": [B]}]}, "exactly one of"),
    ({"requests": [{"route": "E1", "scorer_id": 1, "address": "0xa/../x"}]}, "address must be 1-128 letters"),
    ({"requests": [{"route": "E7", "adress": A}]}, "(E7): unknown key(s) adress"),
    ({"requests": [{"route": "E12"}]}, "unknown route 'E12'"),
    ({"requests": [{"route": "E7"}], "hosts": {"public": "a b"}}, "hosts must map public/internal"),
    ({"requests": [{"route": "E7"}], "api_key_env": "1BAD"}, "api_key_env must be the name of an environment"),
])
def test_invalid_request_files_say_where(doc, fragment):
    with pytest.raises(RequestFileError) as excinfo:
        parse(doc)
    assert fragment in str(excinfo.value)


def test_credentials_come_from_the_named_environment_variables():
    request_file = parse({"api_key_env": "MY_KEY", "requests": [{"route": "E10"}, {"route": "E6", "address": A}]})
    with pytest.raises(RequestFileError, match=r"E10 need a partner API key: export MY_KEY \(the file never holds"):
        read_credentials(request_file, {"SCORER_COMPARE_JWT": "t"})
    with pytest.raises(RequestFileError, match="E6 need a JWT"):
        read_credentials(request_file, {"MY_KEY": "k"})
    credentials = read_credentials(request_file, {"MY_KEY": "k", "SCORER_COMPARE_JWT": "t"})
    assert (credentials.api_key, credentials.jwt) == ("k", "t")
    assert "k" not in repr(credentials) and "t'" not in repr(credentials)
    assert read_credentials(parse({"requests": [{"route": "E7"}]}), {}) == Credentials()


# --- events and replies --------------------------------------------------------------------------------------------

def test_alb_event_carries_the_request_and_its_credential():
    e1, e6, e7 = parse({"requests": [{"route": "E1", "scorer_id": 3, "address": A}, {"route": "E6", "address": A},
                                     {"route": "E7"}]}).requests
    credentials = Credentials(api_key="KEY", jwt="JWT")
    event = alb_event(e1, credentials, host="api.passport.xyz", trace_id="Root=1-x", target_group_arn="arn:tg")
    assert event == {"httpMethod": "GET", "path": f"/v2/stamps/3/score/{A}", "queryStringParameters": {},
                     "headers": {"host": "api.passport.xyz", "user-agent": "passport-scorer-ops-compare",
                                 "accept": "application/json", "x-amzn-trace-id": "Root=1-x", "x-api-key": "KEY",
                                 "x-forwarded-proto": "https", "x-forwarded-port": "443"},
                     "body": "", "isBase64Encoded": False, "requestContext": {"elb": {"targetGroupArn": "arn:tg"}}}
    headers = alb_event(e6, credentials, host="h", trace_id="t", target_group_arn="a")["headers"]
    assert headers["authorization"] == "Bearer JWT" and "x-api-key" not in headers
    headers = alb_event(e7, credentials, host="h", trace_id="t", target_group_arn="a")["headers"]
    assert "authorization" not in headers and "x-api-key" not in headers


def test_replies_from_alb_responses():
    body = base64.b64encode(b'{"a": 1}').decode()
    reply = reply_from_alb({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body,
                            "isBase64Encoded": True, "statusDescription": "200 OK"})
    assert reply == Reply(200, {"content-type": "application/json"}, '{"a": 1}')
    for bad in (None, {"statusCode": "200"}, {"statusCode": True}, {"statusCode": 200, "body": 5},
                {"statusCode": 200, "body": "!!", "isBase64Encoded": True}):
        with pytest.raises(MalformedResponse):
            reply_from_alb(bad)


# --- normalisation and diff ----------------------------------------------------------------------------------------

def score_object(**changes):
    body = {"address": A, "score": "1.24900", "passing_score": True,
            "last_score_timestamp": "2026-11-22T13:49:56.680383+00:00",
            "expiration_timestamp": "2027-01-15T10:20:30.456000+00:00", "threshold": "1.24900", "error": None,
            "stamps": {"Ens": {"score": "0.20800", "dedup": False, "expiration_date": "2027-03-01T00:00:00+00:00"},
                       "Google": {"score": "0.52500", "dedup": False, "expiration_date": None}},
            "points_data": None, "possible_points_data": None, "linked_score": None}
    return {**body, **changes}


def test_run_timestamps_are_masked_only_when_iso_utc():
    assert normalise_body("E1", score_object())["last_score_timestamp"] == TIMESTAMP_PLACEHOLDER
    assert normalise_body("E1", score_object(last_score_timestamp="2026-11-22T13:49:56Z"))["last_score_timestamp"] \
        == "2026-11-22T13:49:56Z", "not the contract's +00:00 form: kept, so it shows as a difference"
    assert normalise_body("E1", score_object(last_score_timestamp=None))["last_score_timestamp"] is None
    assert normalise_body("E1", score_object())["expiration_timestamp"] == "2027-01-15T10:20:30.456000+00:00"
    left, right = score_object(), score_object(last_score_timestamp="2026-11-23T01:02:03.000004+00:00")
    assert compare_replies("E1", reply(left), reply(right)) == []


def reply(body, status=200, headers=None):
    return Reply(status, headers or {"content-type": "application/json"}, json.dumps(body))


def test_a_changed_value_and_an_extra_stamp_are_readable():
    legacy = score_object()
    scorer = score_object(score="1.74900", stamps={**legacy["stamps"], "Github": {
        "score": "1.50000", "dedup": False, "expiration_date": None}})

    differences = compare_replies("E1", reply(legacy), reply(scorer))

    assert [d.text() for d in differences] == [
        '$.score: legacy "1.24900" ≠ scorer "1.74900"',
        '$.stamps.Github: only in scorer: {"score": "1.50000", "dedup": false, "expiration_date": null}']


def test_status_and_contract_headers_are_compared_other_headers_are_not():
    legacy = Reply(200, {"content-type": "application/json", "date": "x"}, "{}")
    scorer = Reply(400, {"content-type": "text/plain", "x-amzn-requestid": "y"}, "{}")
    assert [(d.path, d.legacy, d.scorer) for d in compare_replies("E7", legacy, scorer)] == [
        ("status", 200, 400), ("header content-type", "application/json", "text/plain")]


def test_key_order_counts_where_the_contract_fixes_it_only():
    legacy = score_object()
    reordered = dict(reversed(list(legacy.items())))
    assert [d.kind for d in compare_replies("E1", reply(legacy), reply(reordered))] == ["order"]
    stamps_reordered = score_object(stamps=dict(reversed(list(legacy["stamps"].items()))))
    assert compare_replies("E1", reply(legacy), reply(stamps_reordered)) == [], "stamps map order: §12 #8"
    weights = {"Google": 0.525, "Ens": 0.208}
    assert compare_replies("E7", reply(weights), reply(dict(reversed(weights.items())))) == [], "E7: as stored"


def test_stamp_lists_are_compared_as_multisets():
    row = {"id": 1, "address": A, "provider": "Ens", "stamp": {"b": 1, "a": 2}}
    other = {**row, "id": 2, "provider": "Google"}
    legacy = {"success": True, "stamps": [row, other]}
    assert compare_replies("E8", reply(legacy), reply({"success": True, "stamps": [other, row]})) == []
    extra = {**row, "id": 3, "provider": "Github"}
    differences = compare_replies("E8", reply(legacy), reply({"success": True, "stamps": [other, extra, row]}))
    assert differences == [Difference("$.stamps[]", "only-scorer", None, normalise_body("E8", extra))]
    assert isinstance(normalise_body("E8", legacy)["stamps"], UnorderedList)


def test_types_count():
    assert [d.text() for d in diff_values({"w": 1}, {"w": 1.0})] == ["$.w: legacy 1 ≠ scorer 1.0"]
    assert diff_values([True], [1]) == [Difference("$[0]", "value", True, 1)]
    assert [d.kind for d in diff_values([1, 2], [1])] == ["length"]


def test_bodies_that_are_not_json_compare_as_text():
    legacy, scorer = Reply(502, {}, "Bad Gateway"), Reply(502, {}, "bad gateway")
    assert [d.path for d in compare_replies("E1", legacy, scorer)] == ["body"]
    assert compare_replies("E1", legacy, Reply(502, {}, "Bad Gateway")) == []


# --- summary and progress ------------------------------------------------------------------------------------------

def result(route, legacy_ms, scorer_ms, *, differences=(), legacy_error=None, scorer_error=None, index=0):
    request = parse({"requests": [{"route": route}] if route in ("E7", "E10") else
                     [{"route": route, "scorer_id": 1, "address": A}]}).requests[0]
    ok = Reply(200, {}, "{}")
    return RequestResult(request, Outcome(None if legacy_error else ok, legacy_error, legacy_ms),
                         Outcome(None if scorer_error else ok, scorer_error, scorer_ms), tuple(differences))


def test_percentile_is_nearest_rank():
    assert percentile([], 50) is None
    assert percentile([5.0], 95) == 5.0
    values = [float(v) for v in range(1, 21)]
    assert (percentile(values, 50), percentile(values, 95)) == (10.0, 19.0)


def test_summary_per_route_and_total():
    diff = Difference("$.score", "value", "1", "2")
    results = [result("E1", 10, 20), result("E1", 30, 40, differences=[diff]),
               result("E1", 50, 60, scorer_error="boom"), result("E7", 5, 6, legacy_error="throttled")]

    rows = {row.route: row for row in summarise(results)}

    e1 = rows["E1"]
    assert (e1.requests, e1.identical, e1.different, e1.legacy_errors, e1.scorer_errors) == (3, 1, 1, 0, 1)
    assert (e1.legacy_p50_ms, e1.legacy_p95_ms, e1.scorer_p50_ms, e1.scorer_p95_ms) == (30, 50, 20, 40)
    assert (rows["E7"].legacy_errors, rows["E7"].legacy_p50_ms, rows["E7"].scorer_p50_ms) == (1, None, 6)
    assert (rows["all"].requests, rows["all"].identical, rows["all"].different) == (4, 1, 1)
    assert list(rows) == ["E1", "E7", "all"]


def test_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one():
    plain = io.StringIO()
    progress = Progress(20, plain, is_tty=False)
    for i in range(20):
        progress(result("E1", 1, 1, differences=[Difference("$", "value")] if i == 3 else ()))
    progress.close()
    lines = plain.getvalue().splitlines()
    assert len(lines) == 10 and lines[-1] == "compare: 20/20 requests, 1 different, 0 with errors"
    tty = io.StringIO()
    progress = Progress(2, tty, is_tty=True)
    progress(result("E1", 1, 1, scorer_error="x"))
    progress(result("E1", 1, 1))
    progress.close()
    assert tty.getvalue() == ("\r[" + "#" * 15 + "." * 15 + "] 1/2 requests, 0 different, 1 with errors"
                              "\r[" + "#" * 30 + "] 2/2 requests, 0 different, 1 with errors\n")


# --- engine --------------------------------------------------------------------------------------------------------

class RecordingTransport:
    """Answers every request the same on both sides; records the order of calls; may fail on one request."""

    def __init__(self, fatal_at: int | None = None) -> None:
        self.calls: list[tuple[int, str]] = []
        self.fatal_at = fatal_at
        self.lock = threading.Lock()

    def send(self, request, side):
        if request.index == self.fatal_at:
            raise FatalTransportError("no usable AWS credentials found")
        with self.lock:
            self.calls.append((request.index, side))
        time.sleep(0.002)
        return Outcome(Reply(200, {}, json.dumps({"n": request.index % 2})), None, 1.0)


def test_engine_keeps_file_order_per_address_and_legacy_first():
    requests = parse({"requests": [{"route": "E1", "scorer_id": 1, "addresses": [A, B, A, B, A]}, {"route": "E7"},
                                   {"route": "E11", "scorer_id": 1, "address": A}]}).requests
    transport = RecordingTransport()

    results = run_comparison(requests, transport, concurrency=3)

    assert [r.request.index for r in results] == list(range(7)) and all(r.verdict == "identical" for r in results)
    for address in (A, B):
        indexes = [r.index for r in requests if r.address == address]
        calls = [call for call in transport.calls if call[0] in indexes]
        assert calls == [(i, side) for i in indexes for side in ("legacy", "scorer")], address


def test_engine_stops_on_a_fatal_transport_error():
    requests = parse({"requests": [{"route": "E1", "scorer_id": 1, "addresses": [A, B]}, {"route": "E7"}]}).requests
    with pytest.raises(FatalTransportError, match="no usable AWS credentials"):
        run_comparison(requests, RecordingTransport(fatal_at=0), concurrency=1)
    with pytest.raises(ValueError, match=r"concurrency must be 1\.\.32"):
        run_comparison(requests, RecordingTransport(), concurrency=33)
