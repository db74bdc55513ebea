"""Helper processes of local runs and tests (Redis, PgBouncer): where their binary is, a free port, a clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

HOST = "127.0.0.1"


def named_binary(env_name: str) -> str | None:
    """The executable ``$env_name`` names, or None when it names none (which is how a test hides a binary)."""
    path = os.environ.get(env_name, "")
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def free_port() -> int:
    """A port free on the loopback address now (the caller retries if it is taken before it binds)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 5 s; a stopped (SIGSTOP) process is continued first so it can act on SIGTERM."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
