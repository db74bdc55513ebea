"""The skip/require rule for tests that need a server binary pip cannot install (production contract P1.2)."""

from __future__ import annotations

import os

import pytest


def require_binary(binary: str | None, *, missing: str, require_env: str) -> str:
    """``binary``, or skip the test with ``missing`` as the reason; when ``require_env`` is ``1`` (CI), fail it."""
    if binary is None:
        if os.environ.get(require_env) == "1":
            pytest.fail(f"{missing} ({require_env}=1 requires it)", pytrace=False)
        pytest.skip(missing)
    return binary
