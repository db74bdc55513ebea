"""Normalisation of response bodies before they are compared: the scoring contract's rules, nothing more (§2.5,
§10, §12 #8, #9). Pure.

- `last_score_timestamp` is the time of each side's own scoring run: an ISO-8601 string ending in `+00:00` becomes a
  placeholder (anything else stays, so a malformed or non-UTC value is still a difference; null stays null).
- Lists of cached stamps (`"stamps": [...]`) are in no particular order: they become `UnorderedList`s, sorted.
- Key order is kept wherever the contract documents it (ScoreObject, stamp score entries, CachedStamp, the
  `success`/`stamps`/`score` envelope, points, error bodies) and ignored where it leaves it open: E7's weights
  ("exactly as stored"), the ScoreObject's `stamps` map (its order is a deliberate difference, §12 #8), the
  credential under a CachedStamp's `stamp` (stored JSON) and the points `breakdown` map.

Every other value, including the other timestamps and number types (`1` vs `1.0`), is compared exactly.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

TIMESTAMP_PLACEHOLDER = "<ISO-8601 UTC timestamp>"
_RUN_TIMESTAMPS = frozenset({"last_score_timestamp"})
_OPEN_ORDER_KEYS = frozenset({"stamps", "breakdown"})  # maps keyed by provider / action
_STORED_JSON_KEYS = frozenset({"stamp"})  # a credential as stored: no key order anywhere below
_UNORDERED_LIST_KEYS = frozenset({"stamps"})
_OPEN_ORDER_ROUTES = frozenset({"E7"})  # the body is the scorer's weights object


class UnorderedList(list):
    """A list whose order the contract leaves open; `diff` compares it as a multiset."""


def normalise_body(route_key: str, body: Any) -> Any:
    """The parsed JSON body of one side, normalised for comparison with the other side's."""
    return _normalise(body, None, is_open=route_key in _OPEN_ORDER_ROUTES, is_stored=False)


def canonical(value: Any) -> str:
    """A stable text of a normalised value (sorting unordered lists, telling 1 from 1.0 and true from 1)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _normalise(value: Any, key: str | None, *, is_open: bool, is_stored: bool) -> Any:
    if isinstance(value, dict):
        items = [(k, _normalise(v, k, is_open=k in _OPEN_ORDER_KEYS and isinstance(v, dict),
                                is_stored=is_stored or k in _STORED_JSON_KEYS)) for k, v in value.items()]
        return dict(sorted(items)) if is_open or is_stored else dict(items)
    if isinstance(value, list):
        items = [_normalise(v, None, is_open=False, is_stored=is_stored) for v in value]
        if key in _UNORDERED_LIST_KEYS and not is_stored:
            return UnorderedList(sorted(items, key=canonical))
        return items
    if key in _RUN_TIMESTAMPS and not is_stored and _is_utc_timestamp(value):
        return TIMESTAMP_PLACEHOLDER
    return value


def _is_utc_timestamp(value: Any) -> bool:
    if not isinstance(value, str) or not value.endswith("+00:00"):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
