"""Change `scorerPercent` in a committed `Pulumi.<stack>.yaml` without disturbing anything else (routing contract
§5.2, §5.4).

ruamel.yaml's round-trip loader locates the value (line and column); only that scalar token is replaced in the
original text, keeping its quoting, so comments, key order, indentation, flow mappings and line endings stay
byte-for-byte as they were. A missing key is added as one line right after `aws:region` (or first in `config`).
The result is parsed again and must differ from the original only in that key, and the whole file must still pass
the program's settings parser; otherwise nothing is written.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from components.settings import (
    DATABASE_URL_KEY,
    PROJECT,
    SCORER_PERCENT_KEY,
    SettingsError,
    load_stack_file,
    parse_scorer_percent,
    parse_settings,
)
from components.stack_files import StackFile
from ops.errors import ConfigError

FULL_KEY = f"{PROJECT}:{SCORER_PERCENT_KEY}"
_QUOTED = {'"': re.compile(r'"(?:[^"\\\n]|\\.)*"'), "'": re.compile(r"'(?:[^'\n]|'')*'")}
_PLAIN = re.compile(r"[^\s#][^#\n]*?(?=\s+#|\s*$)")


@dataclass(frozen=True)
class PercentChange:
    """What `set_percent` did: the raw value before (None when the key was absent), the value after, and whether
    the file was written."""

    path: Path
    stack: str
    before: str | None
    after: int
    is_written: bool


def read_percent(path: Path) -> str | None:
    """The raw `scorerPercent` text of a stack file, None when the key is absent."""
    return load_stack_file(path).config.get(SCORER_PERCENT_KEY)


def set_percent(path: Path, stack: str, raw_percent: str) -> PercentChange:
    """Validate `raw_percent` like the program does (§5.2) and write it into the stack file, touching only that value.

    Raises `ConfigError` for an invalid percentage (naming key, stack and value), a file it cannot edit safely, or a
    result the settings parser rejects. Writing is atomic (temporary file + rename); an unchanged value is not written.
    """
    try:
        percent = parse_scorer_percent(raw_percent, stack)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        text = path.read_bytes().decode("utf-8")  # not read_text: universal newlines would turn CRLF into LF
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path.name}: {exc}") from None
    try:
        before = read_percent(path)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path.name} is not a valid stack file: {' '.join(str(exc).split())}") from None
    if before is not None and before.strip() == str(percent):
        return PercentChange(path, stack, before, percent, is_written=False)
    new_text = replace_percent_text(text, percent, name=path.name)
    _check_only_percent_changed(path, text, new_text, stack, percent)
    try:
        _write_atomically(path, new_text)
    except OSError as exc:
        raise ConfigError(f"cannot write {path.name}: {exc}") from None
    return PercentChange(path, stack, before, percent, is_written=True)


def replace_percent_text(text: str, percent: int, *, name: str = "stack file") -> str:
    """Return `text` with the `scorerPercent` value replaced (or the key added); pure."""
    try:
        doc = YAML(typ="rt").load(text)
    except YAMLError as exc:
        raise ConfigError(f"{name} is not valid YAML: {' '.join(str(exc).split())}") from None
    if doc is not None and not isinstance(doc, CommentedMap):
        raise ConfigError(f"{name} must be a YAML mapping with a `config:` key")
    lines = _lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    config = None if doc is None else doc.get("config")
    if config is None:
        return _add_config_section(text, lines, doc, percent, newline)
    if not isinstance(config, CommentedMap) or config.fa.flow_style():
        raise ConfigError(f"{name}: `config` must be a block mapping to be edited safely; set {FULL_KEY} by hand")
    if FULL_KEY not in config:
        return _insert_key(lines, config, percent, newline)
    if isinstance(config[FULL_KEY], dict | list):
        raise ConfigError(f"{name}: {FULL_KEY} holds a list or mapping; set it by hand")
    if config[FULL_KEY] is None:  # `scorerPercent:` with no value: write it after the colon
        line_no = config.lc.key(FULL_KEY)[0]
        line = lines[line_no]
        at = line.index(f"{FULL_KEY}:") + len(FULL_KEY) + 1
        lines[line_no] = f"{line[:at]} {percent}{line[at:]}"
        return "".join(lines)
    line_no, col = config.lc.value(FULL_KEY)
    line = lines[line_no] if line_no < len(lines) else ""
    token = _scalar_token(line, col) if col < len(line) else None
    if token is None:
        raise ConfigError(f"{name}: the value of {FULL_KEY} on line {line_no + 1} is not a one-line scalar; "
                          "edit it by hand")
    quote = line[col] if line[col] in _QUOTED else ""
    lines[line_no] = f"{line[:col]}{quote}{percent}{quote}{line[col + len(token):]}"
    return "".join(lines)


def _lines(text: str) -> list[str]:
    """Lines with their endings, split on "\\n" only: the line numbers ruamel.yaml reports for YAML 1.2 text."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _scalar_token(line: str, col: int) -> str | None:
    """The scalar starting at `col`: a quoted string or a plain scalar up to a comment or the end of the line."""
    pattern = _QUOTED.get(line[col:col + 1], _PLAIN)
    match = pattern.match(line, col)
    return match.group(0) if match else None


