"""Committed stack files (`Pulumi.<stack>.yaml`) read as the Pulumi CLI hands config to the program
(routing contract §8.1): project-namespace values as plain strings, lists and objects as JSON text, `secure:`
values skipped. Pure: no Pulumi engine needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PROJECT = "passport-scorer-lambdas"
PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StackFile:
    """A committed `Pulumi.<stack>.yaml`, as raw strings: `config` is the project namespace without its prefix."""

    stack: str
    config: dict[str, str]
    secure_keys: frozenset[str]
    other: dict[str, str]  # other namespaces, e.g. "aws:region"

    def full_config(self) -> dict[str, str]:
        """Every plain value under its full `namespace:key` name (the form `set_all_config` takes)."""
        return {**self.other, **{f"{PROJECT}:{k}": v for k, v in self.config.items()}}


def stack_file_path(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    """Path of a stack's committed config file."""
    return Path(project_dir) / f"Pulumi.{stack}.yaml"


def load_stack_file(path: Path | str) -> StackFile:
    """Read a stack file the way the Pulumi CLI hands it to the program: scalars and JSON text, secure values skipped.

    YAML booleans become `"true"`/`"false"`, numbers their decimal text, lists and objects JSON text.
    """
    path = Path(path)
    doc = yaml.safe_load(path.read_text()) or {}
    stack = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
    config, other, secure = {}, {}, set()
    for full_key, value in (doc.get("config") or {}).items():
        namespace, _, key = full_key.partition(":")
        if isinstance(value, dict) and set(value) == {"secure"}:
            secure.add(key if namespace == PROJECT else full_key)
            continue
        text = _config_text(value)
        if namespace == PROJECT:
            config[key] = text
        else:
            other[full_key] = text
    return StackFile(stack=stack, config=config, secure_keys=frozenset(secure), other=other)


def _config_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return "" if value is None else str(value)
