"""Differences between the legacy and the scorer reply of one request, readable one per line. Pure.

Compared: the status code, the response headers the scoring contract fixes (§2.3; other headers depend on the
runtime and the load balancer), and the body: JSON normalised by `normalise`, otherwise the text as is.
`statusDescription` is informational only (§2.1) and not compared.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ops.compare.events import Reply
from ops.compare.normalise import UnorderedList, canonical, normalise_body

Kind = Literal["status", "header", "value", "only-legacy", "only-scorer", "order", "length"]
CONTRACT_HEADERS = ("content-type", "access-control-allow-origin", "access-control-allow-methods",
                    "access-control-allow-headers")
_MISSING = object()


@dataclass(frozen=True)
class Difference:
    """One difference: where (`$.score.stamps.Ens.score`), what kind, and each side's value (`None` if absent)."""

    path: str
    kind: Kind
    legacy: Any = None
    scorer: Any = None

    def text(self) -> str:
        if self.kind == "only-legacy":
            return f"{self.path}: only in legacy: {_show(self.legacy)}"
        if self.kind == "only-scorer":
            return f"{self.path}: only in scorer: {_show(self.scorer)}"
        if self.kind == "order":
            return f"{self.path}: key order legacy {_show(self.legacy)} ≠ scorer {_show(self.scorer)}"
        return f"{self.path}: legacy {_show(self.legacy)} ≠ scorer {_show(self.scorer)}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "legacy": self.legacy, "scorer": self.scorer,
                "text": self.text()}


def compare_replies(route_key: str, legacy: Reply, scorer: Reply) -> list[Difference]:
    """Every difference between two replies to the same request on `route_key`."""
    differences = []
    if legacy.status != scorer.status:
        differences.append(Difference("status", "status", legacy.status, scorer.status))
    for name in CONTRACT_HEADERS:
        left, right = legacy.headers.get(name), scorer.headers.get(name)
        if left != right:
            differences.append(Difference(f"header {name}", "header", left, right))
    left_body, right_body = _parse(legacy.body), _parse(scorer.body)
    if left_body is _MISSING or right_body is _MISSING:
        if legacy.body != scorer.body:
            differences.append(Difference("body", "value", legacy.body, scorer.body))
        return differences
    differences.extend(diff_values(normalise_body(route_key, left_body), normalise_body(route_key, right_body)))
    return differences


def diff_values(legacy: Any, scorer: Any, path: str = "$") -> list[Difference]:
    """Differences between two normalised JSON values; types count (`1` ≠ `1.0`, `true` ≠ `1`)."""
    if isinstance(legacy, UnorderedList) and isinstance(scorer, UnorderedList):
        return _diff_multiset(legacy, scorer, path)
    if isinstance(legacy, dict) and isinstance(scorer, dict):
        return _diff_objects(legacy, scorer, path)
    if isinstance(legacy, list) and isinstance(scorer, list) and type(legacy) is type(scorer):
        differences = [d for i, (a, b) in enumerate(zip(legacy, scorer, strict=False))
                       for d in diff_values(a, b, f"{path}[{i}]")]
        if len(legacy) != len(scorer):
            differences.append(Difference(f"{path}", "length", f"{len(legacy)} items", f"{len(scorer)} items"))
        return differences
    if type(legacy) is not type(scorer) or legacy != scorer:
        return [Difference(path, "value", legacy, scorer)]
    return []


def _diff_objects(legacy: Mapping[str, Any], scorer: Mapping[str, Any], path: str) -> list[Difference]:
    differences = [Difference(_child(path, k), "only-legacy", legacy[k], None) for k in legacy if k not in scorer]
    differences += [Difference(_child(path, k), "only-scorer", None, scorer[k]) for k in scorer if k not in legacy]
    for key in (k for k in legacy if k in scorer):
        differences.extend(diff_values(legacy[key], scorer[key], _child(path, key)))
    if not differences and list(legacy) != list(scorer):
        # Same members: only the order differs, and normalise kept it only where the contract fixes it.
        differences.append(Difference(path, "order", list(legacy), list(scorer)))
    return differences


def _diff_multiset(legacy: list[Any], scorer: list[Any], path: str) -> list[Difference]:
    left, right = Counter(canonical(v) for v in legacy), Counter(canonical(v) for v in scorer)
    only_left, only_right = left - right, right - left
    return [Difference(f"{path}[]", "only-legacy", v, None) for v in legacy if _take(only_left, canonical(v))] + \
        [Difference(f"{path}[]", "only-scorer", None, v) for v in scorer if _take(only_right, canonical(v))]


def _take(counter: Counter[str], key: str) -> bool:
    if counter[key] > 0:
        counter[key] -= 1
        return True
    return False


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if key.replace("_", "").replace("-", "").isalnum() else f"{path}[{json.dumps(key)}]"


def _parse(body: str) -> Any:
    if not body.strip():
        return None
    try:
        return json.loads(body)
    except ValueError:
        return _MISSING


def _show(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"
