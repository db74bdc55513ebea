"""A loopback TCP proxy in front of the test server's PostgreSQL socket that can make its connections go silent.

``silence()`` stops forwarding on every connection open at that moment while keeping their sockets open: to the
client the database simply stops answering, as when a network drops packets. Connections opened afterwards work.
"""

from __future__ import annotations

import selectors
import socket
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit


class SilentProxy:
    def __init__(self, db_url: str) -> None:
        parts = urlsplit(db_url)
        socket_dir = parse_qs(parts.query)["host"][0]
        sockets = [p for p in sorted(Path(socket_dir).glob(".s.PGSQL.*")) if not p.name.endswith(".lock")]
        self._target = str(sockets[0])
        self._database = parts.path.lstrip("/")
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._silenced: list[threading.Event] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        port = self._listener.getsockname()[1]
        return f"postgresql://postgres@127.0.0.1:{port}/{self._database}?sslmode=disable&gssencmode=disable"

    def silence(self) -> None:
        with self._lock:
            for event in self._silenced:
                event.set()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self._target)
            silenced = threading.Event()
            with self._lock:
                self._silenced.append(silenced)
                self._sockets.extend((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, silenced), daemon=True).start()

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket, silenced: threading.Event) -> None:
        selector = selectors.DefaultSelector()
        selector.register(client, selectors.EVENT_READ, upstream)
        selector.register(upstream, selectors.EVENT_READ, client)
        try:
            while not silenced.is_set():
                for key, _ in selector.select(timeout=0.05):
                    if silenced.is_set():
                        break
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
            silenced.wait()  # keep both sockets open and say nothing, for as long as the test lasts
        except OSError:
            return
