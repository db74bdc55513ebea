"""JWT decoding: any token that cannot be parsed is simply invalid (scoring contract §4.5, production contract P4)."""

from __future__ import annotations

import base64
import json
import time
from functools import cache

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scorer_lambda.auth.jwt import decode_token
from scorer_lambda.settings import Settings, parse_settings

SECRET = "unit-test-secret"
DID = "did:pkh:eip155:1:0x" + "a" * 40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@cache
def settings(with_siwe: bool) -> Settings:
    env = {"SECRET_KEY": SECRET}
    if with_siwe:
        env["SIWE_JWT_PUBLIC_KEY"] = rsa_key().public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return parse_settings(env)


def hs256(**claims: object) -> str:
    now = int(time.time())
    return jwt.encode({"token_type": "access", "exp": now + 60, "iat": now, "jti": "j", "did": DID, **claims},
                      SECRET, algorithm="HS256")


def token(header: str | bytes, payload: str | bytes = b"{}", signature: str = "c2ln") -> str:
    """A token from raw segment bytes, whatever they hold."""
    parts = [part.encode() if isinstance(part, str) else part for part in (header, payload)]
    return ".".join([b64url(parts[0]), b64url(parts[1]), signature])


DEEP_HEADER = '{"a":' * 100_000 + "1" + "}" * 100_000
HS256_HEADER = '{"alg":"HS256","typ":"JWT"}'
GARBAGE = {
    "deep-header": token(DEEP_HEADER),
    "deep-payload": token(HS256_HEADER, DEEP_HEADER),
    "deep-array-header": token("[" * 100_000),
    "non-utf8-header": token(bytes([0xFF, 0xFE, 0xFD])),
    "non-utf8-payload": token(HS256_HEADER, bytes([0xC3, 0x28])),
    "header-list": token("[1,2]"),
    "header-string": token('"HS256"'),
    "header-alg-number": token('{"alg":5}'),
    "header-alg-object": token('{"alg":{"x":1}}'),
    "header-kid-list": token('{"alg":"HS256","kid":[1]}'),
    "header-huge-int": token('{"alg":"HS256","n":' + "9" * 5000 + "}"),
    "header-nan": token('{"alg":"HS256","n":NaN}'),
    "header-crit-string": token('{"alg":"HS256","crit":"x"}'),
    "payload-list": token(HS256_HEADER, "[1]"),
    "two-parts": "abc.def",
    "four-parts": "a.b.c.d",
    "dots-only": "..",
    "non-ascii": "é.é.é",
    "bad-base64": "!!!.???.***",
    "nul-bytes": "\x00.\x00.\x00",
}


@pytest.mark.parametrize("with_siwe", [False, True], ids=["hs256-only", "with-siwe-key"])
@pytest.mark.parametrize("case", list(GARBAGE))
def test_unparseable_tokens_are_invalid_not_errors(case: str, with_siwe: bool) -> None:
    assert decode_token(GARBAGE[case], settings(with_siwe)) is None


@pytest.mark.parametrize("with_siwe", [False, True], ids=["hs256-only", "with-siwe-key"])
def test_valid_tokens_still_decode(with_siwe: bool) -> None:
    claims = decode_token(hs256(), settings(with_siwe))
    assert claims is not None and claims["did"] == DID
    assert decode_token(hs256(token_type="refresh"), settings(with_siwe)) is None


def test_rs256_token_decodes_with_the_siwe_key_and_signed_garbage_is_refused() -> None:
    now = int(time.time())
    claims = {"did": DID, "iat": now, "exp": now + 60, "iss": "passport-scorer"}
    good = jwt.encode(claims, rsa_key(), algorithm="RS256")
    assert decode_token(good, settings(True)) == claims
    # Correctly signed, but the payload is not an object: still just invalid.
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    payload = b64url(b"[1]")
    signature = jwt.get_algorithm_by_name("RS256").sign(f"{header}.{payload}".encode(), rsa_key())
    assert decode_token(f"{header}.{payload}.{b64url(signature)}", settings(True)) is None
