"""The passport's scored stamps, ``registry_stamp`` (scoring contract §5.7)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ...models import Candidate
from ..pending import Executor, Pending, nothing, run, scalar

# Each kept stamp is copied from the cache row it was read from, in the kept order (ids follow it): the statement
# carries ids, not stamps, so its text stays short whatever the count (RDS Proxy pins longer ones, and the server
# need not parse the stamps again), and the credential stored is the cached jsonb value itself. A row is copied only
# if it is still as it was read (same updated_at); the count returned tells whether all were.
_COPY_FROM_CACHE = """
WITH copied AS (
    INSERT INTO registry_stamp (passport_id, provider, credential)
    SELECT %(p)s, c.provider, c.stamp
      FROM unnest(%(ids)s::bigint[], %(updated)s::timestamptz[]) WITH ORDINALITY AS k(id, updated_at, n)
      JOIN ceramic_cache_ceramiccache c ON c.id = k.id AND c.updated_at = k.updated_at
     ORDER BY k.n
    RETURNING 1)
SELECT count(*) FROM copied
"""


def replace_stamps(conn: Executor, *, passport_id: int, stamps: Sequence[Candidate]) -> Pending[int] | None:
    """Delete the passport's rows, then copy the kept stamps from their cache rows in order; the result is how many
    were copied (fewer than ``stamps`` when a cache row changed since it was read), None when there were none."""
    run(conn, "DELETE FROM registry_stamp WHERE passport_id = %(p)s", {"p": passport_id}, nothing)
    if not stamps:
        return None
    sources = [_source(stamp) for stamp in stamps]
    return run(conn, _COPY_FROM_CACHE, {"p": passport_id, "ids": [row_id for row_id, _ in sources],
                                        "updated": [updated_at for _, updated_at in sources]}, scalar)


def _source(stamp: Candidate) -> tuple[int, datetime]:
    if stamp.source is None:
        raise ValueError(f"stamp {stamp.provider!r} was not read from the cache")
    return stamp.source
