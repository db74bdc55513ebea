"""The read-only ALB request wrapper: headers, query, body decoding (scoring contract §2.1)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from scorer_lambda.request import AlbRequest, InvalidBody


def request(body: Any = None, *, encoded: bool = False, **event: Any) -> AlbRequest:
    return AlbRequest({"httpMethod": "GET", "path": "/x", "body": body, "isBase64Encoded": encoded, **event})


@pytest.mark.parametrize(("body", "encoded", "expected"), [
    (None, False, {}),
    ("", False, {}),
    ("", True, {}),
    ('{"a": [1, 2.5, "x"]}', False, {"a": [1, 2.5, "x"]}),
    (base64.b64encode('{"a": "é"}'.encode()).decode(), True, {"a": "é"}),
    ("[]", False, []),
    ("null", False, None),
])
def test_json_body(body: str | None, encoded: bool, expected: Any) -> None:
    assert request(body, encoded=encoded).json_body == expected


def test_missing_body_key_parses_as_empty_object() -> None:
    assert AlbRequest({"httpMethod": "GET", "path": "/x"}).json_body == {}


def test_json_floats_stay_floats() -> None:
    assert type(request('{"w": 0.525}').json_body["w"]) is float


@pytest.mark.parametrize(("body", "encoded"), [
    ("{not json", False),
    ("{", False),
    (base64.b64encode(b"{not json").decode(), True),
    (base64.b64encode(b"\xff\xfe").decode(), True),
    ("***not base64***", True),
    ('{"a": 1}', True),
])
def test_undecodable_body_raises_invalid_body(body: str, encoded: bool) -> None:
    with pytest.raises(InvalidBody):
        _ = request(body, encoded=encoded).json_body


def test_headers_are_case_insensitive_and_query_defaults_to_empty() -> None:
    req = request(headers={"X-API-Key": "k", "Authorization": "Token t"}, queryStringParameters=None)
    assert (req.header("x-api-key"), req.header("X-Api-Key"), req.header("AUTHORIZATION")) == ("k", "k", "Token t")
    assert req.header("cookie") is None
    assert req.query == {}
    assert request(queryStringParameters={"address": "0xA"}).query == {"address": "0xA"}


def test_masked_headers_keep_names_and_hide_credentials() -> None:
    req = request(headers={"X-API-Key": "k", "authorization": "Bearer t", "Cookie": "c", "Host": "h"})
    assert req.masked_headers() == {"X-API-Key": "***", "authorization": "***", "Cookie": "***", "Host": "h"}
    assert "Bearer t" not in repr(req) and "'k'" not in repr(req)


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    "[" + "1" * 5000 + "]",
    '{"n": -' + "9" * 4301 + "}",
], ids=["deep-array", "deep-object", "int-beyond-str-limit", "negative-int-beyond-str-limit"])
def test_bodies_beyond_the_parsers_limits_raise_invalid_body(body: str) -> None:
    """RecursionError and the int-string ValueError are the client's mistake, not a 500 (production contract P4)."""
    with pytest.raises(InvalidBody):
        _ = request(body).json_body
    with pytest.raises(InvalidBody):
        _ = request(base64.b64encode(body.encode()).decode(), encoded=True).json_body


def test_large_but_parseable_numbers_still_parse() -> None:
    assert request("[" + "1" * 4300 + ", 1e308]").json_body == [int("1" * 4300), 1e308]
