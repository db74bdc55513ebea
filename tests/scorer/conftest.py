"""Fixtures for the scorer tests: embedded PostgreSQL with the project schema, a stamp signer, and a real Redis
(``redis_fixtures``) for rate limiting.

One pgserver instance per test session holds a template database with the schema (scoring contract §11.1); every
test that asks for ``db_url`` gets its own fresh copy of it, dropped afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from scorer_lambda.local.seed import load_schema
from scorer_lambda.local.signing import StampSigner

from .databases import TEMPLATE_DB, template_copy
from .redis_fixtures import own_redis, redis_server, redis_url  # noqa: F401 (fixtures of the rate-limiting tests)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A running embedded PostgreSQL server whose ``scorer_template`` database holds the schema.

    The data directory is a private temporary directory, not one of pytest's: when running as root, pgserver runs
    PostgreSQL as a separate ``pgserver`` user and opens the parent directories to it, but every pytest session that
    starts meanwhile resets ``/tmp/pytest-of-<user>`` to mode 0700, which makes the running server PANIC.
    """
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; without XDG_RUNTIME_DIR that only warns.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver

    base = tempfile.mkdtemp(prefix="scorer-pg-")
    server = pgserver.get_server(f"{base}/data", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as admin:
            # A throwaway server: durability only costs time (it makes CREATE DATABASE markedly slower).
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                admin.execute(f"ALTER SYSTEM SET {setting} = off")
            admin.execute("SELECT pg_reload_conf()")
            admin.execute(f"CREATE DATABASE {TEMPLATE_DB}")
        with psycopg.connect(server.get_uri(TEMPLATE_DB), autocommit=True) as conn:
            load_schema(conn)
        yield server
    finally:
        # The root conftest leaves the interpreter with os._exit (didkit, §11.4), which skips pgserver's atexit
        # hook, so stop the server here.
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def db_url(pg_server: Any) -> Iterator[str]:
    """The URL of a fresh database copied from the schema template; dropped after the test."""
    with template_copy(pg_server) as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test's fresh database."""
    conn = psycopg.connect(db_url, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()


@pytest.fixture(scope="session")
def signer() -> Iterator[StampSigner]:
    """One didkit-backed stamp signer for the whole session (§11.4)."""
    with StampSigner() as stamp_signer:
        yield stamp_signer
