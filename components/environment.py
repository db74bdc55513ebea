"""Lambda environment variables: which names are allowed and how config values become strings
(routing contract §7.2). Pure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Lambda reserves these names; the program sets the next ones itself; secrets never go into plain variables (§7.2).
RESERVED_ENV = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
})
PROGRAM_ENV = frozenset({"SCORER_SERVER_SSM_ARN", "ENVIRONMENT"})
SECRET_ENV = frozenset({"DATABASE_URL", "SECRET_KEY", "DEMO_API_KEY"})
JSON_ENV = frozenset({"TRUSTED_IAM_ISSUERS", "DEMO_API_KEY_ALIASES"})  # values that are JSON text
MAX_ENV_BYTES = 4096
LEGACY_BASE_ENV: Mapping[str, str] = {"DEBUG": "off", "LOGGING_STRATEGY": "structlog_json", "FF_API_ANALYTICS": "on"}


def env_value(key: str, value: Any) -> str:
    """Convert one config value to a Lambda variable string (§7.2): booleans lower-case, lists/objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list | dict) and key in JSON_ENV:
        return json.dumps(value, separators=(",", ":"))
    raise ValueError(f"{key}: only strings, numbers and booleans are allowed (JSON only for {sorted(JSON_ENV)}), "
                     f"got {value!r}")
