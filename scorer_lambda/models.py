"""Frozen data shapes shared by the database layer, the domain logic and the handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

SCORER_TYPES = frozenset({"WEIGHTED", "WEIGHTED_BINARY"})


@dataclass(frozen=True)
class CacheRow:
    """A live, non-revoked row of the stamp cache (§5.3)."""

    id: int
    provider: str
    stamp: Any
    updated_at: datetime
    # The stamp's JSON text as the database rendered it (canonical for jsonb): the memo key and didkit's input,
    # so a warm run never serialises a stamp again.
    document: str | None = None


@dataclass(frozen=True)
class Candidate:
    """One stamp per provider: the cache row's ``provider`` column and its credential object."""

    provider: str
    credential: Any
    document: str | None = field(default=None, compare=False, repr=False)
    # The cache row it was read from (id, updated_at): the scored stamp is copied from that row, as it was read.
    source: tuple[int, datetime] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ScorerConfig:
    """Scorer configuration loaded through ``account_community.scorer_id`` (§5.2)."""

    type: str | None
    weights: Any
    threshold: Decimal | None
    has_typed_row: bool

    @property
    def is_valid(self) -> bool:
        return self.type in SCORER_TYPES and self.has_typed_row and self.threshold is not None


@dataclass(frozen=True)
class Community:
    id: int
    scorer_id: int
    human_points_program: bool
    scorer: ScorerConfig
    # Whether the community has a customization; its weight overlay (§7.1) is read by the scoring run.
    has_customization: bool = False


@dataclass(frozen=True)
class Link:
    """A nullifier ownership row of ``registry_hashscorerlink``."""

    id: int
    hash: str
    address: str
    expires_at: datetime


@dataclass(frozen=True)
class CachedStamp:
    id: int
    address: str
    provider: str
    stamp: Any

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "address": self.address, "provider": self.provider, "stamp": self.stamp}
