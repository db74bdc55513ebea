"""Candidate selection and credential checks of a scoring run (scoring contract §5.3, §5.4)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..models import CacheRow, Candidate


def select_candidates(rows: Iterable[CacheRow]) -> list[Candidate]:
    """Per provider column keep the newest row (ties: smallest id); order by provider ascending."""
    best: dict[str, CacheRow] = {}
    for row in rows:
        current = best.get(row.provider)
        if (
            current is None
            or row.updated_at > current.updated_at
            or (row.updated_at == current.updated_at and row.id < current.id)
        ):
            best[row.provider] = row
    return [Candidate(provider, best[provider].stamp) for provider in sorted(best)]


def subject_did(address: str) -> str:
    return ("did:pkh:eip155:1:" + address).lower()


def is_trusted(credential: Any, trusted_issuers: frozenset[str]) -> bool:
    issuer = credential.get("issuer") if isinstance(credential, dict) else None
    return isinstance(issuer, str) and issuer in trusted_issuers


def is_expired(credential: Any, now: datetime) -> bool:
    """Evaluated for every candidate; exceptions propagate and fail the run with Python's own message."""
    return datetime.fromisoformat(credential["expirationDate"]) < now


def has_valid_subject(credential: dict[str, Any], did: str) -> bool:
    """The structural checks of §5.4 step 3, before the signature; any surprise means invalid."""
    try:
        subject = credential.get("credentialSubject")
        if not subject:
            return False
        if not (subject.get("hash") or subject.get("nullifiers")):
            return False
        subject_id = subject.get("id")
        if not subject_id or not subject.get("provider"):
            return False
        return subject_id.lower() == did
    except Exception:  # a malformed credential is dropped, never a failure of the run
        return False


def stamps_to_verify(candidates: list[Candidate], address: str, trusted_issuers: frozenset[str],
                     now: datetime) -> list[Candidate]:
    """Candidates that must pass signature verification to count, in order.

    Untrusted, expired or structurally invalid candidates are dropped silently; an expiry that cannot be
    evaluated raises (scoring failure, §5.6).
    """
    did = subject_did(address)
    selected: list[Candidate] = []
    for candidate in candidates:
        trusted = is_trusted(candidate.credential, trusted_issuers)
        expired = is_expired(candidate.credential, now)
        if trusted and not expired and has_valid_subject(candidate.credential, did):
            selected.append(candidate)
    return selected
