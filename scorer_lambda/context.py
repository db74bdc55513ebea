"""What every endpoint handler gets: settings, the database, the signature verifier and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .db.connection import Database
from .settings import Settings
from .verify import SignatureVerifier


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    settings: Settings
    db: Database
    verifier: SignatureVerifier = field(default_factory=SignatureVerifier)
    clock: Callable[[], datetime] = utc_now
