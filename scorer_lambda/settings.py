"""Settings parsed once per process from environment variables (scoring contract §2.2)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

DATABASE_URL = "DATABASE_URL"
SECRET_KEY = "SECRET_KEY"  # noqa: S105 (a variable name, not a secret)
SIWE_JWT_PUBLIC_KEY = "SIWE_JWT_PUBLIC_KEY"
CERAMIC_CACHE_SCORER_ID = "CERAMIC_CACHE_SCORER_ID"
TRUSTED_IAM_ISSUERS = "TRUSTED_IAM_ISSUERS"
FF_MULTI_NULLIFIER = "FF_MULTI_NULLIFIER"
FF_API_ANALYTICS = "FF_API_ANALYTICS"
HUMAN_POINTS_ENABLED = "HUMAN_POINTS_ENABLED"
HUMAN_POINTS_WRITE_ENABLED = "HUMAN_POINTS_WRITE_ENABLED"
HUMAN_POINTS_START_TIMESTAMP = "HUMAN_POINTS_START_TIMESTAMP"
HUMAN_POINTS_MTA_ENABLED = "HUMAN_POINTS_MTA_ENABLED"
MAX_BULK_CACHE_SIZE = "MAX_BULK_CACHE_SIZE"
RATELIMIT_ENABLE = "RATELIMIT_ENABLE"
CELERY_BROKER_URL = "CELERY_BROKER_URL"
PASSPORT_API_RATE_LIMITING_FORM = "PASSPORT_API_RATE_LIMITING_FORM"
DEMO_API_KEY = "DEMO_API_KEY"
DEMO_API_KEY_ALIASES = "DEMO_API_KEY_ALIASES"
DEMO_API_SCORER_ID = "DEMO_API_SCORER_ID"
SCORER_METRICS_NAMESPACE = "SCORER_METRICS_NAMESPACE"

DEFAULT_TRUSTED_IAM_ISSUERS = ("did:key:GlMY_1zkc0i11O-wMBWbSiUfIkZiXzFLlAQ89pdfyBA", "did:ethr:0xabczyx")
DEFAULT_RATE_LIMITING_FORM = (
    "https://docs.google.com/forms/d/e/1FAIpQLSeUATg0nTE9ws3qESGBktFcOX0brF19iv2L0BLoiub9pbSMeg/viewform"
)
DEFAULT_METRICS_NAMESPACE = "PassportScorer"
# CloudWatch namespaces: 1–255 of these characters, and not AWS/ (reserved for AWS services).
_NAMESPACE = re.compile(r"[A-Za-z0-9._/#: -]{1,255}")
_TRUE_VALUES = frozenset({"true", "on", "ok", "y", "yes", "1"})


class SettingsError(ValueError):
    """A variable is present but cannot be parsed; the process must not start serving."""


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    secret_key: str
    siwe_jwt_public_key: str
    ceramic_cache_scorer_id: str
    trusted_iam_issuers: frozenset[str]
    multi_nullifier: bool
    api_analytics: bool
    human_points_enabled: bool
    human_points_write_enabled: bool
    human_points_start_timestamp: int
    human_points_mta_enabled: bool
    max_bulk_cache_size: int
    ratelimit_enable: bool
    # The Redis of the legacy Lambdas' Django cache (P9); checked only when rate limiting is enabled.
    celery_broker_url: str | None
    rate_limiting_form: str
    demo_api_key: str | None
    demo_api_key_aliases: frozenset[str]
    demo_api_scorer_id: str | None
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE


def parse_bool(value: str | None) -> bool:
    """Boolean parsing of §2.2: true iff one of true/on/ok/y/yes/1, case-insensitive."""
    return value is not None and value.lower() in _TRUE_VALUES


def _parse_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _parse_str_list(environ: Mapping[str, str], name: str, default: tuple[str, ...]) -> frozenset[str]:
    raw = environ.get(name)
    if raw is None:
        return frozenset(default)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise SettingsError(f"{name} must be a JSON list of strings") from None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SettingsError(f"{name} must be a JSON list of strings")
    return frozenset(value)


def _parse_public_key(raw: str) -> str:
    """The SIWE key is PEM text, or base64 of the PEM when it has no ``-----BEGIN`` marker.

    A value that is present must be a usable RSA public key (production contract P7): otherwise every RS256 token
    would be silently rejected. Messages name the variable, never its value.
    """
    if not raw:
        return raw
    if "-----BEGIN" in raw:
        pem = raw
    else:
        try:
            pem = base64.b64decode(raw, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise SettingsError(f"{SIWE_JWT_PUBLIC_KEY} is neither PEM nor base64 of PEM") from None
    if not _is_rsa_public_key(pem):
        raise SettingsError(f"{SIWE_JWT_PUBLIC_KEY} is not a PEM RSA public key (nor base64 of one)")
    return pem


def _is_rsa_public_key(pem: str) -> bool:
    # Imported here: cryptography costs cold-start time and only a deployment with a SIWE key needs it now.
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return isinstance(load_pem_public_key(pem.encode("utf-8")), RSAPublicKey)
    except Exception:  # ValueError, UnsupportedAlgorithm, …: any failure means the key is unusable
        return False


def _parse_counter_store_url(environ: Mapping[str, str], enabled: bool) -> str | None:
    """``CELERY_BROKER_URL``, checked for shape when rate limiting is enabled (production contract P7, P9).

    The URL carries the Redis password: messages name the variable and what is wrong, never the value. Only the
    shape is checked here (no Redis client is imported for it); whether redis-py accepts the URL's options is
    checked when the counter store is built, still at cold start. Enabled without a URL stops the cold start
    too: the operator asked for limits that could never be enforced.
    """
    raw = environ.get(CELERY_BROKER_URL) or None
    if not enabled:
        return raw
    if raw is None:
        raise SettingsError(f"{RATELIMIT_ENABLE} is on but {CELERY_BROKER_URL} is not set")
    problem = _redis_url_problem(raw)
    if problem:
        raise SettingsError(f"{CELERY_BROKER_URL} is not a usable Redis URL: {problem}")
    return raw


def _redis_url_problem(raw: str) -> str | None:
    """What makes ``raw`` unusable as ``redis://[user:password@]host[:port][/db]`` (or ``rediss://``), or None."""
    try:
        parts = urlsplit(raw)
        port = parts.port  # parsed on access; raises ValueError when not a number in 0..65535
    except ValueError:
        return "the port is not a number between 1 and 65535 (or the address is malformed)"
    if parts.scheme not in ("redis", "rediss"):
        return "the scheme must be redis:// or rediss://"
    if not parts.hostname:
        return "no host"
    if port == 0:
        return "the port is not a number between 1 and 65535 (or the address is malformed)"
    db = parts.path.strip("/")
    if db and not (db.isascii() and db.isdigit()):
        return "the path must be a database number"
    db_param = parse_qs(parts.query).get("db")
    if db_param and not (db_param[0].isascii() and db_param[0].isdigit()):
        return "the db parameter must be a database number"
    return None


