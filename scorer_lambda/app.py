"""The application: route an ALB event, map errors to the surface's body, log one line per request.

The request line is also the request's metrics, in CloudWatch's Embedded Metric Format (production contract P10).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from .context import AppContext
from .errors import default_error, failure_fields, response_for_exception
from .logs import RequestContext
from .metrics import RequestMeasures, emf_fields
from .request import AlbRequest
from .response import Response
from .router import match, not_found

logger = logging.getLogger(__name__)
# The request line carries the metrics: it is written whatever LOG_LEVEL says (only logging.disable stops it).
logger.setLevel(logging.INFO)


class App:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        started = time.perf_counter()
        request = AlbRequest(event)
        RequestContext.function_request_id = getattr(context, "aws_request_id", None)
        RequestContext.xray_trace_id = request.trace_id
        db_meter = self.ctx.db.meter
        db_meter.reset()
        self.ctx.scoring = None
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
        route = found[0].key if found else None
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        measures = RequestMeasures(route=route, status=response.status, latency_ms=latency_ms,
                                   db_ms=round(db_meter.seconds * 1000, 3), db_round_trips=db_meter.round_trips,
                                   cold_start=RequestContext.cold_start, scoring=self.ctx.scoring)
        level = logging.ERROR if response.status >= 500 else logging.INFO
        if logger.isEnabledFor(level):
            emf = emf_fields(measures, namespace=self.ctx.settings.metrics_namespace,
                             timestamp_ms=int(time.time() * 1000))
            logger.log(level, "request", extra={"route": route, "surface": found[0].surface.value if found else None,
                                                "method": request.method, "status": response.status,
                                                "duration_ms": latency_ms, **failure, **emf})
        self.ctx.scoring = None
        RequestContext.cold_start = False
        return response.to_alb()

    @staticmethod
    def _unexpected(surface: Any, exc: Exception) -> Response:
        logger.error("unexpected failure", exc_info=exc)
        return default_error(surface, exc)
