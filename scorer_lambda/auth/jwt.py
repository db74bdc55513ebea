"""JWT authentication of the ceramic-cache routes (scoring contract §4.5)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jwt as pyjwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ..errors import GENERIC_ERROR, INVALID_TOKEN, ApiError
from ..request import AlbRequest
from ..settings import Settings

SIWE_ISSUER = "passport-scorer"


@dataclass(frozen=True)
class JwtPrincipal:
    """The caller's address as carried by the token's DID (lower-cased, not yet validated)."""

    address: str


def read_token(request: AlbRequest) -> str:
    """The last piece of ``Authorization`` split on single spaces (``Bearer X``, ``Token X`` and ``X`` work)."""
    return (request.header("authorization") or "").split(" ")[-1]


def authenticate(request: AlbRequest, settings: Settings) -> JwtPrincipal:
    """Validate the token (RS256 SIWE first when configured, then HS256); 401 or 400 as §4.5 says."""
    claims = decode_token(read_token(request), settings)
    if claims is None:
        raise ApiError(401, INVALID_TOKEN)
    did = claims.get("did")
    if not isinstance(did, str):
        raise ApiError(400, GENERIC_ERROR)
    return JwtPrincipal(did.split(":")[-1].lower())


def decode_token(token: str, settings: Settings) -> dict[str, Any] | None:
    """The token's claims, or None when it is not valid for either token type (§4.5)."""
    if not token:
        return None
    if settings.siwe_jwt_public_key:
        claims = _rs256_claims(token, settings.siwe_jwt_public_key)
        if claims is not None:
            return claims
    if settings.secret_key:  # an empty key accepts nothing (fail closed, §12 #14)
        claims = _hs256_claims(token, settings.secret_key)
        if claims is not None and claims.get("token_type") == "access":
            return claims
    return None


# A token that cannot be parsed for any reason is invalid, not a server error (production contract P4): besides
# PyJWTError, a header or payload nested deeply enough raises RecursionError, bad UTF-8 a UnicodeDecodeError.

def _rs256_claims(token: str, pem: str) -> dict[str, Any] | None:
    try:
        return pyjwt.decode(token, _public_key(pem), algorithms=["RS256"], issuer=SIWE_ISSUER,
                            options={"require": ["iss"]})
    except Exception:
        return None


def _hs256_claims(token: str, secret: str) -> dict[str, Any] | None:
    try:
        return pyjwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp", "jti"]})
    except Exception:
        return None


@lru_cache(maxsize=2)
def _public_key(pem: str) -> Any:
    """Parse the PEM once per process, not once per request."""
    return load_pem_public_key(pem.encode("utf-8"))
