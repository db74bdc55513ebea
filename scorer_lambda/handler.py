"""Lambda entry point ``scorer_lambda.handler.handler`` for ALB events (scoring contract §2.1)."""

from __future__ import annotations

import os
from typing import Any

from .app import App
from .context import AppContext
from .db.connection import Database
from .logs import install_json_logging
from .secrets import environment_with_secret
from .settings import parse_settings

_app: App | None = None


def build_app(environ: dict[str, str] | None = None) -> App:
    """Cold start: secret overlay, settings, the kept connection holder (connected on first use) and, through
    AppContext, the rate limiter (the Redis client is imported, and its URL checked, only when it is enabled)."""
    settings = parse_settings(environment_with_secret(dict(os.environ) if environ is None else environ))
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (directly or through SCORER_SERVER_SSM_ARN)")
    return App(AppContext(settings=settings, db=Database(settings.database_url)))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _app
    if _app is None:
        install_json_logging()
        _app = build_app()
    return _app.handle(event, context)
