"""Progress of a comparison on stderr: a bar redrawn in place on a terminal, plain lines otherwise (logs, CI)."""

from __future__ import annotations

import threading
from typing import TextIO

from ops.compare.engine import RequestResult

BAR_WIDTH = 30
PLAIN_LINES = 10  # at most about this many lines when the output is not a terminal


class Progress:
    """Counts finished requests; thread-safe (the engine reports from its worker threads)."""

    def __init__(self, total: int, stream: TextIO, *, is_tty: bool | None = None) -> None:
        self.total, self.stream = total, stream
        self.is_tty = stream.isatty() if is_tty is None else is_tty
        self.done = self.different = self.errors = 0
        self._lock = threading.Lock()
        self._step = max(1, -(-total // PLAIN_LINES))

    def __call__(self, result: RequestResult) -> None:
        with self._lock:
            self.done += 1
            self.different += result.verdict == "different"
            self.errors += result.verdict == "error"
            if self.is_tty:
                filled = BAR_WIDTH * self.done // max(1, self.total)
                self.stream.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.line()}")
            elif self.done % self._step == 0 or self.done == self.total:
                self.stream.write(f"compare: {self.line()}\n")
            self.stream.flush()

    def line(self) -> str:
        return f"{self.done}/{self.total} requests, {self.different} different, {self.errors} with errors"

    def close(self) -> None:
        if self.is_tty and self.done:
            self.stream.write("\n")
            self.stream.flush()
