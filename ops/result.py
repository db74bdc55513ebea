"""What a command hands back to the CLI: JSON-able data, the same as text, and the exit code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ops.errors import EXIT_OK, AwsError


@dataclass(frozen=True)
class Result:
    data: dict[str, Any]
    text: str
    exit_code: int = EXIT_OK


class PartialFailure(AwsError):
    """An AWS error after some live changes were made; `partial` lists them and is printed before the error line."""

    def __init__(self, message: str, partial: Result) -> None:
        super().__init__(message)
        self.partial = partial
