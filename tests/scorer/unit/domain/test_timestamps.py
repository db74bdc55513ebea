"""Timestamp and decimal renderings (scoring contract §2.5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from scorer_lambda.domain.timestamps import event_iso, five_decimals, iso

PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(("value", "expected"), [
    (datetime(2026, 11, 22, 13, 49, 56, 680383, tzinfo=UTC), "2026-11-22T13:49:56.680383+00:00"),
    (datetime(2027, 3, 1, tzinfo=UTC), "2027-03-01T00:00:00+00:00"),
    (datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC), "2027-01-15T10:20:30.456000+00:00"),
    (datetime(2027, 3, 1, 2, tzinfo=PLUS_2), "2027-03-01T02:00:00+02:00"),
    (None, None),
])
def test_iso_is_python_isoformat(value: datetime | None, expected: str | None) -> None:
    assert iso(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (datetime(2026, 11, 22, 13, 49, 49, 261999, tzinfo=UTC), "2026-11-22T13:49:49.261Z"),
    (datetime(2027, 3, 1, tzinfo=UTC), "2027-03-01T00:00:00Z"),
    (datetime(2027, 3, 1, 0, 0, 0, 500000, tzinfo=PLUS_2), "2027-03-01T00:00:00.500+02:00"),
    (datetime(2027, 1, 15, 10, 20, 30, 456000, tzinfo=UTC), "2027-01-15T10:20:30.456Z"),
    (datetime(2027, 1, 15, 10, 20, 30, 999, tzinfo=UTC), "2027-01-15T10:20:30.000Z"),
    (None, None),
])
def test_event_encoding_truncates_to_milliseconds_and_writes_utc_as_z(value: datetime | None,
                                                                      expected: str | None) -> None:
    assert event_iso(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("0.000025", "0.00002"),
    ("0.000015", "0.00002"),
    ("0.000035", "0.00004"),
    ("1.249000000000000026867397196", "1.24900"),
    ("0.6999999999999999555910790150", "0.70000"),
    ("0", "0.00000"),
    ("45", "45.00000"),
    ("2.0000", "2.00000"),
])
def test_five_decimals_rounds_half_to_even(value: str, expected: str) -> None:
    assert five_decimals(Decimal(value)) == expected
