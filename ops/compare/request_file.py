"""The input file of `ops compare` (production contract P11.2): routes and parameters, never credentials. Pure.

```json
{"api_key_env": "SCORER_COMPARE_API_KEY", "jwt_env": "SCORER_COMPARE_JWT",
 "hosts": {"public": "api.passport.xyz", "internal": "localhost"},
 "requests": [
   {"route": "E1", "scorer_id": 335, "addresses": ["0x…", "0x…"]},
   {"route": "E11", "scorer_id": 335, "addresses_file": "addresses.txt"},
   {"route": "E6", "address": "0x…", "alternate_scorer_id": 335},
   {"route": "E7"}, {"route": "E8", "address": "0x…"}, {"route": "E10"}]}
```

An entry expands to one request per address (`address`, `addresses`, or `addresses_file`: one per line, `#` starts
a comment, relative to the request file). The partner API key (E1, E10) and the JWT (E6) are read from the
environment variables the file names (defaults above); a file that holds a credential is refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.compare.routes import COMPARE_ROUTES, CompareRoute, refusal

DEFAULT_API_KEY_ENV = "SCORER_COMPARE_API_KEY"
DEFAULT_JWT_ENV = "SCORER_COMPARE_JWT"
DEFAULT_HOSTS: Mapping[str, str] = {"public": "api.passport.xyz", "internal": "localhost"}
MAX_REQUESTS = 100_000

_TOP_KEYS = frozenset({"api_key_env", "jwt_env", "hosts", "requests"})
_ADDRESS_KEYS = ("address", "addresses", "addresses_file")
_SECRET_KEYS = frozenset({"api_key", "apikey", "x-api-key", "key", "jwt", "token", "authorization", "headers",
                          "bearer", "secret"})
# One path segment or query value: no '/', '?', '#', '%' or spaces, so nothing needs encoding and nothing is injected.
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$")


class RequestFileError(ValueError):
    """The request file is not usable; the message names the entry and the field."""


@dataclass(frozen=True)
class CompareRequest:
    """One request to send to both sides. `address` serialises requests for the same address."""

    index: int
    route: CompareRoute
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    address: str | None = None

    def describe(self) -> dict[str, Any]:
        """The request as the report shows it: no credentials, only what was sent besides them."""
        return {"route": self.route.key, "method": self.route.method, "path": self.path, "query": dict(self.query)}


@dataclass(frozen=True)
class RequestFile:
    requests: tuple[CompareRequest, ...]
    api_key_env: str = DEFAULT_API_KEY_ENV
    jwt_env: str = DEFAULT_JWT_ENV
    hosts: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_HOSTS))


@dataclass(frozen=True)
class Credentials:
    """What the requests need from the environment; `repr` never shows the values."""

    api_key: str | None = field(default=None, repr=False)
    jwt: str | None = field(default=None, repr=False)


def load_request_file(path: Path) -> RequestFile:
    """Read and validate a request file; raise `RequestFileError` with a message for the operator."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise RequestFileError(f"cannot read the request file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise RequestFileError(f"{path} is not valid JSON: {exc}") from None
    return parse_request_file(doc, base_dir=Path(path).parent, name=str(path))


def parse_request_file(doc: Any, *, base_dir: Path, name: str = "request file") -> RequestFile:
    """Validate a decoded request file and expand its entries into requests."""
    if not isinstance(doc, dict):
        raise RequestFileError(f"{name} must be a JSON object with a \"requests\" list")
    _refuse_secrets(doc, name)
    if unknown := sorted(set(doc) - _TOP_KEYS):
        raise RequestFileError(f"{name}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_TOP_KEYS))})")
    api_key_env = _env_name(doc.get("api_key_env", DEFAULT_API_KEY_ENV), "api_key_env", name)
    jwt_env = _env_name(doc.get("jwt_env", DEFAULT_JWT_ENV), "jwt_env", name)
    hosts = dict(DEFAULT_HOSTS)
    raw_hosts = doc.get("hosts", {})
    if not isinstance(raw_hosts, dict) or set(raw_hosts) - set(DEFAULT_HOSTS) or not all(
            isinstance(h, str) and _HOST.match(h) for h in raw_hosts.values()):
        raise RequestFileError(f"{name}: hosts must map public/internal to a host name, got {raw_hosts!r}")
    hosts.update(raw_hosts)
    entries = doc.get("requests")
    if not isinstance(entries, list) or not entries:
        raise RequestFileError(f"{name}: \"requests\" must be a non-empty list")
    requests: list[CompareRequest] = []
    for number, entry in enumerate(entries, start=1):
        for path, query, address, route in _expand(entry, f"{name}: request {number}", base_dir):
            requests.append(CompareRequest(len(requests), route, path, query, address))
            if len(requests) > MAX_REQUESTS:
                raise RequestFileError(f"{name}: more than {MAX_REQUESTS} requests; split the file")
    return RequestFile(tuple(requests), api_key_env, jwt_env, hosts)


