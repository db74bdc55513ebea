"""The passport's scored stamps, ``registry_stamp`` (scoring contract §5.7)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg.types.json import Jsonb

from ...models import Candidate
from ..pending import Executor, Pending, nothing, run


def replace_stamps(conn: Executor, *, passport_id: int,
                   stamps: Sequence[Candidate]) -> list[Pending[None]]:
    """Delete the passport's rows, then insert the kept stamps in order."""
    pending = [run(conn, "DELETE FROM registry_stamp WHERE passport_id = %(p)s", {"p": passport_id}, nothing)]
    if stamps:
        pending.append(run(conn, """
            INSERT INTO registry_stamp (passport_id, provider, credential)
            SELECT %(p)s, t.provider, t.credential
              FROM jsonb_array_elements(%(stamps)s) WITH ORDINALITY AS e(item, n),
                   LATERAL (SELECT e.item ->> 0 AS provider, e.item -> 1 AS credential) t
             ORDER BY e.n""",
            {"p": passport_id, "stamps": Jsonb([[s.provider, s.credential] for s in stamps])}, nothing))
    return pending
