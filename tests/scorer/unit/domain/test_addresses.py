"""Lenient and strict address rules (scoring contract §2.6)."""

from __future__ import annotations

import pytest

from scorer_lambda.domain.addresses import checksum_address, lenient_address, strict_address

A = "0x" + "a" * 40
EIP55_VECTORS = [  # from EIP-55
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
    "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    "0x52908400098527886E0F7030069857D2E4169EE7",
    "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77",
    "0x27b1fdb04752bbc536007a920d24acb045561c26",
]


@pytest.mark.parametrize(("value", "expected"), [
    (A, A),
    ("0X" + "A" * 40, A),
    ("0x" + "aB" * 20, "0x" + "ab" * 20),
    ("0xAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", A),  # no checksum on the lenient rule
    ("a" * 40, "a" * 40),
    ("A" * 40, "a" * 40),
])
def test_lenient_rule_lowercases_then_accepts(value: str, expected: str) -> None:
    assert lenient_address(value) == expected


@pytest.mark.parametrize("value", ["0x1234", "", "0x", "0x" + "g" * 40, "0x" + "a" * 39, "0x" + "a" * 41, "a" * 41,
                                   "0xx" + "a" * 39, " " + A, A + "\n", "1x" + "a" * 40])
def test_lenient_rule_rejects(value: str) -> None:
    assert lenient_address(value) is None


@pytest.mark.parametrize("value", EIP55_VECTORS)
def test_checksum_matches_the_eip55_vectors(value: str) -> None:
    assert checksum_address(value[2:].lower()) == value
    assert strict_address(value) == value.lower()


@pytest.mark.parametrize(("value", "expected"), [
    (A, A),
    ("0x" + "A" * 40, A),
    ("0X" + "A" * 40, A),
    ("a" * 40, "a" * 40),
    ("5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),  # mixed case must equal the 0x-prefixed checksum form
    ("0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),
    ("0xAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", None),
    ("0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", None),
    ("0x1234", None),
    ("0x" + "g" * 40, None),
])
def test_strict_rule(value: str, expected: str | None) -> None:
    assert strict_address(value) == expected
