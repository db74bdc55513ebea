"""Partner API keys: where the key is read, and how its secret is checked (scoring contract §4.1)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from ..db.queries.api_keys import ApiKeyRow
from ..request import AlbRequest
from ..settings import Settings

SHA256_PREFIX = "sha256$"
PBKDF2_PREFIX = "pbkdf2_sha256$"


@dataclass(frozen=True)
class KeyCheck:
    """Outcome of verifying a key: valid or not, and the fast hash to store when PBKDF2 was used."""

    is_valid: bool
    upgrade_sha256: str | None = None


def read_api_key(request: AlbRequest, settings: Settings) -> str | None:
    """``X-API-Key`` (any case), else the second token of ``Authorization``; demo aliases are replaced."""
    key = request.header("x-api-key") or None
    if key is None:
        authorization = request.header("authorization")
        tokens = authorization.split() if authorization else []
        key = tokens[1] if len(tokens) >= 2 else None
    if key is not None and settings.demo_api_key and key in settings.demo_api_key_aliases:
        key = settings.demo_api_key
    return key


def key_prefix(key: str) -> str:
    return key.split(".", 1)[0]


def sha256_hash(key: str) -> str:
    return SHA256_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def check_key(key: str, row: ApiKeyRow) -> KeyCheck:
    """Exactly one path is taken: stored fast hash, legacy sha256 ``hashed_key``, or PBKDF2 (+ upgrade)."""
    fast = sha256_hash(key)
    if row.hashed_key_sha256:
        return KeyCheck(_equal(row.hashed_key_sha256, fast))
    if row.hashed_key.startswith(SHA256_PREFIX):
        return KeyCheck(_equal(row.hashed_key, fast))
    if row.hashed_key.startswith(PBKDF2_PREFIX):
        is_valid = _check_pbkdf2(key, row.hashed_key)
        return KeyCheck(is_valid, fast if is_valid else None)
    return KeyCheck(False)


def _check_pbkdf2(key: str, encoded: str) -> bool:
    try:
        _, iterations, salt, expected = encoded.split("$", 3)
        rounds = int(iterations)
    except ValueError:
        return False
    if rounds <= 0:
        return False
    derived = hashlib.pbkdf2_hmac("sha256", key.encode("utf-8"), salt.encode("utf-8"), rounds, dklen=32)
    return _equal(base64.b64encode(derived).decode("ascii"), expected)


def _equal(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))