def _parse_namespace(environ: Mapping[str, str]) -> str:
    """``SCORER_METRICS_NAMESPACE`` (P10): unset or empty → ``PassportScorer``; a name CloudWatch would reject stops
    the cold start (P7) rather than losing every metric silently."""
    raw = environ.get(SCORER_METRICS_NAMESPACE) or DEFAULT_METRICS_NAMESPACE
    if not _NAMESPACE.fullmatch(raw) or raw.startswith("AWS/"):
        raise SettingsError(f"{SCORER_METRICS_NAMESPACE} is not a usable CloudWatch namespace (1 to 255 letters, "
                            "digits or . _ / # : - and spaces, not starting with AWS/)")
    return raw


def parse_settings(environ: Mapping[str, str]) -> Settings:
    """Build the settings from an environment mapping, with the defaults of the existing service."""
    demo_scorer = environ.get(DEMO_API_SCORER_ID)
    ratelimit_enable = parse_bool(environ.get(RATELIMIT_ENABLE))
    return Settings(
        database_url=environ.get(DATABASE_URL) or None,
        secret_key=environ.get(SECRET_KEY, ""),
        siwe_jwt_public_key=_parse_public_key(environ.get(SIWE_JWT_PUBLIC_KEY, "")),
        ceramic_cache_scorer_id=environ.get(CERAMIC_CACHE_SCORER_ID, "1"),
        trusted_iam_issuers=_parse_str_list(environ, TRUSTED_IAM_ISSUERS, DEFAULT_TRUSTED_IAM_ISSUERS),
        multi_nullifier=environ.get(FF_MULTI_NULLIFIER) == "on",
        api_analytics=environ.get(FF_API_ANALYTICS) == "on",
        human_points_enabled=parse_bool(environ.get(HUMAN_POINTS_ENABLED)),
        human_points_write_enabled=parse_bool(environ.get(HUMAN_POINTS_WRITE_ENABLED)),
        human_points_start_timestamp=_parse_int(environ, HUMAN_POINTS_START_TIMESTAMP, 0),
        human_points_mta_enabled=parse_bool(environ.get(HUMAN_POINTS_MTA_ENABLED)),
        max_bulk_cache_size=_parse_int(environ, MAX_BULK_CACHE_SIZE, 100),
        ratelimit_enable=ratelimit_enable,
        celery_broker_url=_parse_counter_store_url(environ, ratelimit_enable),
        rate_limiting_form=environ.get(PASSPORT_API_RATE_LIMITING_FORM, DEFAULT_RATE_LIMITING_FORM),
        demo_api_key=environ.get(DEMO_API_KEY) or None,
        demo_api_key_aliases=_parse_str_list(environ, DEMO_API_KEY_ALIASES, ()),
        demo_api_scorer_id=demo_scorer if demo_scorer not in (None, "") else None,
        metrics_namespace=_parse_namespace(environ),
    )
