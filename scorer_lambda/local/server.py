"""A local HTTP front for the Lambda: each request becomes an ALB event for the same application."""

from __future__ import annotations

import base64
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scorer_lambda.app import App

MAX_BODY = 1024 * 1024  # the ALB limit for Lambda targets


def http_to_alb_event(method: str, target: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Build the event an ALB with single-value headers would send (scoring contract §2.1)."""
    parts = urlsplit(target)
    return {
        "httpMethod": method,
        "path": parts.path,
        "queryStringParameters": dict(parse_qsl(parts.query, keep_blank_values=True)),
        "headers": {name.lower(): value for name, value in headers.items()},
        "body": base64.b64encode(body).decode("ascii") if body else "",
        "isBase64Encoded": bool(body),
        "requestContext": {"elb": {"targetGroupArn": "local"}},
    }


def make_server(app: App, host: str, port: int) -> HTTPServer:
    """A single-threaded server: like one Lambda instance, one request at a time on one connection."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "scorer-lambda-local"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY:
                self.send_error(413, "request body larger than 1 MB")
                return
            body = self.rfile.read(length) if length else b""
            event = http_to_alb_event(self.command, self.path, dict(self.headers.items()), body)
            result = app.handle(event, None)
            payload = result["body"].encode("utf-8")
            self.send_response(result["statusCode"])
            for name, value in result["headers"].items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format: str, *args: Any) -> None:  # the app logs one JSON line per request
            return

    return HTTPServer((host, port), Handler)
