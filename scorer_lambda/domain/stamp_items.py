"""Validation of bulk stamp payloads before anything is written (scoring contract §9, stamp item rules)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .payload_limits import unstorable_value

MAX_TEXT = 256


class InvalidPayload(ValueError):
    """The payload does not have the expected shape, or an item breaks the stamp item rules (HTTP 400)."""


class TooManyStamps(ValueError):
    """More items than ``MAX_BULK_CACHE_SIZE`` (HTTP 422)."""


@dataclass(frozen=True)
class NewStamp:
    """A validated stamp ready to be inserted into the cache."""

    provider: str
    stamp: dict[str, Any]
    proof_value: str
    issuance_date: datetime | None
    expiration_date: datetime | None


@dataclass(frozen=True)
class BulkItem:
    provider: str
    stamp: Any  # as sent; absent is None


def parse_bulk_items(body: Any) -> list[BulkItem]:
    """Body shape of E2/E3/E4: an array of objects with a string ``provider`` (empty body and ``{}`` mean [])."""
    ensure_storable(body)
    if body == {}:
        return []
    if not isinstance(body, list):
        raise InvalidPayload("body must be an array")
    items: list[BulkItem] = []
    for item in body:
        if not isinstance(item, dict) or not isinstance(item.get("provider"), str):
            raise InvalidPayload("every item needs a string provider")
        if item.get("address") is not None and not isinstance(item["address"], str):
            raise InvalidPayload("address must be a string or null")
        items.append(BulkItem(item["provider"], item.get("stamp")))
    return items


def ensure_storable(body: Any) -> None:
    """P4: a value the database (or a Python reader of the shared table) cannot hold is an invalid payload."""
    reason = unstorable_value(body)
    if reason is not None:
        raise InvalidPayload(reason)


def check_count(items: Sequence[Any], limit: int) -> None:
    if len(items) > limit:
        raise TooManyStamps(f"{len(items)} items, at most {limit}")


def validate_new_stamp(provider: Any, stamp: Any) -> NewStamp:
    """The stamp item rules: an object with ``proof.proofValue``, bounded strings and parseable dates."""
    if not isinstance(stamp, dict):
        raise InvalidPayload("stamp must be an object")
    if not isinstance(provider, str) or len(provider) > MAX_TEXT:
        raise InvalidPayload("provider must be a string of at most 256 characters")
    proof = stamp.get("proof")
    proof_value = proof.get("proofValue") if isinstance(proof, dict) else None
    if not isinstance(proof_value, str) or len(proof_value) > MAX_TEXT:
        raise InvalidPayload("stamp.proof.proofValue must be a string of at most 256 characters")
    return NewStamp(provider, stamp, proof_value, parse_stamp_date(stamp.get("issuanceDate")),
                    parse_stamp_date(stamp.get("expirationDate")))


def parse_stamp_date(value: Any) -> datetime | None:
    """None, or an ISO-8601 datetime (no offset means UTC) or date (midnight UTC), within years 1–9999 in UTC."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidPayload("dates must be strings")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidPayload("dates must be ISO-8601") from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        # PostgreSQL would store 0001-01-01T00:00+05:00, but Python readers of the shared table could not load it.
        parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidPayload("dates must fall within years 1-9999 in UTC") from None
    return parsed


def new_stamps_for_post(items: Sequence[BulkItem]) -> list[NewStamp]:
    """E2: every item carries a valid stamp; no provider twice."""
    stamps = [validate_new_stamp(item.provider, item.stamp) for item in items]
    _reject_duplicates([stamp.provider for stamp in stamps])
    return stamps


def new_stamps_for_patch(items: Sequence[BulkItem]) -> list[NewStamp]:
    """E3: a falsy stamp means delete only; providers with a stamp must be unique."""
    stamps = [validate_new_stamp(item.provider, item.stamp) for item in items if item.stamp]
    _reject_duplicates([stamp.provider for stamp in stamps])
    return stamps


def parse_embed_body(body: Any) -> tuple[int, list[Any]]:
    """E9 body: ``{"scorer_id": int or integer string, "stamps": array}``."""
    ensure_storable(body)
    if not isinstance(body, dict) or not isinstance(body.get("stamps"), list):
        raise InvalidPayload("body must be an object with a stamps array")
    scorer_id = parse_int(body.get("scorer_id"))
    if scorer_id is None:
        raise InvalidPayload("scorer_id must be an integer")
    return scorer_id, body["stamps"]


def embed_providers(stamps: Sequence[Any]) -> list[str]:
    """E9 step 4: every stamp is an object whose ``credentialSubject.provider`` is a string."""
    providers: list[str] = []
    for stamp in stamps:
        subject = stamp.get("credentialSubject") if isinstance(stamp, dict) else None
        provider = subject.get("provider") if isinstance(subject, dict) else None
        if not isinstance(provider, str):
            raise InvalidPayload("every stamp needs credentialSubject.provider")
        providers.append(provider)
    return providers


def new_stamps_for_embed(stamps: Sequence[Any], providers: Sequence[str]) -> list[NewStamp]:
    new = [validate_new_stamp(provider, stamp) for provider, stamp in zip(providers, stamps, strict=True)]
    _reject_duplicates(list(providers))
    return new


def parse_int(value: Any) -> int | None:
    """An integer, a string holding one, or an integral float; None for anything else (bools included)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _reject_duplicates(providers: list[str]) -> None:
    repeated = [provider for provider, count in Counter(providers).items() if count > 1]
    if repeated:
        raise InvalidPayload(f"provider given more than once: {repeated[0]}")