def _insert_key(lines: list[str], config: CommentedMap, percent: int, newline: str) -> str:
    keys = list(config)  # non-empty: an empty block mapping loads as None
    anchor = "aws:region" if "aws:region" in config else None
    indent = config.lc.key(keys[0])[1]
    # Right after `aws:region: <value>` (a one-line scalar), else before the first entry.
    at = config.lc.key(anchor)[0] + 1 if anchor is not None else config.lc.key(keys[0])[0]
    lines.insert(at, f"{' ' * indent}{FULL_KEY}: {percent}{newline}")
    return "".join(lines)


def _add_config_section(text: str, lines: list[str], doc: CommentedMap | None, percent: int, newline: str) -> str:
    entry = f"  {FULL_KEY}: {percent}{newline}"
    if doc is not None and "config" in doc:  # `config:` with no entries
        at = doc.lc.key("config")[0] + 1
        lines.insert(at, entry)
        return "".join(lines)
    prefix = text if not text or text.endswith(("\n", "\r\n")) else text + newline
    return f"{prefix}config:{newline}{entry}"


def parse_versions(path: Path, old_text: str, new_text: str) -> tuple[StackFile, StackFile]:
    """Parse the text before and after an edit of ``path`` exactly as the program would read the file."""
    with tempfile.TemporaryDirectory() as tmp:
        old_file, new_file = Path(tmp) / "old.yaml", Path(tmp) / "new.yaml"
        old_file.write_text(old_text, encoding="utf-8")
        new_file.write_text(new_text, encoding="utf-8")
        try:
            return load_stack_file(old_file), load_stack_file(new_file)
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path.name}: {exc}") from None


def _check_only_percent_changed(path: Path, old_text: str, new_text: str, stack: str, percent: int) -> None:
    """Parse both versions as the program would; everything but scorerPercent must be equal and valid."""
    old, new = parse_versions(path, old_text, new_text)
    old_rest = {k: v for k, v in old.config.items() if k != SCORER_PERCENT_KEY}
    new_rest = {k: v for k, v in new.config.items() if k != SCORER_PERCENT_KEY}
    if (old_rest, old.other, old.secure_keys) != (new_rest, new.other, new.secure_keys) or \
            new.config.get(SCORER_PERCENT_KEY, "").strip() != str(percent):
        raise ConfigError(f"{path.name}: could not change {FULL_KEY} without touching other values; edit it by hand")
    try:
        parse_settings(new.config, stack, has_database_url=DATABASE_URL_KEY in new.secure_keys)
    except SettingsError as exc:
        raise ConfigError(f"{path.name} would not be valid after the change, nothing written: {exc}") from None


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp_name, path.stat().st_mode & 0o777)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
