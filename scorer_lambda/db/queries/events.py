"""Rows of ``registry_event``: LDP (dedup) and SCU (score update) events (scoring contract §6.5, §7.7)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..pending import Executor, Pending, nothing, run


def insert_events(conn: Executor, *, action: str, address: str, community_id: int,
                  payloads: Sequence[dict[str, Any]], created_at: datetime) -> Pending[None]:
    """One row per payload, in order (sent as one jsonb array: a jsonb[] parameter costs a regex pass per item)."""
    return run(conn, """
        INSERT INTO registry_event (action, address, community_id, data, created_at)
        SELECT %(action)s, %(address)s, %(community_id)s, t.data, %(created_at)s
          FROM jsonb_array_elements(%(payloads)s) WITH ORDINALITY AS t(data, n) ORDER BY t.n""",
        {"action": action, "address": address, "community_id": community_id,
         "payloads": Jsonb(list(payloads)), "created_at": created_at}, nothing)
