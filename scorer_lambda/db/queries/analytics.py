"""API-key analytics rows for E1 (scoring contract §4.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ..pending import Executor, Pending, nothing, run


def insert_analytics(conn: Executor, *, api_key_id: str, path: str, query_params: dict[str, Any],
                     headers: dict[str, Any], payload: Any, response_text: str, error: str | None,
                     status_code: int, created_at: datetime) -> Pending[None]:
    return run(conn, """
        INSERT INTO account_accountapikeyanalytics
               (created_at, path, api_key_id, base_path, error, headers, path_segments, payload, query_params,
                response, response_skipped, status_code)
        VALUES (%(created_at)s, %(path)s, %(api_key_id)s, NULL, %(error)s, %(headers)s, %(segments)s, %(payload)s,
                %(query)s, %(response)s, false, %(status)s)""",
        {"created_at": created_at, "path": path, "api_key_id": api_key_id, "error": error,
         "headers": Jsonb(headers), "segments": Jsonb(path.split("/")[1:]),
         "payload": None if payload is None else Jsonb(payload), "query": Jsonb(query_params),
         "response": Jsonb(response_text), "status": status_code}, nothing)
