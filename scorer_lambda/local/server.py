"""A local HTTP front for the Lambda: each request becomes an ALB event for the same application.

Every connection is served on its own (daemon) thread, so one slow or idle client never blocks another. An ``App``
holds one database connection, one Redis connection (rate limiting) and a verifier with its own event loop, none
safe to share between threads: each thread builds its own App from the factory on its first request and closes its
connections when the client leaves.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from scorer_lambda.app import App

MAX_BODY = 1024 * 1024  # the ALB limit for Lambda targets
SOCKET_TIMEOUT_SECONDS = 30  # an idle or stalled client is dropped instead of holding its thread and connection

AppFactory = Callable[[], App]


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


class LocalServer(ThreadingHTTPServer):
    """One daemon thread per connection (ThreadingHTTPServer), each with its own App."""

    def __init__(self, address: tuple[str, int], app_factory: AppFactory) -> None:
        super().__init__(address, LocalHandler)
        self._app_factory = app_factory
        self._local = threading.local()

    def app(self) -> App:
        """The calling thread's App, built on first use (an idle client never opens a database connection)."""
        app: App | None = getattr(self._local, "app", None)
        if app is None:
            app = self._local.app = self._app_factory()
        return app

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            # The thread ends with its connection: close the App's database and Redis connections now, not at GC time.
            app: App | None = getattr(self._local, "app", None)
            if app is not None:
                app.ctx.db.close()
                if app.ctx.rate_limiter is not None:
                    app.ctx.rate_limiter.close()
                del self._local.app


class LocalHandler(BaseHTTPRequestHandler):
    server: LocalServer
    server_version = "scorer-lambda-local"
    timeout = SOCKET_TIMEOUT_SECONDS  # StreamRequestHandler.setup() sets it on the connection socket

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            return
        event = http_to_alb_event(self.command, self.path, dict(self.headers.items()), body)
        result = self.server.app().handle(event, None)
        payload = result["body"].encode("utf-8")
        self.send_response(result["statusCode"])
        for name, value in result["headers"].items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def _read_body(self) -> bytes | None:
        """The request body, or None once a framing error has been answered (the app is not called then)."""
        lengths = self.headers.get_all("content-length") or []
        if self.headers.get("transfer-encoding") is not None:
            # http.server cannot decode chunked bodies; with a Content-Length as well it is a smuggling pattern.
            self.send_error(400 if lengths else 411, "send the body with a Content-Length, not Transfer-Encoding")
            return None
        if not lengths:
            return b""  # no body at all: how `curl -X POST` without data arrives
        declared = lengths[0].strip()
        if len(lengths) > 1 or not (declared.isascii() and declared.isdigit()):  # also refuses "-5" and "1e3"
            self.send_error(400, "invalid Content-Length")
            return None
        length = int(declared)
        if length > MAX_BODY:
            self.send_error(413, "request body larger than 1 MiB")  # answered without reading it
            return None
        body = self.rfile.read(length)
        if len(body) < length:
            self.send_error(400, "request body shorter than its Content-Length")
            return None
        return body

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """A short JSON error instead of http.server's HTML page; also used by http.server's own refusals.

        The connection is always closed: an unread body must not be parsed as the next request.
        """
        payload = json.dumps({"error": message or self.responses.get(code, ("error",))[0]}).encode("utf-8")
        self.close_connection = True
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # the app logs one JSON line per request
        return


def make_server(app_factory: AppFactory, host: str, port: int) -> LocalServer:
    """A threaded server; ``app_factory`` is called once per connection thread for that thread's own App."""
    return LocalServer((host, port), app_factory)
