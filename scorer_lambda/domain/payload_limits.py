"""Values a parsed JSON payload may hold and still be stored (production contract P4, deliberate difference 22).

PostgreSQL's ``jsonb``/``text`` reject U+0000 and (as UTF-8) unpaired surrogates, and JSON has no spelling for
non-finite numbers; a payload holding any of them is the client's mistake (400), found before anything is written.
"""

from __future__ import annotations

import math
import re
from typing import Any

# U+0000, or a surrogate code point: json.loads joins a valid \uD83D\uDE00 pair into one character, so any
# surrogate left in a Python str is unpaired.
_UNSTORABLE_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def unstorable_value(payload: Any) -> str | None:
    """Why ``payload`` cannot be stored, or None when every string and number in it can.

    Iterative, not recursive: the depth of a payload is the client's choice.
    """
    pending: list[Any] = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE_CHARACTER.search(value):
                return "a string holds U+0000 or an unpaired surrogate"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return "a number is not finite"
        elif isinstance(value, dict):
            for key, item in value.items():
                pending.append(key)
                pending.append(item)
        elif isinstance(value, list):
            pending.extend(value)
    return None


def is_storable(payload: Any) -> bool:
    return unstorable_value(payload) is None
