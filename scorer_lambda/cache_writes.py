"""The cache write transaction of E2/E3/E4/E9, followed by the reads the response and the re-score need (§9)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from .db import tx
from .db.pending import Batch
from .db.queries import stamp_cache
from .domain.stamp_items import NewStamp
from .errors import DatabaseFailure
from .models import CachedStamp, CacheRow


@dataclass(frozen=True)
class CacheWrite:
    """What to change: soft-delete the live rows of ``delete_providers``, then insert ``stamps``."""

    address: str
    delete_providers: Sequence[str]
    stamps: Sequence[NewStamp]
    delete_type_1_only: bool
    source_app: int | None = None
    source_scorer_id: int | None = None


@dataclass(frozen=True)
class CacheState:
    deleted_ids: list[int]
    stamp_list: list[CachedStamp]
    rows: list[CacheRow]


def write_cache(conn: psycopg.Connection[Any], change: CacheWrite, *, now: datetime,
                type_1_list: bool = True) -> CacheState:
    """One round trip: the write transaction (serialised per address), its commit, then the stamp list and the
    candidate rows of the scoring run that follows."""
    try:
        with Batch(conn) as batch:
            tx.begin(batch)
            tx.bound_lock_waits(batch)
            stamp_cache.lock_address(batch, address=change.address)
            deleted = (stamp_cache.soft_delete_stamps(batch, address=change.address,
                                                      providers=change.delete_providers, now=now,
                                                      type_1_only=change.delete_type_1_only)
                       if change.delete_providers else None)
            if change.stamps:
                stamp_cache.insert_stamps(batch, address=change.address, stamps=change.stamps, now=now,
                                          source_app=change.source_app, source_scorer_id=change.source_scorer_id)
            tx.commit(batch)
            stamp_list = stamp_cache.load_stamp_list(batch, address=change.address, type_1_only=type_1_list)
            rows = stamp_cache.load_cache_rows(batch, address=change.address)
    except psycopg.Error as exc:
        raise DatabaseFailure(exc) from exc
    finally:
        tx.ensure_idle(conn)
    return CacheState(deleted.result() if deleted else [], stamp_list.result(), rows.result())
