"""Offline stamp issuing with didkit, for tests and local runs (scoring contract §11.4).

Everything here works without network access: ``did:ethr`` and ``did:key`` issuers resolve offline.

didkit facts that shape this module (checked against didkit 0.3.3):

* Its async functions must be *called* while an event loop is running, so each call is wrapped in a coroutine and
  driven by the one loop a :class:`StampSigner` owns.
* ``proof.created`` is chosen by didkit (the wall clock) unless the options carry ``"created"``; passing it pins the
  value, and with a fixed key, fixed dates and fixed inputs the issued credential is then identical on every run
  (EIP-712 signatures are deterministic ECDSA, Ed25519 signatures are deterministic by design). We pin it to the
  issuance date.
* Verification ignores a proof whose ``created`` lies in the future of the verifier's wall clock
  (error ``No applicable proof``), so a stamp whose issuance date is in the future would never verify; the issue
  functions refuse to pin such a date unless ``created`` is given explicitly.
* Dates are re-serialised when signing: fractions are shown with 0, 3, 6 or 9 digits (``.000Z`` becomes ``Z``,
  ``.1Z`` becomes ``.100Z``, ``.456000Z`` becomes ``.456Z``), offsets such as ``+02:00`` are kept in
  ``issuanceDate``/``expirationDate`` while ``proof.created`` is normalised to UTC ``Z``. :func:`fmt_date` produces
  exactly the form didkit keeps, and the issue functions always return the JSON didkit returns.
"""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import didkit
from cryptography.hazmat.primitives.asymmetric import ec

# Public test keys of scoring contract §11.4. They sign test fixtures only and must never be trusted in production.
ETHR_TEST_PRIVATE_KEY = bytes.fromhex("123456789abcdef01122334455667788aabbccddeeff00112233445566778899")
ETHR_TEST_PRIVATE_KEY_2 = bytes(range(1, 33))
ETHR_TEST_DID = "did:ethr:0x018d103c154748e8d5a1d7658185125175457f84"
ETHR_TEST_DID_2 = "did:ethr:0x6370ef2f4db3611d657b90667de398a2cc2a370c"

# Fixed Ed25519 keys for did:key issuers, generated once with didkit.generate_ed25519_key(). They are public test
# fixtures (committed on purpose): one plays the trusted did:key issuer, the other an untrusted one.
ED25519_TRUSTED_JWK = (
    '{"kty":"OKP","crv":"Ed25519","x":"rfGH7ylZusmmva7CfkFCm-GnYZ3wWEApli9LwyfVKrA",'
    '"d":"slQGS2Q0j7lK0MzInxoeRlmXKa4IWysdZohxxoaAf3k"}'
)
ED25519_UNTRUSTED_JWK = (
    '{"kty":"OKP","crv":"Ed25519","x":"bES_vxfIwmiGJgfOBf4lYIxg6n0KX01vNQTBWqpT2FM",'
    '"d":"hqk6djw0nrMNPorPL6edvsagTxmSj4FgQ9wh4n8ld10"}'
)
ED25519_TRUSTED_DID = "did:key:z6MkrAGBt7zqXtXm5AaDcSB1nmFJhiZS3LRJA4irWqNuis2f"
ED25519_UNTRUSTED_DID = "did:key:z6Mkmjtsva6Hr374x5ZXL2hYhNtZ78Fs1Y9rSX5J57qKmWpS"

# What TRUSTED_IAM_ISSUERS holds in fixtures W and S (§10.1, §10.3).
TRUSTED_TEST_ISSUERS: tuple[str, ...] = (ETHR_TEST_DID, ED25519_TRUSTED_DID)

CREDENTIAL_CONTEXT: tuple[str, ...] = (
    "https://www.w3.org/2018/credentials/v1",
    "https://w3id.org/vc/status-list/2021/v1",
)
EIP712_PROOF_CONTEXT = "https://w3id.org/security/suites/eip712sig-2021/v1"
VERIFY_OPTIONS = '{"proofPurpose":"assertionMethod"}'
_SCHEMA_TEXT = "https://schema.org/Text"

