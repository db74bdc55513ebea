"""LIFO de-duplication planning: one attempt over the links read in this transaction (scoring contract §6)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..models import Candidate, Link


def nullifiers_of(credential: dict[str, Any], multi_nullifier: bool) -> list[str]:
    """N(stamp) of §6.2: the legacy ``hash`` wins; without the flag only ``v0`` nullifiers take part."""
    subject = credential["credentialSubject"]
    values = [subject["hash"]] if "hash" in subject else list(subject["nullifiers"])
    if multi_nullifier:
        return values
    return [value for value in values if isinstance(value, str) and value.startswith("v0")]


def expiry_of(candidate: Candidate) -> datetime:
    return datetime.fromisoformat(candidate.credential["expirationDate"])


@dataclass(frozen=True)
class LinkWrite:
    """A planned link row: an insert when ``link_id`` is None, else a conditional update of that row."""

    hash: str
    address: str
    expires_at: datetime
    link_id: int | None = None


@dataclass(frozen=True)
class LdpEvent:
    provider: Any
    nullifiers: tuple[str, ...]


@dataclass(frozen=True)
class DedupPlan:
    kept: tuple[Candidate, ...]
    # credentialSubject.provider -> deduplicated stamp; insertion order is the order of first clash.
    clashing: dict[Any, Candidate] = field(default_factory=dict)
    own_inserts: tuple[LinkWrite, ...] = ()
    own_updates: tuple[LinkWrite, ...] = ()
    backfills: tuple[LinkWrite, ...] = ()
    ldp_events: tuple[LdpEvent, ...] = ()

    @property
    def own_hashes(self) -> list[str]:
        return [write.hash for write in (*self.own_inserts, *self.own_updates)]


def all_nullifiers(stamps: Iterable[Candidate], multi_nullifier: bool) -> list[str]:
    """H of §6.3: the nullifiers of every valid stamp (duplicates removed, order kept)."""
    seen: dict[str, None] = {}
    for stamp in stamps:
        for value in nullifiers_of(stamp.credential, multi_nullifier):
            seen.setdefault(value, None)
    return list(seen)


def plan_dedup(stamps: Sequence[Candidate], links: Iterable[Link], *, address: str, now: datetime,
               multi_nullifier: bool) -> DedupPlan:
    """Classify the links and walk the valid stamps in order (§6.3); writes are sorted by hash (§6.4)."""
    by_hash = {link.hash: link for link in links}
    kept: list[Candidate] = []
    clashing: dict[Any, Candidate] = {}
    planned: dict[str, tuple[str, LinkWrite]] = {}  # hash -> (kind, write); the first plan wins

    def plan(kind: str, write: LinkWrite) -> None:
        planned.setdefault(write.hash, (kind, write))

    for stamp in stamps:
        values = nullifiers_of(stamp.credential, multi_nullifier)
        clash = next((by_hash[v] for v in values if v in by_hash and _is_clashing(by_hash[v], address, now)), None)
        if clash is None:
            kept.append(stamp)
            expires = expiry_of(stamp)
            for value in values:
                link = by_hash.get(value)
                if link is None:
                    plan("insert", LinkWrite(value, address, expires))
                else:  # own link (refresh expiry) or forfeited link (reclaim)
                    plan("update", LinkWrite(value, address, expires, link.id))
            continue
        clashing[stamp.credential["credentialSubject"]["provider"]] = stamp
        for value in values:
            if value not in by_hash:
                plan("backfill", LinkWrite(value, clash.address, clash.expires_at))

    ordered = sorted(planned.values(), key=lambda item: item[1].hash)
    return DedupPlan(
        kept=tuple(kept),
        clashing=clashing,
        own_inserts=tuple(write for kind, write in ordered if kind == "insert"),
        own_updates=tuple(write for kind, write in ordered if kind == "update"),
        backfills=tuple(write for kind, write in ordered if kind == "backfill"),
        ldp_events=tuple(
            LdpEvent(provider, tuple(nullifiers_of(stamp.credential, multi_nullifier)))
            for provider, stamp in clashing.items()
        ),
    )


def _is_clashing(link: Link, address: str, now: datetime) -> bool:
    return link.address != address and link.expires_at > now
