"""AlbRequest: a read-only view of the ALB event; nothing below the handler touches the raw dict (§2.1)."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from functools import cached_property
from typing import Any

_MASKED_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})


class InvalidBody(ValueError):
    """The request body is not valid JSON (or not valid base64/UTF-8, or beyond the parser's limits)."""


class AlbRequest:
    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event
        raw_headers = event.get("headers") or {}
        self.headers: dict[str, str] = {str(k).lower(): str(v) for k, v in raw_headers.items()}
        self.method: str = str(event.get("httpMethod") or "GET").upper()
        self.path: str = str(event.get("path") or "/")
        self.query: dict[str, str] = dict(event.get("queryStringParameters") or {})

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def raw_headers(self) -> dict[str, Any]:
        return dict(self._event.get("headers") or {})

    @cached_property
    def body_text(self) -> str:
        body = self._event.get("body")
        if not body:
            return ""
        if self._event.get("isBase64Encoded"):
            try:
                return base64.b64decode(body).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                raise InvalidBody("body is not valid base64 UTF-8") from None
        return str(body)

    @cached_property
    def json_body(self) -> Any:
        """The parsed JSON body; a missing, null or empty body parses as ``{}``."""
        text = self.body_text
        if not text:
            return {}
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            # Besides malformed JSON: nesting deep enough to exhaust the parser, and integer literals beyond
            # Python's int-string limit (ValueError). Both are the client's mistake, never a 500.
            raise InvalidBody("body is not valid JSON") from None

    @property
    def trace_id(self) -> str | None:
        return self.headers.get("x-amzn-trace-id")

    def masked_headers(self) -> dict[str, Any]:
        """Headers as delivered, with credentials replaced by ``***`` (analytics and logs)."""
        return {k: ("***" if str(k).lower() in _MASKED_HEADERS else v) for k, v in self.raw_headers.items()}

    def __repr__(self) -> str:
        return f"AlbRequest({self.method} {self.path}, headers={self.masked_headers()!r})"
