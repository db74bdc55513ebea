"""The routes `ops compare` may send, and the write routes it refuses (production contract P11.2, scoring contract §1,
§9).

Only routes whose effects are the same whichever side runs first are comparable: E1, E6, E7, E8, E10 and E11 read, or
write only what either side would write anyway (a score row, an analytics row, a key-hash upgrade). The write routes
change the stamp cache, so the second side would see the first side's write.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from components.inventory import ROUTES, AlbKey

Auth = Literal["api_key", "jwt"]


@dataclass(frozen=True)
class CompareRoute:
    """One comparable route: method, path template (`{name}` = one segment), ALB, credential and query parameters.

    `shared_route` is the key of this program's weighted rule for it (override rules exist, so `--via-url` works);
    `legacy_function` is the legacy Lambda that serves it.
    """

    key: str
    method: str
    template: str
    alb: AlbKey
    auth: Auth | None
    path_params: tuple[str, ...] = ()
    query_params: tuple[str, ...] = ()  # all optional except E8's `address`, which the file syntax requires
    shared_route: str | None = None
    legacy_function: str = ""


def _legacy_of(route_key: str) -> str:
    function = next(r.legacy_function for r in ROUTES if r.key == route_key)
    assert function is not None
    return function


# E6, E7 and E8 are not split by this program's inventory; their legacy Lambdas belong to the legacy deployment and
# keep its names (override them with --legacy-function ROUTE=NAME).
COMPARE_ROUTES: dict[str, CompareRoute] = {r.key: r for r in (
    CompareRoute("E1", "GET", "/v2/stamps/{scorer_id}/score/{address}", "public", "api_key", ("scorer_id", "address"),
                 shared_route="v2-stamp-score", legacy_function=_legacy_of("v2-stamp-score")),
    CompareRoute("E6", "GET", "/ceramic-cache/score/{address}", "public", "jwt", ("address",),
                 ("alternate_scorer_id",), legacy_function="cc-v1-score-GET-0"),
    CompareRoute("E7", "GET", "/ceramic-cache/weights", "public", None, legacy_function="cc-weights-GET-0"),
    CompareRoute("E8", "GET", "/ceramic-cache/stamp", "public", None, (), ("address",),
                 legacy_function="cc-v1-st-GET-0"),
    CompareRoute("E10", "GET", "/internal/embed/validate-api-key", "internal", "api_key",
                 shared_route="embed-validate-key", legacy_function=_legacy_of("embed-validate-key")),
    CompareRoute("E11", "GET", "/internal/embed/score/{scorer_id}/{address}", "internal", None,
                 ("scorer_id", "address"), shared_route="embed-score", legacy_function=_legacy_of("embed-score")),
)}

WRITE_ROUTES: dict[str, str] = {
    "E2": "POST /ceramic-cache/stamps/bulk adds stamps to the cache",
    "E3": "PATCH /ceramic-cache/stamps/bulk replaces stamps in the cache",
    "E4": "DELETE /ceramic-cache/stamps/bulk deletes stamps from the cache",
    "E5": "POST /ceramic-cache/score/{address} re-scores on a client's write",
    "E9": "POST /internal/embed/stamps/{address} adds stamps to the cache",
}


def refusal(route_key: str) -> str:
    """Why a route cannot be compared, for the operator."""
    allowed = ", ".join(COMPARE_ROUTES)
    if route_key in WRITE_ROUTES:
        return (f"route {route_key} is a write route and is refused ({WRITE_ROUTES[route_key]}): sent to both sides "
                f"it would be applied twice and the second side would see the first side's write; compare sends only "
                f"{allowed}")
    return f"unknown route {route_key!r}: compare sends only {allowed}"
