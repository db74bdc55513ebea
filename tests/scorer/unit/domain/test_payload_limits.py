"""Payload values the database cannot store are the client's mistake (production contract P4, difference 22)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from scorer_lambda.domain.payload_limits import is_storable, unstorable_value
from scorer_lambda.domain.stamp_items import (
    InvalidPayload,
    parse_bulk_items,
    parse_embed_body,
    parse_stamp_date,
    validate_new_stamp,
)


def nested(depth: int, leaf: Any) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@pytest.mark.parametrize("text", [
    '{"a": "x\\u0000y"}',
    '{"x\\u0000": 1}',
    '["\\ud800"]',
    '["\\udfff"]',
    '["a\\udc00b"]',
    '["\\ude00\\ud83d"]',  # a pair in the wrong order is two unpaired surrogates
    '{"\\ud800": "key"}',
    "[NaN]",
    '{"a": Infinity}',
    '{"a": [1, -Infinity]}',
    "[1e400]",
    "[-1e400]",
    '{"deep": [[[[{"x": [1, 2, {"y": "\\u0000"}]}]]]]}',
])
def test_unstorable_values_are_found_anywhere(text: str) -> None:
    payload = json.loads(text)
    assert unstorable_value(payload) is not None
    assert is_storable(payload) is False


@pytest.mark.parametrize("text", [
    '{"a": "plain", "b": ["é", "\\u00e9", "\\ud83d\\ude00", "\\u0001", "\\uffff"], "c": null}',
    '[1, -2.5, 1e308, -1e308, 5e-324, 0, true, false, null]',
    '{"": ""}',
    "[]",
    "{}",
    '"\\ud83d\\ude00"',
    "123456789012345678901234567890",
])
def test_storable_values_pass(text: str) -> None:
    assert unstorable_value(json.loads(text)) is None


def test_the_walk_is_iterative_and_handles_any_depth() -> None:
    """Far deeper than the recursion limit: a recursive walker would raise RecursionError here."""
    assert is_storable(nested(50_000, "fine")) is True
    assert is_storable(nested(50_000, float("nan"))) is False
    assert is_storable(nested(50_000, "\x00")) is False


@pytest.mark.parametrize("body", [
    [{"provider": "Goo\x00gle", "stamp": {}}],
    [{"provider": "Google", "stamp": {"proof": {"proofValue": "0x"}, "n": float("inf")}}],
    [{"provider": "Google", "stamp": {"proof": {"proofValue": "0x"}}, "ignored": "\ud800"}],
    [{"provider": "Google", "stamp": {"proof": {"proofValue": "0x"}, "k\x00": 1}}],
    {"\x00": 1},
], ids=["provider", "stamp-value", "ignored-key-value", "stamp-key", "object-body"])
def test_bulk_bodies_with_unstorable_values_are_invalid_payloads(body: Any) -> None:
    with pytest.raises(InvalidPayload):
        parse_bulk_items(body)


@pytest.mark.parametrize("body", [
    {"scorer_id": 3, "stamps": [{"credentialSubject": {"provider": "G\x00"}}]},
    {"scorer_id": 3, "stamps": [{"proof": {"proofValue": float("nan")}}]},
    {"scorer_id": 3, "stamps": [], "other": "\udfff"},
], ids=["provider", "stamp-value", "ignored-key"])
def test_embed_bodies_with_unstorable_values_are_invalid_payloads(body: Any) -> None:
    with pytest.raises(InvalidPayload):
        parse_embed_body(body)


def test_storable_bodies_still_parse() -> None:
    assert [item.provider for item in parse_bulk_items([{"provider": "Google", "stamp": {"a": 1.5}}])] == ["Google"]
    assert parse_embed_body({"scorer_id": "3", "stamps": [{"a": "é"}]}) == (3, [{"a": "é"}])


@pytest.mark.parametrize("value", [
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T04:59:59.999999+05:00",
    "9999-12-31T23:00:00-05:00",
    "9999-12-31T23:59:59.999999-00:00:01",
])
def test_dates_outside_years_1_to_9999_in_utc_are_invalid(value: str) -> None:
    with pytest.raises(InvalidPayload):
        parse_stamp_date(value)
    stamp = {"proof": {"proofValue": "0x"}, "issuanceDate": "2026-01-01T00:00:00Z", "expirationDate": value}
    with pytest.raises(InvalidPayload):
        validate_new_stamp("Google", stamp)


@pytest.mark.parametrize(("value", "utc"), [
    ("0001-01-01T05:00:00+05:00", datetime(1, 1, 1, tzinfo=UTC)),
    ("0001-01-01T00:00:00-05:00", datetime(1, 1, 1, 5, tzinfo=UTC)),
    ("0001-01-01T00:00:00", datetime(1, 1, 1, tzinfo=UTC)),
    ("9999-12-31T23:59:59.999999Z", datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ("9999-12-31T23:59:59+05:00", datetime(9999, 12, 31, 18, 59, 59, tzinfo=UTC)),
    ("2030-01-01T00:00:00+05:30:15", datetime(2029, 12, 31, 18, 29, 45, tzinfo=UTC)),
    ("2030-01-01T00:00:00+05:00:00.5", datetime(2029, 12, 31, 18, 59, 59, 500000, tzinfo=UTC)),
    ("2030-01-01", datetime(2030, 1, 1, tzinfo=UTC)),
])
def test_dates_within_range_keep_their_instant(value: str, utc: datetime) -> None:
    parsed = parse_stamp_date(value)
    assert parsed is not None and parsed == utc


def test_offsets_are_kept_as_given() -> None:
    parsed = parse_stamp_date("2030-01-01T00:00:00+05:30:15")
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=5, minutes=30, seconds=15)
    assert parsed.tzinfo == timezone(timedelta(hours=5, minutes=30, seconds=15))
