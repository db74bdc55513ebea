"""The override header (production contract P11.1): a request header that sends a shared endpoint's request to one
side on purpose, whatever the weights say. Pure: the typed value and its parser from the raw stack config.

Stack config `scorerOverrideHeader`: absent or `true` → the default below; `false` → no override rules; an object
`{"name", "scorer", "legacy"}` → that header and those two values.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

OVERRIDE_HEADER_KEY = "scorerOverrideHeader"
Side = Literal["scorer", "legacy"]
SIDES: tuple[Side, ...] = ("scorer", "legacy")

# An ALB http-header condition: the name is an RFC 7230 token of at most 40 characters without wildcards; a value is
# at most 128 characters and would allow `*`/`?`, which we refuse so that a value means exactly one string.
_NAME = re.compile(r"^[A-Za-z0-9!#$%&'+.^_`|~-]{1,40}$")
_VALUE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
# The host header has its own condition type; these others are set or rewritten by the load balancer itself.
_RESERVED_NAMES = frozenset({"host", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"})


@dataclass(frozen=True)
class OverrideHeader:
    """Header name and the value that selects each side; ALB compares both case-insensitively."""

    name: str = "X-Scorer-Target"
    scorer: str = "scorer"
    legacy: str = "legacy"

    def value_for(self, side: Side) -> str:
        return self.scorer if side == "scorer" else self.legacy


DEFAULT_OVERRIDE_HEADER = OverrideHeader()


def parse_override_header(raw: str | None, stack: str) -> OverrideHeader | None:
    """Parse `scorerOverrideHeader` (raw config text); raise `ValueError` naming the key, stack and value."""
    if raw is None:
        return DEFAULT_OVERRIDE_HEADER
    where = f"{OVERRIDE_HEADER_KEY} for stack '{stack}'"
    try:
        decoded = json.loads(raw)
    except ValueError:
        decoded = None
    if decoded is True:
        return DEFAULT_OVERRIDE_HEADER
    if decoded is False:
        return None
    if not isinstance(decoded, dict) or set(decoded) != {"name", "scorer", "legacy"}:
        raise ValueError(f"{where} must be false or an object with exactly the keys name, scorer and legacy, "
                         f"got {raw!r}")
    name, scorer, legacy = decoded["name"], decoded["scorer"], decoded["legacy"]
    if not isinstance(name, str) or not _NAME.match(name) or name.lower() in _RESERVED_NAMES:
        raise ValueError(f"{where}: name must be a header name of 1-40 token characters other than "
                         f"{', '.join(sorted(_RESERVED_NAMES))}, got {name!r}")
    for side, value in (("scorer", scorer), ("legacy", legacy)):
        if not isinstance(value, str) or not _VALUE.match(value):
            raise ValueError(f"{where}: {side} must be 1-128 letters, digits, '.', '_', '~' or '-' (no wildcards), "
                             f"got {value!r}")
    if scorer.lower() == legacy.lower():
        raise ValueError(f"{where}: scorer and legacy must differ (the load balancer ignores case), got {scorer!r} "
                         f"and {legacy!r}")
    return OverrideHeader(name=name, scorer=scorer, legacy=legacy)
