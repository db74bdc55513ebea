"""Timestamp and decimal renderings used in bodies and events (scoring contract §2.5)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal


def iso(value: datetime | None) -> str | None:
    """Response-body rendering: ``datetime.isoformat()``; None stays None."""
    return None if value is None else value.isoformat()


def event_iso(value: datetime | None) -> str | None:
    """Event-data rendering: milliseconds truncated, a UTC offset written ``Z``."""
    if value is None:
        return None
    text = value.isoformat()
    if value.microsecond:
        # isoformat gives "...SS.ffffff<offset>": keep three fraction digits, then the offset.
        dot = text.index(".")
        text = text[: dot + 4] + text[dot + 7 :]
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def five_decimals(value: Decimal) -> str:
    """Decimal strings of responses: format spec ``.5f`` (round half to even)."""
    return format(value, ".5f")
