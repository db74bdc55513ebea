"""One JSON formatter with fixed keys for every log line of the Lambda (style guide 2.12)."""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Any

SERVICE = "passport-v2-scorer"
_FIXED = ("level", "location", "message", "timestamp", "service", "function_request_id", "cold_start",
          "xray_trace_id")
EMF_KEY = "_aws"  # the Embedded Metric Format block of the request line (metrics.py)
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RawJson(str):
    """A value that is already JSON text; the formatter writes it as it is (for the ``_aws`` block only)."""

    __slots__ = ()


class RequestContext:
    """Per-invocation keys added to every line (set by the handler, cleared after the request)."""

    function_request_id: str | None = None
    cold_start: bool = True
    xray_trace_id: str | None = None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "service": SERVICE,
            "function_request_id": RequestContext.function_request_id,
            "cold_start": RequestContext.cold_start,
            "xray_trace_id": RequestContext.xray_trace_id,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in _FIXED and (not key.startswith("_") or key == EMF_KEY):
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if isinstance(line.get(EMF_KEY), RawJson):  # spliced in first: the fixed keys always follow it
            aws = line.pop(EMF_KEY)
            return '{"' + EMF_KEY + '":' + aws + "," + json.dumps(line, default=str)[1:]
        return json.dumps(line, default=str)


def install_json_logging() -> None:
    """Route the root logger through the JSON formatter (Lambda already attached a handler; reuse it)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    root.setLevel(os.environ.get("LOG_LEVEL", "INFO").upper())
