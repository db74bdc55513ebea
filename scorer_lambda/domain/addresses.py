"""Ethereum address validation rules (scoring contract §2.6)."""

from __future__ import annotations

import re

_LOWER_HEX_ADDRESS = re.compile(r"(?:0x)?[0-9a-f]{40}")
_HEX_ADDRESS = re.compile(r"(?:0[xX])?([0-9a-fA-F]{40})")


def lenient_address(value: str) -> str | None:
    """Lowercase first, then accept ``0x`` + 40 hex digits or 40 hex digits; None when invalid."""
    lowered = value.lower()
    return lowered if _LOWER_HEX_ADDRESS.fullmatch(lowered) else None


def checksum_address(hex40: str) -> str:
    """EIP-55 checksum form (always ``0x``-prefixed) of 40 hex digits."""
    from Crypto.Hash import keccak  # only the embed add-stamps route needs keccak; keep it off the cold path

    lowered = hex40.lower()
    digest = keccak.new(digest_bits=256, data=lowered.encode("ascii")).hexdigest()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lowered))


def strict_address(value: str) -> str | None:
    """The strict rule of E9: mixed-case input must match its EIP-55 checksum; returns the lowercase form."""
    match = _HEX_ADDRESS.fullmatch(value)
    if match is None:
        return None
    digits = match.group(1)
    if digits != digits.lower() and digits != digits.upper() and value != checksum_address(digits):
        return None
    return value.lower()
