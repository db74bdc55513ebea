"""The route table E1–E11: method + path to handler and surface (scoring contract §1, §2.1)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .context import AppContext
from .errors import NOT_FOUND, Surface, error_response
from .request import AlbRequest
from .response import Response

Handler = Callable[[AppContext, AlbRequest, dict[str, str]], Response]


@dataclass(frozen=True)
class Route:
    key: str
    method: str
    pattern: re.Pattern[str]
    surface: Surface
    handler: Handler


def _compile(template: str, trailing_slash: bool = False) -> re.Pattern[str]:
    """``{name}`` matches one path segment; E9/E11 tolerate one trailing slash."""
    body = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(body + ("/?" if trailing_slash else ""))


def _lazy(module: str, function: str) -> Handler:
    """Import a surface's module on first use: a cold start pays only for the surface it serves."""

    def call(ctx: AppContext, request: AlbRequest, params: dict[str, str]) -> Response:
        from importlib import import_module

        return getattr(import_module(f"scorer_lambda.api.{module}"), function)(ctx, request, params)

    call.__name__ = f"{module}.{function}"
    return call


ROUTES: tuple[Route, ...] = (
    Route("E1", "GET", _compile("/v2/stamps/{scorer_id}/score/{address}"), Surface.V2, _lazy("v2", "get_score")),
    Route("E2", "POST", _compile("/ceramic-cache/stamps/bulk"), Surface.CERAMIC,
          _lazy("ceramic_cache", "add_stamps")),
    Route("E3", "PATCH", _compile("/ceramic-cache/stamps/bulk"), Surface.CERAMIC,
          _lazy("ceramic_cache", "patch_stamps")),
    Route("E4", "DELETE", _compile("/ceramic-cache/stamps/bulk"), Surface.CERAMIC,
          _lazy("ceramic_cache", "delete_stamps")),
    Route("E5", "POST", _compile("/ceramic-cache/score/{address}"), Surface.CERAMIC,
          _lazy("ceramic_cache", "rescore")),
    Route("E6", "GET", _compile("/ceramic-cache/score/{address}"), Surface.CERAMIC,
          _lazy("ceramic_cache", "get_score")),
    Route("E7", "GET", _compile("/ceramic-cache/weights"), Surface.CERAMIC, _lazy("ceramic_cache", "get_weights")),
    Route("E8", "GET", _compile("/ceramic-cache/stamp"), Surface.CERAMIC, _lazy("ceramic_cache", "get_stamps")),
    Route("E9", "POST", _compile("/internal/embed/stamps/{address}", trailing_slash=True), Surface.EMBED,
          _lazy("embed", "add_stamps")),
    Route("E10", "GET", _compile("/internal/embed/validate-api-key"), Surface.EMBED,
          _lazy("embed", "validate_api_key")),
    Route("E11", "GET", _compile("/internal/embed/score/{scorer_id}/{address}", trailing_slash=True), Surface.EMBED,
          _lazy("embed", "get_score")),
)


def match(request: AlbRequest) -> tuple[Route, dict[str, str]] | None:
    for route in ROUTES:
        if route.method == request.method:
            found = route.pattern.fullmatch(request.path)
            if found:
                return route, found.groupdict()
    return None


def surface_of_path(path: str) -> Surface:
    """The surface whose error shape an unmatched path gets: ``{"detail"}`` under /internal/."""
    return Surface.EMBED if path.startswith("/internal/") else Surface.V2


def not_found(path: str) -> Response:
    return error_response(surface_of_path(path), 404, NOT_FOUND)
