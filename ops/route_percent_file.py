"""Change `scorerPercentByRoute` entries (production contract P11.3), optionally together with `scorerPercent`, in a
committed `Pulumi.<stack>.yaml` without disturbing anything else.

Same approach as `ops.stack_file`: ruamel.yaml locates each value and only that scalar token is replaced in the
original text; a missing route is added as one line after the mapping's last entry, a missing mapping as a block
right after `scorerPercent` (or `aws:region`). Both versions are parsed again: everything but the two keys must be
equal, the keys must hold exactly the requested values, and the file must pass the program's settings parser;
otherwise nothing is written. One write for both keys, so a rollback never leaves the file half done.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from components.settings import (
    DATABASE_URL_KEY,
    PERCENT_BY_ROUTE_KEY,
    PROJECT,
    SCORER_PERCENT_KEY,
    SettingsError,
    load_stack_file,
    parse_settings,
)
from ops.errors import ConfigError
from ops.stack_file import FULL_KEY, _lines, _scalar_token, _write_atomically, parse_versions, replace_percent_text

BY_ROUTE_FULL_KEY = f"{PROJECT}:{PERCENT_BY_ROUTE_KEY}"


@dataclass(frozen=True)
class RolloutFileChange:
    """What `set_rollout_percents` did: raw `scorerPercent` and per-route values before, the values after."""

    path: Path
    stack: str
    percent_before: str | None
    percent_after: str | None  # None: scorerPercent untouched
    routes_before: Mapping[str, object]
    routes_after: Mapping[str, int]
    is_written: bool


def read_route_percents(config: Mapping[str, str]) -> dict[str, object]:
    """The raw `scorerPercentByRoute` mapping of a loaded stack file's config ({} when absent or not a mapping)."""
    raw = config.get(PERCENT_BY_ROUTE_KEY)
    try:
        decoded = json.loads(raw) if raw is not None else {}
    except ValueError:
        return {}
    return decoded if isinstance(decoded, dict) else {}


def set_rollout_percents(path: Path, stack: str, *, percent: int | None,
                         routes: Mapping[str, int]) -> RolloutFileChange:
    """Write `scorerPercent` (unless None) and the given `scorerPercentByRoute` entries; values must be validated.

    Raises `ConfigError` for a file it cannot edit safely or a result the settings parser rejects (naming the route
    key and value). Atomic; an unchanged file is not written.
    """
    try:
        text = path.read_bytes().decode("utf-8")
        old = load_stack_file(path)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path.name}: {' '.join(str(exc).split())}") from None
    before_routes = read_route_percents(old.config)
    before_percent = old.config.get(SCORER_PERCENT_KEY)
    new_text = text
    if percent is not None and (before_percent is None or before_percent.strip() != str(percent)):
        new_text = replace_percent_text(new_text, percent, name=path.name)
    pending = {k: v for k, v in routes.items() if before_routes.get(k) != v}
    if pending:
        new_text = replace_route_percents_text(new_text, pending, name=path.name)
    change = RolloutFileChange(path, stack, before_percent, None if percent is None else str(percent),
                               before_routes, dict(routes), is_written=new_text != text)
    if not change.is_written:
        return change
    _check_only_rollout_changed(path, text, new_text, stack, percent, {**before_routes, **routes})
    try:
        _write_atomically(path, new_text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path.name}: {exc}") from None
    return change


def replace_route_percents_text(text: str, updates: Mapping[str, int], *, name: str = "stack file") -> str:
    """Return `text` with each `scorerPercentByRoute` entry of `updates` replaced or added; pure."""
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise ConfigError(f"{name} is not valid YAML: {' '.join(str(exc).split())}") from None
    config = doc.get("config") if isinstance(doc, CommentedMap) else None
    if not isinstance(config, CommentedMap) or config.fa.flow_style() or not config:
        raise ConfigError(f"{name}: `config` must be a non-empty block mapping to be edited safely; set "
                          f"{BY_ROUTE_FULL_KEY} by hand")
    lines = _lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    if BY_ROUTE_FULL_KEY not in config:
        indent = config.lc.key(next(iter(config)))[1]
        anchor = next((k for k in (FULL_KEY, "aws:region") if k in config), None)
        at = config.lc.key(anchor)[0] + 1 if anchor is not None else config.lc.key(next(iter(config)))[0]
        block = [f"{' ' * indent}{BY_ROUTE_FULL_KEY}:{newline}"]
        block += [f"{' ' * (indent + 2)}{key}: {value}{newline}" for key, value in updates.items()]
        lines[at:at] = block
        return "".join(lines)
    mapping = config[BY_ROUTE_FULL_KEY]
    if mapping is None:  # `scorerPercentByRoute:` with no entries
        indent = config.lc.key(BY_ROUTE_FULL_KEY)[1] + 2
        at = config.lc.key(BY_ROUTE_FULL_KEY)[0] + 1
        lines[at:at] = [f"{' ' * indent}{key}: {value}{newline}" for key, value in updates.items()]
        return "".join(lines)
    if not isinstance(mapping, CommentedMap) or mapping.fa.flow_style() or not mapping:
        raise ConfigError(f"{name}: {BY_ROUTE_FULL_KEY} must be a block mapping to be edited safely; edit it by hand")
    for key, value in updates.items():
        if key not in mapping:
            continue
        line_no, col = mapping.lc.value(key)
        line = lines[line_no] if line_no < len(lines) else ""
        token = _scalar_token(line, col) if col < len(line) else None
        if token is None or isinstance(mapping[key], dict | list):
            raise ConfigError(f"{name}: {PERCENT_BY_ROUTE_KEY}.{key} on line {line_no + 1} is not a one-line scalar; "
                              "edit it by hand")
        quote = line[col] if line[col] in "'\"" else ""
        lines[line_no] = f"{line[:col]}{quote}{value}{quote}{line[col + len(token):]}"
    missing = [key for key in updates if key not in mapping]
    if missing:  # after the last entry (a one-line scalar), at its indentation
        last = list(mapping)[-1]
        line_no, indent = mapping.lc.key(last)
        lines[line_no + 1:line_no + 1] = [f"{' ' * indent}{key}: {updates[key]}{newline}" for key in missing]
    return "".join(lines)


def _check_only_rollout_changed(path: Path, old_text: str, new_text: str, stack: str, percent: int | None,
                                routes: Mapping[str, object]) -> None:
    """Parse both versions as the program would; only the two keys may differ, and the result must be valid."""
    old, new = parse_versions(path, old_text, new_text)
    touched = {SCORER_PERCENT_KEY, PERCENT_BY_ROUTE_KEY}
    old_rest = {k: v for k, v in old.config.items() if k not in touched}
    new_rest = {k: v for k, v in new.config.items() if k not in touched}
    percent_ok = percent is None or new.config.get(SCORER_PERCENT_KEY, "").strip() == str(percent)
    if (old_rest, old.other, old.secure_keys) != (new_rest, new.other, new.secure_keys) or not percent_ok or \
            read_route_percents(new.config) != dict(routes):
        raise ConfigError(f"{path.name}: could not change {PERCENT_BY_ROUTE_KEY} without touching other values; "
                          "edit it by hand")
    try:
        parse_settings(new.config, stack, has_database_url=DATABASE_URL_KEY in new.secure_keys)
    except SettingsError as exc:
        raise ConfigError(f"{path.name} would not be valid after the change, nothing written: {exc}") from None
