"""Partner API key hashing used by the fixtures (scoring contract §4.1, §11.2)."""

from __future__ import annotations

import random
import re

from scorer_lambda.local.seed import make_api_key, pbkdf2_hash, sha256_hash

VECTOR_KEY = "testkey1.0123456789abcdef0123456789abcdef"
VECTOR_SALT = "abcdefghijklmnopqrstuv"
VECTOR_PBKDF2 = "pbkdf2_sha256$600000$abcdefghijklmnopqrstuv$KNImhe452bz6sL8vO/AAys9vXGUadpt6SCSr5P/NQOA="
VECTOR_SHA256 = "sha256$8b22637ced5bc2898b028efc0a2532ac25c42f05e201992e99a72a009ec8f0ec"


def test_pbkdf2_hash_matches_the_contract_test_vector() -> None:
    assert pbkdf2_hash(VECTOR_KEY, salt=VECTOR_SALT, iterations=600000) == VECTOR_PBKDF2


def test_pbkdf2_hash_defaults_to_600000_iterations() -> None:
    assert pbkdf2_hash(VECTOR_KEY, salt=VECTOR_SALT) == VECTOR_PBKDF2


def test_pbkdf2_hash_records_a_smaller_iteration_count() -> None:
    hashed = pbkdf2_hash(VECTOR_KEY, salt=VECTOR_SALT, iterations=1000)
    assert hashed.startswith("pbkdf2_sha256$1000$abcdefghijklmnopqrstuv$")
    assert hashed != VECTOR_PBKDF2


def test_sha256_hash_matches_the_contract_test_vector() -> None:
    assert sha256_hash(VECTOR_KEY) == VECTOR_SHA256
    assert len(VECTOR_SHA256) == 71


def test_make_api_key_has_the_partner_key_format() -> None:
    key = make_api_key(42)
    assert re.fullmatch(r"[A-Za-z0-9]{8}\.[A-Za-z0-9]{32}", key), key


def test_make_api_key_is_deterministic_per_seed() -> None:
    assert make_api_key(7) == make_api_key(7)
    assert make_api_key(7) != make_api_key(8)
    rng = random.Random(3)
    first, second = make_api_key(rng), make_api_key(rng)
    assert first != second
    assert make_api_key(random.Random(3)) == first
