"""A loopback TCP proxy in front of PostgreSQL's unix socket that counts the client's waits for the server.

Every round trip of the scorer ends in a Sync (pipeline) or a simple query, and the server answers each of those
with exactly one ReadyForQuery message: counting ReadyForQuery messages in the server's stream counts round trips,
however many statements each one carried.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading
from pathlib import Path


class _ReadyForQueryCounter:
    """Frames the server's message stream (type byte + int32 length) across arbitrary chunk boundaries."""

    def __init__(self) -> None:
        self._buffer = b""
        self.count = 0

    def feed(self, data: bytes) -> None:
        buffer = self._buffer + data
        offset = 0
        while len(buffer) - offset >= 5:
            kind = buffer[offset]
            length = struct.unpack_from("!I", buffer, offset + 1)[0]
            if len(buffer) - offset < 1 + length:
                break
            if kind == ord("Z"):
                self.count += 1
            offset += 1 + length
        self._buffer = buffer[offset:]


class RoundTripProxy:
    def __init__(self, socket_dir: str) -> None:
        sockets = [p for p in sorted(Path(socket_dir).glob(".s.PGSQL.*")) if not p.name.endswith(".lock")]
        if not sockets:
            raise RuntimeError(f"no PostgreSQL socket in {socket_dir}")
        self._target = str(sockets[0])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._counters: list[_ReadyForQueryCounter] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def round_trips(self) -> int:
        return sum(counter.count for counter in self._counters)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self._target)
            counter = _ReadyForQueryCounter()
            self._counters.append(counter)
            threading.Thread(target=self._pump, args=(client, upstream, counter), daemon=True).start()

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket, counter: _ReadyForQueryCounter) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in selector.select():
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is upstream:  # every server message, including startup's, has a type byte
                        counter.feed(data)
                    key.data.sendall(data)
        finally:
            client.close()
            upstream.close()

    def url(self, database: str = "postgres") -> str:
        # No SSL or GSS negotiation: their one-byte answers are the only untyped server messages.
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?sslmode=disable&gssencmode=disable"

    def close(self) -> None:
        self._stopped.set()
        self._listener.close()
