"""Settings parsed from the environment (scoring contract §2.2)."""

from __future__ import annotations

import base64
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from scorer_lambda.settings import (
    DEFAULT_RATE_LIMITING_FORM,
    DEFAULT_TRUSTED_IAM_ISSUERS,
    SettingsError,
    parse_bool,
    parse_settings,
)

TRUNCATED_PEM = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"


def _public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_defaults_are_those_of_the_existing_service() -> None:
    settings = parse_settings({"DATABASE_URL": "postgresql://db/x"})
    assert settings.database_url == "postgresql://db/x"
    assert settings.secret_key == "" and settings.siwe_jwt_public_key == ""
    assert settings.ceramic_cache_scorer_id == "1"
    assert settings.trusted_iam_issuers == frozenset(DEFAULT_TRUSTED_IAM_ISSUERS)
    assert (settings.multi_nullifier, settings.api_analytics) == (False, False)
    assert (settings.human_points_enabled, settings.human_points_write_enabled, settings.human_points_mta_enabled) \
        == (False, False, False)
    assert settings.human_points_start_timestamp == 0
    assert settings.max_bulk_cache_size == 100
    assert settings.ratelimit_enable is False
    assert settings.rate_limiting_form == DEFAULT_RATE_LIMITING_FORM
    assert DEFAULT_RATE_LIMITING_FORM == ("https://docs.google.com/forms/d/e/"
                                          "1FAIpQLSeUATg0nTE9ws3qESGBktFcOX0brF19iv2L0BLoiub9pbSMeg/viewform")
    assert (settings.demo_api_key, settings.demo_api_key_aliases, settings.demo_api_scorer_id) == (None, frozenset(),
                                                                                                   None)


def test_default_trusted_issuers_are_the_placeholders() -> None:
    assert DEFAULT_TRUSTED_IAM_ISSUERS == ("did:key:GlMY_1zkc0i11O-wMBWbSiUfIkZiXzFLlAQ89pdfyBA", "did:ethr:0xabczyx")


@pytest.mark.parametrize("value", ["true", "TRUE", "on", "On", "ok", "y", "Y", "yes", "1"])
def test_true_values(value: str) -> None:
    assert parse_bool(value) is True


@pytest.mark.parametrize("value", [None, "", "false", "0", "no", "enabled", " true", "2", "t"])
def test_everything_else_is_false(value: str | None) -> None:
    assert parse_bool(value) is False


@pytest.mark.parametrize(("value", "enabled"), [("on", True), ("On", False), ("ON", False), ("true", False),
                                                ("1", False), ("off", False)])
def test_feature_flags_are_on_only_for_exactly_on(value: str, enabled: bool) -> None:
    settings = parse_settings({"FF_MULTI_NULLIFIER": value, "FF_API_ANALYTICS": value})
    assert (settings.multi_nullifier, settings.api_analytics) == (enabled, enabled)


def test_boolean_and_integer_variables_are_parsed() -> None:
    settings = parse_settings({"HUMAN_POINTS_ENABLED": "yes", "HUMAN_POINTS_WRITE_ENABLED": "On",
                               "HUMAN_POINTS_MTA_ENABLED": "ok", "RATELIMIT_ENABLE": "1",
                               "CELERY_BROKER_URL": "redis://cache:6379/0",
                               "HUMAN_POINTS_START_TIMESTAMP": "1700000000", "MAX_BULK_CACHE_SIZE": "5"})
    assert (settings.human_points_enabled, settings.human_points_write_enabled, settings.human_points_mta_enabled,
            settings.ratelimit_enable) == (True, True, True, True)
    assert (settings.human_points_start_timestamp, settings.max_bulk_cache_size) == (1700000000, 5)


def test_json_lists_are_parsed() -> None:
    settings = parse_settings({"TRUSTED_IAM_ISSUERS": '["did:ethr:0x1", "did:key:z6Mk"]',
                               "DEMO_API_KEY_ALIASES": '["demo", "demo2"]', "DEMO_API_KEY": "K.x",
                               "DEMO_API_SCORER_ID": "3"})
    assert settings.trusted_iam_issuers == frozenset({"did:ethr:0x1", "did:key:z6Mk"})
    assert settings.demo_api_key_aliases == frozenset({"demo", "demo2"})
    assert (settings.demo_api_key, settings.demo_api_scorer_id) == ("K.x", "3")
    assert parse_settings({"TRUSTED_IAM_ISSUERS": "[]"}).trusted_iam_issuers == frozenset()


@pytest.mark.parametrize("env", [{"TRUSTED_IAM_ISSUERS": "did:ethr:0x1"}, {"TRUSTED_IAM_ISSUERS": '{"a": 1}'},
                                 {"TRUSTED_IAM_ISSUERS": "[1]"}, {"DEMO_API_KEY_ALIASES": "demo"},
                                 {"MAX_BULK_CACHE_SIZE": "many"}, {"HUMAN_POINTS_START_TIMESTAMP": "soon"}])
