"""Candidate selection and credential checks of a scoring run (scoring contract §5.3, §5.4)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ..models import CacheRow, Candidate

# The fixed shape of a Passport IAM stamp (production contract P3, deliberate difference 21). didkit canonicalises
# the linked-data graph of some proof suites, which takes seconds to minutes for a small credential holding a few
# mutually linked blank nodes; a stamp outside this shape is dropped before it reaches the verifier.
MAX_CREDENTIAL_BYTES = 16 * 1024
MAX_NULLIFIERS = 32
PROOF_TYPE_BY_DID_METHOD: tuple[tuple[str, str], ...] = (
    ("did:ethr:", "EthereumEip712Signature2021"),
    ("did:key:", "Ed25519Signature2018"),
)
SUBJECT_KEYS = frozenset({"@context", "id", "provider", "hash", "nullifiers"})
_SUBJECT_STRINGS = ("id", "provider", "hash")
_UNCONSTRAINED_TOP_LEVEL = frozenset({"@context", "credentialSubject", "proof"})


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
    return [Candidate(provider, best[provider].stamp, best[provider].document,
                      (best[provider].id, best[provider].updated_at)) for provider in sorted(best)]


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


def has_iam_shape(credential: Any, document: str | None = None) -> bool:
    """P3: the credential has the IAM's fixed shape; anything else (or any surprise) means invalid.

    ``document`` is the credential's stored JSON text, when known: its compact form is never longer, so a short
    document settles the size rule without serialising the credential again.
    """
    try:
        return (isinstance(credential, dict) and _proof_matches_issuer(credential)
                and _is_iam_subject(credential["credentialSubject"]) and _top_level_is_strings(credential)
                and _within_size(credential, document))
    except Exception:  # a malformed credential is dropped, never a failure of the run
        return False


def _proof_matches_issuer(credential: dict[str, Any]) -> bool:
    """The suite is fixed by the issuer's DID method; issuers of any other method have no IAM suite."""
    issuer, proof = credential.get("issuer"), credential.get("proof")
    if not isinstance(issuer, str) or not isinstance(proof, dict):
        return False
    for prefix, proof_type in PROOF_TYPE_BY_DID_METHOD:
        if issuer.startswith(prefix):
            return proof.get("type") == proof_type
    return False


def _is_iam_subject(subject: Any) -> bool:
    """Only strings (and a short list of them) besides the subject's own ``@context``: no room for extra nodes."""
    if not isinstance(subject, dict) or not SUBJECT_KEYS.issuperset(subject):
        return False
    if not all(isinstance(subject[key], str) for key in _SUBJECT_STRINGS if key in subject):
        return False
    if "@context" in subject and not isinstance(subject["@context"], dict):
        return False
    if "nullifiers" in subject:
        nullifiers = subject["nullifiers"]
        return (isinstance(nullifiers, list) and len(nullifiers) <= MAX_NULLIFIERS
                and all(isinstance(item, str) for item in nullifiers))
    return True


def _top_level_is_strings(credential: dict[str, Any]) -> bool:
    return all(_is_string_or_strings(value) for key, value in credential.items()
               if key not in _UNCONSTRAINED_TOP_LEVEL)


def _is_string_or_strings(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(isinstance(item, str) for item in value))


def _within_size(credential: dict[str, Any], document: str | None) -> bool:
    if document is not None and len(document.encode("utf-8")) <= MAX_CREDENTIAL_BYTES:
        return True
    return _compact_size(credential) <= MAX_CREDENTIAL_BYTES


def _compact_size(credential: dict[str, Any]) -> int:
    """Bytes of the credential as stored: compact JSON, UTF-8."""
    return len(json.dumps(credential, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def stamps_to_verify(candidates: list[Candidate], address: str, trusted_issuers: frozenset[str],
                     now: datetime) -> list[Candidate]:
    """Candidates that must pass signature verification to count, in order.

    Untrusted, expired, off-shape (P3) or structurally invalid candidates are dropped silently; an expiry that
    cannot be evaluated raises (scoring failure, §5.6), so it is evaluated for every candidate first.
    """
    did = subject_did(address)
    selected: list[Candidate] = []
    for candidate in candidates:
        credential = candidate.credential
        trusted = is_trusted(credential, trusted_issuers)
        expired = is_expired(credential, now)
        if (trusted and not expired and has_iam_shape(credential, candidate.document)
                and has_valid_subject(credential, did)):
            selected.append(candidate)
    return selected
