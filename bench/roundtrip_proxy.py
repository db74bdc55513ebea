"""A loopback TCP proxy in front of PostgreSQL's unix socket that counts the client's waits for the server.

Every round trip of the scorer ends in a Sync (pipeline) or a simple query, and the server answers each of those
with exactly one ReadyForQuery message: counting ReadyForQuery messages in the server's stream counts round trips,
however many statements each one carried. The proxy also records the statement texts the client sends (simple
Query and Parse messages) by size: RDS Proxy pins a session for a statement text over 16 KB.
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


class _StatementTextSizes:
    """Frames the client's stream (an untyped startup message, then type byte + int32 length) and keeps the size
    in bytes of every statement text: a simple Query's ('Q') and a Parse's ('P') after its statement name."""

    def __init__(self) -> None:
        self._buffer = b""
        self._started = False
        self.sizes: list[tuple[str, int]] = []

    def feed(self, data: bytes) -> None:
        buffer = self._buffer + data
        offset = 0
        if not self._started:
            if len(buffer) < 4:
                self._buffer = buffer
                return
            length = struct.unpack_from("!I", buffer, 0)[0]
            if len(buffer) < length:
                self._buffer = buffer
                return
            offset, self._started = length, True
        while len(buffer) - offset >= 5:
            kind = buffer[offset]
            length = struct.unpack_from("!I", buffer, offset + 1)[0]
            if len(buffer) - offset < 1 + length:
                break
            body = buffer[offset + 5 : offset + 1 + length]
            if kind == ord("Q"):
                self.sizes.append(("Q", body.index(b"\0")))
            elif kind == ord("P"):
                name_end = body.index(b"\0")
                self.sizes.append(("P", body.index(b"\0", name_end + 1) - name_end - 1))
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
        self._texts: list[_StatementTextSizes] = []
        self._stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def round_trips(self) -> int:
        return sum(counter.count for counter in self._counters)

    @property
    def statement_texts(self) -> list[tuple[str, int]]:
        """(message type 'Q' or 'P', text size in bytes) of every statement text sent so far."""
        return [size for texts in self._texts for size in texts.sizes]

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self._target)
            counter, texts = _ReadyForQueryCounter(), _StatementTextSizes()
            self._counters.append(counter)
            self._texts.append(texts)
            threading.Thread(target=self._pump, args=(client, upstream, counter, texts), daemon=True).start()

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket, counter: _ReadyForQueryCounter,
              texts: _StatementTextSizes) -> None:
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
                    else:
                        texts.feed(data)
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