DateInput = str | datetime


def fmt_date(dt: datetime) -> str:
    """Render an aware datetime as a credential date in UTC, in the exact form didkit keeps (§11.4).

    ``YYYY-MM-DDTHH:MM:SSZ`` for whole seconds, ``.mmmZ`` when the microseconds are whole milliseconds, else
    ``.ffffffZ`` (didkit shows fractions with 0, 3, 6 or 9 digits, so it re-serialises nothing we produce).
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("fmt_date needs a timezone-aware datetime")
    utc = dt.astimezone(UTC)
    base = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond == 0:
        return f"{base}Z"
    if utc.microsecond % 1000 == 0:
        return f"{base}.{utc.microsecond // 1000:03d}Z"
    return f"{base}.{utc.microsecond:06d}Z"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def secp256k1_jwk(private_key: bytes) -> dict[str, str]:
    """Build the secp256k1 JWK didkit signs with from a 32-byte private key (§11.4; didkit cannot generate one)."""
    if len(private_key) != 32:
        raise ValueError("a secp256k1 private key has 32 bytes")
    key = ec.derive_private_key(int.from_bytes(private_key, "big"), ec.SECP256K1())
    numbers = key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "secp256k1",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
        "d": _b64url(private_key),
    }


def ethr_did(private_key: bytes = ETHR_TEST_PRIVATE_KEY) -> str:
    """The ``did:ethr:0x…`` issuer DID of a secp256k1 private key (§11.4)."""
    return didkit.key_to_did("ethr", json.dumps(secp256k1_jwk(private_key)))


def _typed(name: str, type_: str) -> dict[str, str]:
    return {"name": name, "type": type_}


def eip712_domain(*, has_hash: bool, has_nullifiers: bool) -> dict[str, Any]:
    """The ``eip712Domain`` issue option for a stamp subject (§11.4); entries within each list are order-sensitive."""
    if not (has_hash or has_nullifiers):
        raise ValueError("a stamp subject needs `hash` or `nullifiers`")
    context_types: list[dict[str, str]] = []
    subject_types = [_typed("@context", "@context")]
    if has_hash:
        context_types.append(_typed("hash", "string"))
        subject_types.append(_typed("hash", "string"))
    if has_nullifiers:
        context_types.append(_typed("nullifiers", "NullifiersContext"))
        subject_types.append(_typed("nullifiers", "string[]"))
    context_types.append(_typed("provider", "string"))
    subject_types += [_typed("id", "string"), _typed("provider", "string")]
    types: dict[str, list[dict[str, str]]] = {"EIP712Domain": [_typed("name", "string")]}
    if has_nullifiers:
        types["NullifiersContext"] = [_typed("@container", "string"), _typed("@type", "string")]
    types["@context"] = context_types
    types["CredentialSubject"] = subject_types
    types["Document"] = [
        _typed("@context", "string[]"),
        _typed("credentialSubject", "CredentialSubject"),
        _typed("expirationDate", "string"),
        _typed("issuanceDate", "string"),
        _typed("issuer", "string"),
        _typed("proof", "Proof"),
        _typed("type", "string[]"),
    ]
    types["Proof"] = [
        _typed("@context", "string"),
        _typed("created", "string"),
        _typed("proofPurpose", "string"),
        _typed("type", "string"),
        _typed("verificationMethod", "string"),
    ]
    return {"domain": {"name": "VerifiableCredential"}, "primaryType": "Document", "types": types}


def _subject_context(*, has_hash: bool, has_nullifiers: bool, ed25519: bool) -> dict[str, Any]:
    # Ed25519Signature2018 runs JSON-LD expansion, which rejects the `@type` form ("Invalid IRI mapping"), so that
    # suite defines `nullifiers` with `@id`; EIP-712 stamps carry the `@type` form production uses (§11.4).
    context: dict[str, Any] = {}
    if has_hash:
        context["hash"] = _SCHEMA_TEXT
    if has_nullifiers:
        key = "@id" if ed25519 else "@type"
        context["nullifiers"] = {"@container": "@list", key: _SCHEMA_TEXT}
    context["provider"] = _SCHEMA_TEXT
    return context


def _as_date(value: DateInput) -> str:
    text = fmt_date(value) if isinstance(value, datetime) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        # didkit only signs RFC 3339 dates with an offset (it fails with an opaque JSON error otherwise). To test a
        # stamp with a bad date, issue a valid one and edit the returned JSON.
        raise ValueError(f"didkit cannot sign the date {text!r}; give an RFC 3339 date with an offset")
    return text


def _pinned_created(issuance_date: str, created: DateInput | None) -> str:
    if created is not None:
        return _as_date(created)
    if datetime.fromisoformat(issuance_date) > datetime.now(UTC):
        raise ValueError(
            "proof.created would be in the future and didkit would reject the stamp ('No applicable proof'); "
            "pass created= explicitly"
        )
    return issuance_date


@dataclass(frozen=True)
class Issuer:
    jwk: str
    did: str
    verification_method: str


class StampSigner:
    """Issue and verify test stamps with didkit on one private event loop (§11.4).

    Not for use inside a running event loop (``run_until_complete`` cannot nest); calls from several threads are
    serialised by a lock. Call :meth:`close` (or use it as a context manager) when done.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._ethr: dict[bytes, Issuer] = {}
        self._ed25519: dict[bool, Issuer] = {}

    def __enter__(self) -> StampSigner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the event loop; the signer cannot be used afterwards."""
        with self._lock:
            if not self._loop.is_closed():
                self._loop.close()

    def _run(self, call: Callable[[], Awaitable[str]]) -> str:
        async def _await() -> str:
            return await call()  # didkit needs the loop to be running when the call is made

        with self._lock:
            return self._loop.run_until_complete(_await())

    def ethr_issuer(self, private_key: bytes = ETHR_TEST_PRIVATE_KEY) -> Issuer:
        """JWK, DID and verification method of a did:ethr issuer, cached per private key."""
        issuer = self._ethr.get(private_key)
        if issuer is None:
            jwk = json.dumps(secp256k1_jwk(private_key))
            vm = self._run(lambda: didkit.key_to_verification_method("ethr", jwk))
            issuer = Issuer(jwk=jwk, did=didkit.key_to_did("ethr", jwk), verification_method=vm)
            self._ethr[private_key] = issuer
        return issuer

    def ed25519_issuer(self, *, trusted: bool = True) -> Issuer:
        """JWK, DID and verification method of the trusted or the untrusted did:key test issuer."""
        issuer = self._ed25519.get(trusted)
        if issuer is None:
            jwk = ED25519_TRUSTED_JWK if trusted else ED25519_UNTRUSTED_JWK
            vm = self._run(lambda: didkit.key_to_verification_method("key", jwk))
            issuer = Issuer(jwk=jwk, did=didkit.key_to_did("key", jwk), verification_method=vm)
            self._ed25519[trusted] = issuer
        return issuer

    def issue_eip712(
        self,
        *,
        address: str,
        provider: str,
        nullifiers: list[str] | None = None,
        hash: str | None = None,
        issuance_date: DateInput,
        expiration_date: DateInput,
        private_key: bytes = ETHR_TEST_PRIVATE_KEY,
        subject_did: str | None = None,
        created: DateInput | None = None,
    ) -> dict[str, Any]:
        """Issue a production-format ``EthereumEip712Signature2021`` stamp from a did:ethr issuer (§11.4).

        ``nullifiers`` gives the current subject shape, ``hash`` the legacy one (both may be given). The subject id
        defaults to ``did:pkh:eip155:1:<address>`` (address used as given). ``proof.created`` is pinned to
        ``created`` or else the issuance date. Returns the credential didkit produced, parsed.
        """
        issuer = self.ethr_issuer(private_key)
        credential = self._unsigned(
            issuer=issuer.did,
            address=address,
            provider=provider,
            nullifiers=nullifiers,
            hash=hash,
            issuance_date=_as_date(issuance_date),
            expiration_date=_as_date(expiration_date),
            subject_did=subject_did,
            ed25519=False,
        )
        options = {
            "type": "EthereumEip712Signature2021",
            "proofPurpose": "assertionMethod",
            "verificationMethod": issuer.verification_method,
            "created": _pinned_created(credential["issuanceDate"], created),
            "eip712Domain": eip712_domain(has_hash=hash is not None, has_nullifiers=nullifiers is not None),
        }
        return self._issue(credential, options, issuer.jwk)

    def issue_ed25519(
        self,
        *,
        address: str,
        provider: str,
        nullifiers: list[str] | None = None,
        hash: str | None = None,
        issuance_date: DateInput,
        expiration_date: DateInput,
        trusted: bool = True,
        subject_did: str | None = None,
        created: DateInput | None = None,
    ) -> dict[str, Any]:
        """Issue an older-format ``Ed25519Signature2018`` stamp (``proof.jws``) from a did:key issuer (§11.4).

        ``trusted`` picks the trusted or the untrusted test issuer. The subject ``@context`` uses the ``@id`` form
        JSON-LD expansion requires. Returns the credential didkit produced, parsed.
        """
        issuer = self.ed25519_issuer(trusted=trusted)
        credential = self._unsigned(
            issuer=issuer.did,
            address=address,
            provider=provider,
            nullifiers=nullifiers,
            hash=hash,
            issuance_date=_as_date(issuance_date),
            expiration_date=_as_date(expiration_date),
            subject_did=subject_did,
            ed25519=True,
        )
        options = {
            "proofPurpose": "assertionMethod",
            "verificationMethod": issuer.verification_method,
            "created": _pinned_created(credential["issuanceDate"], created),
        }
        return self._issue(credential, options, issuer.jwk)

    def verify(self, credential: dict[str, Any]) -> list[str]:
        """Verify a credential the way the scorer does (§5.4); returns didkit's errors, or the exception it raised."""
        text = json.dumps(credential)
        try:
            result = json.loads(self._run(lambda: didkit.verify_credential(text, VERIFY_OPTIONS)))
        except Exception as exc:  # didkit raises on some malformed inputs; report it as an error
            return [f"{type(exc).__name__}: {exc}"]
        return list(result.get("errors", []))

    def _issue(self, credential: dict[str, Any], options: dict[str, Any], jwk: str) -> dict[str, Any]:
        text, opts = json.dumps(credential), json.dumps(options)
        return json.loads(self._run(lambda: didkit.issue_credential(text, opts, jwk)))

    @staticmethod
    def _unsigned(
        *,
        issuer: str,
        address: str,
        provider: str,
        nullifiers: list[str] | None,
        hash: str | None,
        issuance_date: str,
        expiration_date: str,
        subject_did: str | None,
        ed25519: bool,
    ) -> dict[str, Any]:
        has_hash, has_nullifiers = hash is not None, nullifiers is not None
        if not (has_hash or has_nullifiers):
            raise ValueError("a stamp needs `nullifiers` or the legacy `hash`")
        subject: dict[str, Any] = {
            "@context": _subject_context(has_hash=has_hash, has_nullifiers=has_nullifiers, ed25519=ed25519),
            "id": subject_did if subject_did is not None else f"did:pkh:eip155:1:{address}",
            "provider": provider,
        }
        if has_hash:
            subject["hash"] = hash
        if has_nullifiers:
            subject["nullifiers"] = list(nullifiers or [])
        return {
            "@context": list(CREDENTIAL_CONTEXT),
            "type": ["VerifiableCredential"],
            "issuer": issuer,
            "issuanceDate": issuance_date,
            "expirationDate": expiration_date,
            "credentialSubject": subject,
        }
