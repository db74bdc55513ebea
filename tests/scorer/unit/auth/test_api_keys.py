"""Partner API keys: where the key is read and how the secret is checked (scoring contract §4.1, §11.2)."""

from __future__ import annotations

import pytest

from scorer_lambda.auth.api_keys import check_key, key_prefix, read_api_key, sha256_hash
from scorer_lambda.db.queries.api_keys import ApiKeyRow
from scorer_lambda.local.seed import pbkdf2_hash
from scorer_lambda.request import AlbRequest
from scorer_lambda.settings import Settings, parse_settings

VECTOR_KEY = "testkey1.0123456789abcdef0123456789abcdef"
VECTOR_PBKDF2 = "pbkdf2_sha256$600000$abcdefghijklmnopqrstuv$KNImhe452bz6sL8vO/AAys9vXGUadpt6SCSr5P/NQOA="
VECTOR_SHA256 = "sha256$8b22637ced5bc2898b028efc0a2532ac25c42f05e201992e99a72a009ec8f0ec"
SETTINGS = parse_settings({})
DEMO = parse_settings({"DEMO_API_KEY": "REALKEY1.secret", "DEMO_API_KEY_ALIASES": '["demo", "public"]'})


def row(hashed_key: str, hashed_key_sha256: str | None = None) -> ApiKeyRow:
    return ApiKeyRow(id="testkey1.x", hashed_key=hashed_key, hashed_key_sha256=hashed_key_sha256, account_id=1,
                     rate_limit="", embed_rate_limit="125/15m")


def read(headers: dict[str, str], settings: Settings = SETTINGS) -> str | None:
    return read_api_key(AlbRequest({"httpMethod": "GET", "path": "/", "headers": headers}), settings)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-api-key": "K.1"}, "K.1"),
    ({"X-API-KEY": "K.1"}, "K.1"),
    ({"Authorization": "Token K.1"}, "K.1"),
    ({"authorization": "Bearer K.1"}, "K.1"),
    ({"Authorization": "Api-Key   K.1"}, "K.1"),
    ({"Authorization": "Token K.1 extra"}, "K.1"),
    ({"x-api-key": "", "Authorization": "Token K.2"}, "K.2"),
    ({"x-api-key": "K.1", "Authorization": "Token K.2"}, "K.1"),
    ({"Authorization": "K.1"}, None),
    ({"Authorization": ""}, None),
    ({"x-api-key": ""}, None),
    ({}, None),
])
def test_key_is_read_from_x_api_key_else_the_second_authorization_token(headers: dict[str, str],
                                                                        expected: str | None) -> None:
    assert read(headers) == expected


def test_demo_aliases_are_replaced_by_the_demo_key_on_exact_match() -> None:
    assert read({"x-api-key": "demo"}, DEMO) == "REALKEY1.secret"
    assert read({"Authorization": "Token public"}, DEMO) == "REALKEY1.secret"
    assert read({"x-api-key": "Demo"}, DEMO) == "Demo"
    assert read({"x-api-key": "demo"}) == "demo", "no replacement without DEMO_API_KEY"


def test_prefix_is_the_part_before_the_first_dot() -> None:
    assert key_prefix("testkey1.abc.def") == "testkey1"
    assert key_prefix("nodot") == "nodot"


def test_sha256_hash_matches_the_contract_vector() -> None:
    assert sha256_hash(VECTOR_KEY) == VECTOR_SHA256


def test_pbkdf2_vector_is_valid_and_asks_for_the_fast_hash_upgrade() -> None:
    check = check_key(VECTOR_KEY, row(VECTOR_PBKDF2))
    assert (check.is_valid, check.upgrade_sha256) == (True, VECTOR_SHA256)
    wrong = check_key(VECTOR_KEY[:-1] + "0", row(VECTOR_PBKDF2))
    assert (wrong.is_valid, wrong.upgrade_sha256) == (False, None)


def test_pbkdf2_uses_the_iteration_count_stored_in_the_hash() -> None:
    hashed = pbkdf2_hash("abcdefgh.k", salt="s" * 22, iterations=1000)
    assert check_key("abcdefgh.k", row(hashed)).is_valid
    assert not check_key("abcdefgh.k", row(hashed.replace("$1000$", "$1001$"))).is_valid


def test_stored_fast_hash_is_final() -> None:
    assert check_key(VECTOR_KEY, row("garbage", VECTOR_SHA256)).is_valid
    stale = check_key(VECTOR_KEY, row(VECTOR_PBKDF2, sha256_hash("other")))
    assert (stale.is_valid, stale.upgrade_sha256) == (False, None), "no PBKDF2 fallback"
    fast = check_key(VECTOR_KEY, row(VECTOR_PBKDF2, VECTOR_SHA256))
    assert (fast.is_valid, fast.upgrade_sha256) == (True, None), "no upgrade when the fast hash is stored"


def test_empty_fast_hash_falls_through_to_hashed_key() -> None:
    assert check_key(VECTOR_KEY, row(VECTOR_PBKDF2, "")).is_valid


def test_legacy_sha256_hashed_key_is_checked_without_upgrade() -> None:
    check = check_key(VECTOR_KEY, row(VECTOR_SHA256))
    assert (check.is_valid, check.upgrade_sha256) == (True, None)
    assert not check_key("testkey1.other", row(VECTOR_SHA256)).is_valid


@pytest.mark.parametrize("hashed", ["md5$abc", "", "pbkdf2_sha256$x$salt$hash", "pbkdf2_sha256$0$salt$hash",
                                    "pbkdf2_sha256$1000$onlysalt", "argon2$whatever"])
def test_unknown_or_malformed_hashes_are_invalid(hashed: str) -> None:
    assert check_key(VECTOR_KEY, row(hashed)).is_valid is False
