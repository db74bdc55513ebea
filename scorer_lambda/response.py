"""Response and its ALB serialisation (scoring contract §2.1, §2.3)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from http import HTTPStatus
from typing import Any

RESPONSE_HEADERS: dict[str, str] = {
    "Content-Type": "application/json",
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "*",
    "Access-Control-Allow-Headers": (
        "Accept,Accept-Encoding,Authorization,Content-Type,Dnt,Origin,User-Agent,X-Csrftoken,X-Requested-With,X-Api-Key"
    ),
}
JSON_ONLY_HEADERS: dict[str, str] = {"Content-Type": "application/json"}


def dump_json(body: Any) -> str:
    """Serialise a body the way the existing service's JSON renderer does."""
    return json.dumps(body)


@dataclass(frozen=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=lambda: dict(RESPONSE_HEADERS))
    # The exception an error response stands for, so the request log line can name it (production contract P7).
    cause: BaseException | None = field(default=None, compare=False, repr=False)

    @cached_property
    def body_text(self) -> str:  # serialised once, for the response and the analytics row
        return dump_json(self.body)

    def to_alb(self) -> dict[str, Any]:
        # The existing service answers every success with "200 OK", 201 included (§2.1).
        if self.status < 300:
            description = "200 OK"
        else:
            try:
                description = f"{self.status} {HTTPStatus(self.status).phrase}"
            except ValueError:
                description = str(self.status)
        return {
            "statusCode": self.status,
            "statusDescription": description,
            "headers": dict(self.headers),
            "body": self.body_text,
            "isBase64Encoded": False,
        }
