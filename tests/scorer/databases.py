"""Test databases copied from the schema template of the session's embedded PostgreSQL server."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

TEMPLATE_DB = "scorer_template"
_numbers = itertools.count(1)


@contextmanager
def template_copy(pg_server: Any, prefix: str = "t") -> Iterator[str]:
    """A fresh database with the project schema; yields its URL and drops it afterwards."""
    name = f"{prefix}_{next(_numbers)}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    try:
        yield pg_server.get_uri(name)
    finally:
        with psycopg.connect(pg_server.get_uri(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
