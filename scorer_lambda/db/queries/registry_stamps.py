"""The passport's scored stamps, ``registry_stamp`` (scoring contract §5.7)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ...models import Candidate
from ..pending import Executor, Pending, nothing, run

# The stamps travel as one JSON array of [provider, credential] pairs, parsed by the server: one parameter whatever
# the count, and the ids follow the array's order.
_INSERT = """
INSERT INTO registry_stamp (passport_id, provider, credential)
SELECT %(p)s, e.item ->> 0, e.item -> 1
  FROM jsonb_array_elements(%(stamps)s::text::jsonb) WITH ORDINALITY AS e(item, n)
 ORDER BY e.n
"""


def replace_stamps(conn: Executor, *, passport_id: int,
                   stamps: Sequence[Candidate]) -> list[Pending[None]]:
    """Delete the passport's rows, then insert the kept stamps in order."""
    pending = [run(conn, "DELETE FROM registry_stamp WHERE passport_id = %(p)s", {"p": passport_id}, nothing)]
    if stamps:
        pending.append(run(conn, _INSERT, {"p": passport_id, "stamps": stamps_document(stamps)}, nothing))
    return pending


def stamps_document(stamps: Sequence[Candidate]) -> str:
    """The JSON text of the [provider, credential] pairs.

    A credential read from the cache is written as the database rendered it (its stored text), not serialised
    again from the parsed object: at 50 stamps that saves milliseconds. The jsonb value is the one a re-serialised
    object gives (jsonb compares numbers as numbers: a "1.10" that a float round trip prints as "1.1" is equal),
    except for a number with more significant digits than a float holds, which is kept exactly; IAM stamps carry
    strings and small integers only (production contract P3).
    """
    return "[" + ",".join(
        f"[{json.dumps(stamp.provider)},"
        f"{stamp.document if stamp.document is not None else json.dumps(stamp.credential)}]"
        for stamp in stamps) + "]"
