"""The application: route an ALB event, map errors to the surface's body, log one line per request."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from .context import AppContext
from .errors import default_error, failure_fields, response_for_exception
from .logs import RequestContext
from .request import AlbRequest
from .response import Response
from .router import match, not_found

logger = logging.getLogger(__name__)


class App:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.perf_counter()
        request = AlbRequest(event)
        RequestContext.function_request_id = getattr(context, "aws_request_id", None)
        RequestContext.xray_trace_id = request.trace_id
        found = match(request)
        if found is None:
            response = not_found(request.path)
        else:
            route, params = found
            self.ctx.db.begin_request()
            try:
                response = route.handler(self.ctx, request, params)
            except Exception as exc:
                self.ctx.db.note_failure(exc)
                response = response_for_exception(route.surface, exc) or self._unexpected(route.surface, exc)
            finally:
                self.ctx.db.release()
        # Every 5xx names its cause on the request line (P7); 4xx are the client's and need no class.
        failure = failure_fields(response.cause) if response.status >= 500 else {}
        logger.log(logging.ERROR if response.status >= 500 else logging.INFO, "request",
                   extra={"route": found[0].key if found else None,
                          "surface": found[0].surface.value if found else None,
                          "method": request.method, "status": response.status,
                          "duration_ms": round((time.perf_counter() - started) * 1000, 3), **failure})
        RequestContext.cold_start = False
        return response.to_alb()

    @staticmethod
    def _unexpected(surface: Any, exc: Exception) -> Response:
        logger.error("unexpected failure", exc_info=exc)
        return default_error(surface, exc)