def read_credentials(request_file: RequestFile, environ: Mapping[str, str]) -> Credentials:
    """The API key and JWT the requests need, from the environment; raise when one is needed but not set."""
    needs = {r.route.auth for r in request_file.requests}
    values = {}
    for auth, variable in (("api_key", request_file.api_key_env), ("jwt", request_file.jwt_env)):
        value = environ.get(variable, "").strip()
        if auth in needs and not value:
            routes = sorted({r.route.key for r in request_file.requests if r.route.auth == auth})
            what = "a partner API key" if auth == "api_key" else "a JWT (Bearer token)"
            raise RequestFileError(f"{', '.join(routes)} need {what}: export {variable} (the file never holds it)")
        values[auth] = value or None
    return Credentials(api_key=values["api_key"], jwt=values["jwt"])


def _expand(entry: Any, where: str, base_dir: Path) -> list[tuple[str, dict[str, str], str | None, CompareRoute]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("route"), str):
        raise RequestFileError(f"{where}: must be an object with a \"route\" (E1, E6, E7, E8, E10 or E11)")
    route = COMPARE_ROUTES.get(entry["route"].strip().upper())
    if route is None:
        raise RequestFileError(f"{where}: {refusal(entry['route'].strip().upper())}")
    takes_address = "address" in route.path_params or "address" in route.query_params
    allowed = {"route", *route.path_params, *route.query_params, *(_ADDRESS_KEYS if takes_address else ())}
    if unknown := sorted(set(entry) - allowed):
        raise RequestFileError(f"{where} ({route.key}): unknown key(s) {', '.join(unknown)} "
                               f"(allowed: {', '.join(sorted(allowed))})")
    fixed = {p: _segment(entry[p], p, where) for p in (*route.path_params, *route.query_params)
             if p != "address" and p in entry}
    if missing := [p for p in route.path_params if p != "address" and p not in fixed]:
        raise RequestFileError(f"{where} ({route.key}): missing {', '.join(missing)}")
    addresses = _addresses(entry, where, base_dir) if takes_address else [None]
    expanded = []
    for address in addresses:
        values = {**fixed, **({"address": address} if address is not None else {})}
        path = route.template.format(**{p: values[p] for p in route.path_params})
        query = {p: values[p] for p in route.query_params if p in values}
        expanded.append((path, query, address.lower() if address else None, route))
    return expanded


def _addresses(entry: Mapping[str, Any], where: str, base_dir: Path) -> list[str]:
    given = [k for k in _ADDRESS_KEYS if k in entry]
    if len(given) != 1:
        raise RequestFileError(f"{where}: give exactly one of address, addresses or addresses_file")
    key = given[0]
    if key == "address":
        return [_segment(entry[key], "address", where)]
    if key == "addresses":
        if not isinstance(entry[key], list) or not entry[key]:
            raise RequestFileError(f"{where}: addresses must be a non-empty list")
        return [_segment(a, "addresses", where) for a in entry[key]]
    if not isinstance(entry[key], str):
        raise RequestFileError(f"{where}: addresses_file must be a file name")
    path = base_dir / entry[key]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise RequestFileError(f"{where}: cannot read addresses_file {path}: {exc.strerror or exc}") from None
    addresses = [line.split("#", 1)[0].strip() for line in lines]
    addresses = [_segment(a, f"addresses_file {path.name}", where) for a in addresses if a]
    if not addresses:
        raise RequestFileError(f"{where}: addresses_file {path} lists no address")
    return addresses


def _segment(value: Any, key: str, where: str) -> str:
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _SEGMENT.match(text):
        raise RequestFileError(f"{where}: {key} must be 1-128 letters, digits, '.', '_', '~' or '-', got {value!r}")
    return text


def _env_name(value: Any, key: str, name: str) -> str:
    if not isinstance(value, str) or not _ENV_NAME.match(value):
        raise RequestFileError(f"{name}: {key} must be the name of an environment variable, got {value!r}")
    return value


def _refuse_secrets(node: Any, name: str, trail: Sequence[str] = ()) -> None:
    """Credentials belong in the environment, where they stay out of files, reviews and shell history of others."""
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.strip().lower() in _SECRET_KEYS:
                raise RequestFileError(f"{name}: {'.'.join([*trail, key])} looks like a credential; the file never "
                                       "holds one: the API key and the JWT are read from the environment variables "
                                       "named by api_key_env and jwt_env")
            _refuse_secrets(value, name, [*trail, str(key)])
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _refuse_secrets(item, name, [*trail, str(i)])
