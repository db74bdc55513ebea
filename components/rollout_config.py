"""Per-route percentages and extra shared routes (production contract P11.3, P11.4). Pure: parsers of the raw stack
config values and the check against the scorer's own route table.

`scorerPercentByRoute`: `{route-key: p}` overriding `scorerPercent` for single shared routes, each value validated
like `scorerPercent` (integer 0..100).

`extraSharedRoutes`: a list of weighted routes the inventory does not split, e.g.

    [{"key": "cc-score-get", "listener": "public", "priority": 1008, "path": "/ceramic-cache/score/*",
      "methods": ["GET"], "legacyTargetGroup": "l-cc-v1-score-GET-0"}]

(`hosts` optional). The legacy target group is looked up by name, never created; a route is accepted only when the
scorer's route table (`scorer_lambda/router.py`) serves its sample request for every method.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from components.inventory import ALB_KEYS, LEGACY_FUNCTIONS, ROUTES, SCORER_TARGET_GROUPS, AlbKey
from components.inventory import target_group_name_problem as _tg_problem

PERCENT_BY_ROUTE_KEY = "scorerPercentByRoute"
EXTRA_ROUTES_KEY = "extraSharedRoutes"
_ROUTE_KEY = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")
_METHOD = re.compile(r"^[A-Z]{1,10}$")
_HOST = re.compile(r"^[A-Za-z0-9.*?-]{1,128}$")
_EXTRA_FIELDS = {"key", "listener", "priority", "path", "methods", "hosts", "legacyTargetGroup"}
_REQUIRED_FIELDS = _EXTRA_FIELDS - {"hosts"}


@dataclass(frozen=True)
class ExtraRoute:
    """One `extraSharedRoutes` entry: a weighted rule `[legacy TG (looked up), scorer TG of its ALB]`."""

    key: str
    alb: AlbKey
    priority: int
    path: str
    methods: tuple[str, ...]
    hosts: tuple[str, ...]
    legacy_target_group: str


def percent_value(value: Any, where: str) -> int:
    """An integer 0..100 (JSON number or digit string, never a bool or a fraction); ValueError naming `where`."""
    text = str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else None
    if text is not None and re.fullmatch(r"[0-9]{1,3}", text) and int(text) <= 100:
        return int(text)
    raise ValueError(f"{where} must be an integer from 0 to 100, got {value!r}")


def parse_percent_by_route(raw: str | None, stack: str, route_keys: Collection[str]) -> dict[str, int]:
    """Parse `scorerPercentByRoute` (JSON object text); every problem is one line naming the route key and value."""
    if raw is None:
        return {}
    try:
        decoded = json.loads(raw)
    except (TypeError, ValueError):
        decoded = None
    if not isinstance(decoded, dict):
        raise ValueError(f"{PERCENT_BY_ROUTE_KEY} for stack '{stack}' must be an object {{route-key: percent}}, "
                         f"got {raw!r}")
    problems, out = [], {}
    for key, value in decoded.items():
        if key not in route_keys:
            problems.append(f"{PERCENT_BY_ROUTE_KEY}.{key} for stack '{stack}': unknown route key {key!r} "
                            f"(shared routes: {', '.join(route_keys)})")
            continue
        try:
            out[key] = percent_value(value, f"{PERCENT_BY_ROUTE_KEY}.{key} for stack '{stack}'")
        except ValueError as exc:
            problems.append(str(exc))
    if problems:
        raise ValueError("\n  ".join(problems))
    return out


def scorer_route_problem(path: str, methods: tuple[str, ...]) -> str | None:
    """Why the scorer does not serve a route (None if it does): each method's sample request (wildcards → "x", as
    the shadowing check builds it) must match a route of `scorer_lambda.router.ROUTES`."""
    from scorer_lambda.router import ROUTES as SCORER_ROUTES  # read-only; imported lazily (only extras need it)

    if not methods:
        return "methods must be listed: the scorer serves routes per method, a rule for any method would send it " \
               "methods it does not implement"
    sample = path.replace("*", "x").replace("?", "x")
    missing = [m for m in methods if not any(r.method == m and r.pattern.fullmatch(sample) for r in SCORER_ROUTES)]
    if missing:
        return (f"the scorer's route table (scorer_lambda/router.py) does not serve {'/'.join(missing)} {path} "
                f"(sample request {sample})")
    return None


def parse_extra_routes(raw: str | None, stack: str) -> tuple[ExtraRoute, ...]:
    """Parse and check `extraSharedRoutes` (JSON list text); ValueError listing every problem."""
    if raw is None:
        return ()
    try:
        decoded = json.loads(raw)
    except (TypeError, ValueError):
        decoded = None
    if not isinstance(decoded, list):
        raise ValueError(f"{EXTRA_ROUTES_KEY} for stack '{stack}' must be a list of objects, got {raw!r}")
    problems: list[str] = []
    routes: list[ExtraRoute] = []
    program_tgs = {f.tg_name for f in LEGACY_FUNCTIONS.values()} | set(SCORER_TARGET_GROUPS.values())
    taken = {r.key for r in ROUTES}
    for index, entry in enumerate(decoded):
        where = f"{EXTRA_ROUTES_KEY}[{index}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be an object, got {entry!r}")
            continue
        key = entry.get("key")
        where = f"{EXTRA_ROUTES_KEY}[{index}] ({key})" if isinstance(key, str) else where
        if set(entry) - _EXTRA_FIELDS or _REQUIRED_FIELDS - set(entry):
            problems.append(f"{where} needs the fields {', '.join(sorted(_REQUIRED_FIELDS))} (and optional hosts), "
                            f"got {', '.join(sorted(entry))}")
            continue
        own = _extra_problems(entry, taken, program_tgs)
        if not own:
            methods = tuple(entry["methods"])
            if (reason := scorer_route_problem(entry["path"], methods)) is not None:
                own.append(f"refused: {reason}")
        if own:
            problems.extend(f"{where}: {p}" for p in own)
            continue
        taken.add(key)
        routes.append(ExtraRoute(key, entry["listener"], entry["priority"], entry["path"], tuple(entry["methods"]),
                                 tuple(entry.get("hosts", ())), entry["legacyTargetGroup"]))
    if problems:
        raise ValueError(f"{EXTRA_ROUTES_KEY} for stack '{stack}':\n  " + "\n  ".join(problems))
    return tuple(routes)


def _extra_problems(entry: Mapping[str, Any], taken: Collection[str], program_tgs: Collection[str]) -> list[str]:
    """Shape problems of one entry (AWS limits and the shadowing check run later, on the whole plan)."""
    problems = []
    key, listener, priority = entry["key"], entry["listener"], entry["priority"]
    if not isinstance(key, str) or not _ROUTE_KEY.match(key):
        problems.append(f"key must be 1-41 lower-case letters, digits or '-', got {key!r}")
    elif key in taken:
        problems.append(f"key {key!r} is already a route of the inventory or of another entry")
    if listener not in ALB_KEYS:
        problems.append(f"listener must be one of {', '.join(ALB_KEYS)}, got {listener!r}")
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(f"priority must be an integer, got {priority!r}")
    if not isinstance(entry["path"], str) or not entry["path"].startswith("/"):
        problems.append(f"path must be a path pattern starting with '/', got {entry['path']!r}")
    methods = entry["methods"]
    if not isinstance(methods, list) or not methods or not all(isinstance(m, str) and _METHOD.match(m)
                                                               for m in methods):
        problems.append(f"methods must be a non-empty list of upper-case HTTP methods, got {methods!r}")
    hosts = entry.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) and _HOST.match(h) for h in hosts):
        problems.append(f"hosts must be a list of host patterns, got {hosts!r}")
    tg = entry["legacyTargetGroup"]
    if not isinstance(tg, str) or (tg_problem := _tg_problem(tg)):
        problems.append(f"legacyTargetGroup: {tg_problem if isinstance(tg, str) else repr(tg)}")
    elif tg in program_tgs:
        problems.append(f"legacyTargetGroup {tg!r} is a target group this program creates; name the existing "
                        "legacy target group of the route")
    return problems