def test_unparseable_values_fail_at_cold_start(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        parse_settings(env)


def test_ceramic_scorer_id_default_applies_only_when_absent() -> None:
    assert parse_settings({"CERAMIC_CACHE_SCORER_ID": ""}).ceramic_cache_scorer_id == ""
    assert parse_settings({"CERAMIC_CACHE_SCORER_ID": "3"}).ceramic_cache_scorer_id == "3"


def test_siwe_key_is_pem_or_base64_of_pem() -> None:
    pem = _public_pem(rsa_key())
    assert parse_settings({"SIWE_JWT_PUBLIC_KEY": pem}).siwe_jwt_public_key == pem
    assert parse_settings({"SIWE_JWT_PUBLIC_KEY": b64(pem)}).siwe_jwt_public_key == pem
    assert parse_settings({"SIWE_JWT_PUBLIC_KEY": ""}).siwe_jwt_public_key == "", "empty means RS256 is off"


def _unusable_siwe_values() -> dict[str, str]:
    rsa_private = rsa_key().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()).decode()
    ec_pem = _public_pem(ec.generate_private_key(ec.SECP256R1()))
    rsa_pem = _public_pem(rsa_key())
    return {
        "plain-text": "not-a-key-at-all",
        "base64-of-text": b64("definitely not a PEM document"),
        "base64-of-binary": base64.b64encode(b"\xff\xfe\x00secret-ish").decode(),
        "truncated-pem": TRUNCATED_PEM,
        "base64-of-truncated-pem": b64(TRUNCATED_PEM),
        "pem-with-garbage-body": "-----BEGIN PUBLIC KEY-----\nzzzz-not-base64\n-----END PUBLIC KEY-----\n",
        "pem-missing-end": rsa_pem.split("-----END")[0],
        "ec-public-key": ec_pem,
        "base64-of-ec-public-key": b64(ec_pem),
        "rsa-private-key": rsa_private,
        "certificate-marker-only": "-----BEGIN CERTIFICATE-----",
        "whitespace": "   ",
    }


@pytest.mark.parametrize("case", list(_unusable_siwe_values()))
def test_unusable_siwe_key_stops_the_cold_start_naming_the_variable(case: str) -> None:
    """Production contract P7: otherwise every RS256 token would be silently refused."""
    value = _unusable_siwe_values()[case]
    with pytest.raises(SettingsError) as raised:
        parse_settings({"SIWE_JWT_PUBLIC_KEY": value})
    message = str(raised.value)
    assert "SIWE_JWT_PUBLIC_KEY" in message
    if value.strip():
        assert value.strip() not in message and value.strip()[:40] not in message, "the value is never echoed"


def test_cryptography_is_imported_only_when_a_siwe_key_is_set() -> None:
    """Cold start: without SIWE_JWT_PUBLIC_KEY, parsing the settings does not load cryptography."""
    script = ("import sys\n"
              "from scorer_lambda.settings import parse_settings\n"
              "parse_settings({'SECRET_KEY': 'x'})\n"
              "print('cryptography' in sys.modules)\n"
              f"parse_settings({{'SIWE_JWT_PUBLIC_KEY': {_public_pem(rsa_key())!r}}})\n"
              "print('cryptography' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[3])
    assert result.stdout.split() == ["False", "True"]


def test_empty_optional_values_count_as_unset() -> None:
    settings = parse_settings({"DATABASE_URL": "", "DEMO_API_KEY": "", "DEMO_API_SCORER_ID": ""})
    assert (settings.database_url, settings.demo_api_key, settings.demo_api_scorer_id) == (None, None, None)


# --- CELERY_BROKER_URL: the rate-limit counter store (production contract P7, P9) --------------------------------

PASSWORD = "s3cr3t-Pa55word"


def test_counter_store_url_is_read_and_needed_only_with_rate_limiting() -> None:
    url = f"rediss://default:{PASSWORD}@cache.internal:6379/0"
    enabled = parse_settings({"RATELIMIT_ENABLE": "on", "CELERY_BROKER_URL": url})
    assert (enabled.ratelimit_enable, enabled.celery_broker_url) == (True, url)
    assert parse_settings({}).celery_broker_url is None
    assert parse_settings({"CELERY_BROKER_URL": "not a url"}).celery_broker_url == "not a url", \
        "with rate limiting off the variable is not used, so not checked"
    for good in ("redis://127.0.0.1:6379/0", "redis://cache", "redis://h:1/", "redis://u:p@h/15",
                 "redis://h:6379?db=2", "rediss://h:6380/0?ssl_cert_reqs=required", "redis://[::1]:6379/0"):
        assert parse_settings({"RATELIMIT_ENABLE": "yes", "CELERY_BROKER_URL": good}).celery_broker_url == good


def test_rate_limiting_on_without_a_counter_store_stops_the_cold_start() -> None:
    for env in ({"RATELIMIT_ENABLE": "true"}, {"RATELIMIT_ENABLE": "1", "CELERY_BROKER_URL": ""}):
        with pytest.raises(SettingsError, match="RATELIMIT_ENABLE is on but CELERY_BROKER_URL is not set"):
            parse_settings(env)


@pytest.mark.parametrize("url", [
    f"http://:{PASSWORD}@cache:6379/0", f"{PASSWORD}", f"redis//:{PASSWORD}@cache:6379/0",
    f"redis://:{PASSWORD}@/0", f"redis://:{PASSWORD}@cache:port/0", f"redis://:{PASSWORD}@cache:99999/0",
    f"redis://:{PASSWORD}@cache:0/0", f"redis://:{PASSWORD}@cache:6379/zero", f"redis://:{PASSWORD}@cache:6379/0?db=x",
    f"redis://:{PASSWORD}@[::1:6379/0",
], ids=["http", "bare-password", "no-scheme-separator", "no-host", "port-text", "port-range", "port-zero", "db-text",
        "db-param-text", "bad-ipv6"])
def test_malformed_counter_store_url_stops_the_cold_start_without_echoing_it(url: str) -> None:
    with pytest.raises(SettingsError) as raised:
        parse_settings({"RATELIMIT_ENABLE": "on", "CELERY_BROKER_URL": url})
    message = str(raised.value)
    assert "CELERY_BROKER_URL" in message
    assert PASSWORD not in message and url not in message, "the URL holds the Redis password: never echoed"
