"""P8: the local HTTP server over real sockets — concurrency, socket timeout, Content-Length framing."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from scorer_lambda.app import App
from scorer_lambda.context import AppContext
from scorer_lambda.db.connection import Database
from scorer_lambda.local.demo import DemoSeed, seed_demo
from scorer_lambda.local.server import MAX_BODY, SOCKET_TIMEOUT_SECONDS, LocalHandler, make_server
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.settings import parse_settings

from ..harness import TEST_SECRET_KEY, bearer, hs256_token

WEIGHTS = {"Ens": 0.208, "Github": "1.5", "Google": 0.525, "Discord": 0.516}
HOLD = "x-test-hold"  # a request with this header waits inside the app until the test opens the gate


class _GatedApp(App):
    def __init__(self, ctx: AppContext, gate: threading.Event) -> None:
        super().__init__(ctx)
        self._gate = gate

    def handle(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        if HOLD in event["headers"]:
            assert self._gate.wait(10), "the test never opened the gate"
        return super().handle(event, context)


@dataclass
class Served:
    port: int
    demo: DemoSeed
    gate: threading.Event
    apps: list[tuple[int, App]] = field(default_factory=list)  # (thread id, App) for every App the factory built

    def get(self, path: str, headers: Mapping[str, str] | None = None, timeout: float = 5) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path, headers=dict(headers or {}))
            reply = conn.getresponse()
            return reply.status, json.loads(reply.read())
        finally:
            conn.close()

    def score(self, address: str, **headers: str) -> tuple[int, Any]:
        return self.get(f"/v2/stamps/{self.demo.community_id}/score/{address}",
                        {"X-API-Key": self.demo.api_key, **headers})


@pytest.fixture
def served(db: psycopg.Connection[Any], db_url: str, signer: StampSigner) -> Iterator[Served]:
    demo = seed_demo(db, signer, now=datetime.now(UTC), pbkdf2_iterations=1000)
    settings = parse_settings({"DATABASE_URL": db_url, "SECRET_KEY": TEST_SECRET_KEY,
                               "TRUSTED_IAM_ISSUERS": json.dumps(list(demo.trusted_issuers)),
                               "CERAMIC_CACHE_SCORER_ID": str(demo.community_id)})
    gate = threading.Event()
    apps: list[tuple[int, App]] = []

    def factory() -> App:
        app = _GatedApp(AppContext(settings=settings, db=Database(db_url)), gate)
        apps.append((threading.get_ident(), app))
        return app

    server = make_server(factory, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Served(server.server_address[1], demo, gate, apps)
    finally:
        gate.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def _raw(port: int, data: bytes, timeout: float = 2) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the reply until the server closes the connection (a timeout fails the test)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def test_an_idle_client_does_not_block_another(served: Served) -> None:
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as idle:
        idle.sendall(b"GET /ceramic-cache/wei")  # half a request line, then silence
        started = time.monotonic()
        assert served.get("/ceramic-cache/weights", timeout=5) == (200, WEIGHTS)
        status, body = served.score(served.demo.address_a)
        assert (status, body["score"], body["passing_score"]) == (200, "1.24900", True)
        assert time.monotonic() - started < 5
        # Checked while the idle client is still connected: once it hangs up, its half request is answered.
        assert len(served.apps) == 2, "the idle connection built no App (and opened no database connection)"


def test_a_slow_request_does_not_block_a_concurrent_one_and_each_thread_has_its_own_app(served: Served) -> None:
    a, b = served.demo.address_a, served.demo.address_b
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(served.score, b, **{HOLD: "1"})  # B waits inside the app ...
        status, body = served.score(a)  # ... while A is scored: the worked example (§7.8)
        assert (status, body["address"], body["score"], body["passing_score"]) == (200, a, "1.24900", True)
        assert sorted(body["stamps"]) == ["Discord", "Ens", "Google"]
        assert not held.done()
        served.gate.set()
        status, body = held.result(timeout=10)
    # B after A: its Discord stamp is a duplicate of A's (the B_BODY of the V2 score tests)
    assert (status, body["address"], body["score"], body["passing_score"]) == (200, b, "1.50000", True)
    assert body["stamps"]["Discord"]["dedup"] is True and body["stamps"]["Github"]["score"] == "1.50000"
    threads, apps = {ident for ident, _ in served.apps}, {id(app) for _, app in served.apps}
    assert len(served.apps) == len(threads) == len(apps) == 2
    assert threading.get_ident() not in threads


def test_each_thread_closes_its_database_connection_when_its_client_leaves(served: Served,
                                                                            db: psycopg.Connection[Any]) -> None:
    assert served.get("/ceramic-cache/weights") == (200, WEIGHTS)
    assert len(served.apps) == 1
    others = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    deadline = time.monotonic() + 5  # the thread closes it just after sending the reply
    while (row := db.execute(others).fetchone()) != (0,) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert row == (0,)


@pytest.mark.parametrize(("head", "status"), [
    ("POST /ceramic-cache/stamps/bulk HTTP/1.1\r\nContent-Length: abc\r\n", 400),
    ("POST /ceramic-cache/stamps/bulk HTTP/1.1\r\nContent-Length: -5\r\n", 400),
    ("POST /ceramic-cache/stamps/bulk HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n", 400),
    ("POST /ceramic-cache/stamps/bulk HTTP/1.1\r\nTransfer-Encoding: chunked\r\n", 411),
    ("POST /ceramic-cache/stamps/bulk HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", 400),
    (f"POST /ceramic-cache/stamps/bulk HTTP/1.1\r\nContent-Length: {2 * MAX_BODY}\r\n", 413),
    ("OPTIONS / HTTP/1.1\r\n", 501),  # http.server's own refusal, in JSON too
], ids=["non-numeric", "negative", "two-lengths", "chunked", "chunked-and-length", "2MiB", "unsupported-method"])
def test_bad_framing_is_refused_in_json_without_reading_the_body(served: Served, head: str, status: int) -> None:
    started = time.monotonic()
    # Only the headers are sent: the reply must come (and the connection close) without waiting for any body.
    got, headers, body = _raw(served.port, f"{head}Host: localhost\r\n\r\n".encode("ascii"), timeout=2)
    assert time.monotonic() - started < 2
    assert got == status
    assert (headers["content-type"], headers["connection"]) == ("application/json", "close")
    assert int(headers["content-length"]) == len(body)
    assert set(json.loads(body)) == {"error"}
    assert served.apps == [], "the application was never called"


def test_post_without_content_length_or_body_reaches_the_app(served: Served) -> None:
    address = served.demo.address_a
    status, _, body = _raw(served.port, f"POST /ceramic-cache/score/{address} HTTP/1.0\r\n"
                                        "Host: localhost\r\n\r\n".encode("ascii"), timeout=5)
    assert (status, json.loads(body)) == (401, {"error": "Given token not valid for any token type"})
    assert len(served.apps) == 1


def test_a_body_with_content_length_reaches_the_app(served: Served) -> None:
    items = [{"provider": f"P{i}", "stamp": {"proof": {"proofValue": "0x"}}} for i in range(101)]
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=5)
    try:  # http.client sends a Content-Length for a bytes body
        conn.request("POST", "/ceramic-cache/stamps/bulk", body=json.dumps(items).encode("utf-8"),
                     headers=bearer(hs256_token("0x" + "c" * 40)))
        reply = conn.getresponse()
        assert (reply.status, json.loads(reply.read())) == (422, {"error": "You have submitted too many stamps."})
    finally:
        conn.close()


def test_the_handler_sets_a_socket_timeout_and_drops_an_idle_client(served: Served,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    assert LocalHandler.timeout == SOCKET_TIMEOUT_SECONDS == 30
    monkeypatch.setattr(LocalHandler, "timeout", 0.2)  # StreamRequestHandler.setup() puts it on each connection
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as idle:
        idle.sendall(b"GET /ceramic-cache/wei")
        started = time.monotonic()
        assert idle.recv(1024) == b"", "the server closes the connection of a client that stays silent"
        assert time.monotonic() - started < 3
    assert served.apps == []
