"""What every endpoint handler gets: settings, the database, the signature verifier, the clock, the rate limiter."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .db.connection import Database
from .metrics import ScoringMeasures
from .settings import Settings
from .verify import SignatureVerifier

if TYPE_CHECKING:
    from .rate_limiter import RateLimiter


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class AppContext:
    settings: Settings
    db: Database
    verifier: SignatureVerifier = field(default_factory=SignatureVerifier)
    clock: Callable[[], datetime] = utc_now
    # Built from the settings when not given, so that every way of building an application (Lambda cold start,
    # local server, tests, bench) limits exactly when RATELIMIT_ENABLE says so; None while rate limiting is off.
    rate_limiter: RateLimiter | None = None
    # The current request's scoring run, for its metrics (P10): set by the scoring step, cleared by the App at the
    # start of every request.
    scoring: ScoringMeasures | None = None

    def __post_init__(self) -> None:
        if self.rate_limiter is None and self.settings.ratelimit_enable:
            # Imported only now: with rate limiting off, the cold start loads nothing of it (no module, no Redis
            # client), so it costs nothing there.
            from .rate_limiter import RateLimiter

            self.rate_limiter = RateLimiter.from_settings(self.settings)
