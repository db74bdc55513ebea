"""Fixture rows for local runs and tests (scoring contract §11.1, §11.2, §10.1).

Plain functions: each takes a psycopg 3 connection first and keyword-only values, fills EVERY NOT NULL column
(the schema has no defaults, §3.1), runs in the caller's transaction state and returns the new row's id. Addresses
are stored exactly as given (the Lambda writes lowercase; pass lowercase unless a test wants otherwise).
"""

from __future__ import annotations

import base64
import hashlib
import random
import string
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "db" / "schema.sql"

API_KEY_ALPHABET = string.ascii_letters + string.digits
PBKDF2_ITERATIONS = 600_000

# §8.2: point values of the actions this contract knows a value for.
DEFAULT_HUMAN_POINTS: dict[str, int] = {
    "SCB": 500,
    "HKY": 100,
    "ISB": 100,
    "ISS": 200,
    "ISG": 500,
    "CSB": 100,
    "CSE": 200,
    "CST": 500,
    "PMT": 300,
    "HIM": 1000,
}


def _now() -> datetime:
    return datetime.now(UTC)


def _insert(conn: psycopg.Connection[Any], sql: str, params: Mapping[str, Any]) -> Any:
    row = conn.execute(sql, params).fetchone()
    if row is None:  # pragma: no cover - INSERT … RETURNING always yields a row
        raise RuntimeError("INSERT returned no row")
    return row[0]


def load_schema(conn: psycopg.Connection[Any]) -> None:
    """Create every table of §3.2 from the project's DDL (an empty database is expected)."""
    conn.execute(SCHEMA_PATH.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------------------------
# Accounts, scorers, communities (§11.1)
# ------------------------------------------------------------------------------------------------------------------


def insert_account(conn: psycopg.Connection[Any], *, account_id: int, address: str, user_id: int) -> int:
    """Insert an ``account_account`` row (§11.1)."""
    return _insert(
        conn,
        "INSERT INTO account_account (id, address, user_id) VALUES (%(id)s, %(address)s, %(user_id)s) RETURNING id",
        {"id": account_id, "address": address, "user_id": user_id},
    )


def insert_scorer(
    conn: psycopg.Connection[Any],
    *,
    scorer_id: int,
    weights: Mapping[str, Any] | None,
    threshold: str | Decimal,
    type: str = "WEIGHTED_BINARY",
) -> int:
    """Insert a scorer and its typed row (§5.2, §11.1).

    ``weights`` is stored as jsonb by the standard ``json`` module: floats stay JSON numbers, strings stay strings
    (Decimal values are refused). ``type`` may be any string; only ``WEIGHTED`` writes the weighted-scorer table,
    everything else (including misconfigured types) writes the binary one.
    """
    _insert(
        conn,
        "INSERT INTO scorer_weighted_scorer (id, type, exclude_from_weight_updates)"
        " VALUES (%(id)s, %(type)s, false) RETURNING id",
        {"id": scorer_id, "type": type},
    )
    table = "scorer_weighted_weightedscorer" if type == "WEIGHTED" else "scorer_weighted_binaryweightedscorer"
    conn.execute(
        f"INSERT INTO {table} (scorer_ptr_id, weights, threshold) VALUES (%(id)s, %(weights)s, %(threshold)s)",
        {
            "id": scorer_id,
            "weights": None if weights is None else Jsonb(dict(weights)),
            "threshold": Decimal(str(threshold)),
        },
    )
    return scorer_id


def insert_community(
    conn: psycopg.Connection[Any],
    *,
    community_id: int,
    account_id: int,
    scorer_id: int,
    name: str | None = None,
    external_scorer_id: str | None = None,
    human_points_program: bool = False,
    created_at: datetime | None = None,
    deleted_at: datetime | None = None,
) -> int:
    """Insert an ``account_community`` row with ``rule = 'LIFO'`` (§11.1). Default name: ``Community <id>``."""
    return _insert(
        conn,
        "INSERT INTO account_community (id, name, description, account_id, scorer_id, created_at, rule, use_case,"
        " deleted_at, external_scorer_id, human_points_program)"
        " VALUES (%(id)s, %(name)s, %(description)s, %(account_id)s, %(scorer_id)s, %(created_at)s, 'LIFO',"
        " %(use_case)s, %(deleted_at)s, %(external_scorer_id)s, %(hpp)s) RETURNING id",
        {
            "id": community_id,
            "name": name if name is not None else f"Community {community_id}",
            "description": "Test community",
            "account_id": account_id,
            "scorer_id": scorer_id,
            "created_at": created_at or _now(),
            "use_case": "Sybil protection",
            "deleted_at": deleted_at,
            "external_scorer_id": external_scorer_id,
            "hpp": human_points_program,
        },
    )


# ------------------------------------------------------------------------------------------------------------------
# Partner API keys (§4.1, §11.2)
# ------------------------------------------------------------------------------------------------------------------


def make_api_key(rng_or_seed: random.Random | int | str | None = None) -> str:
    """A key of the form ``<8 alnum>.<32 alnum>`` (§11.2); deterministic for a given seed or RNG state."""
    rng = rng_or_seed if isinstance(rng_or_seed, random.Random) else random.Random(rng_or_seed)  # noqa: S311 - test keys

    def pick(n: int) -> str:
        return "".join(rng.choice(API_KEY_ALPHABET) for _ in range(n))

    return f"{pick(8)}.{pick(32)}"


def pbkdf2_hash(key: str, *, salt: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``pbkdf2_sha256$<iterations>$<salt>$<base64 digest>`` over the whole key (§11.2)."""
    digest = hashlib.pbkdf2_hmac("sha256", key.encode("utf-8"), salt.encode("utf-8"), iterations, dklen=32)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def sha256_hash(key: str) -> str:
    """``sha256$<64 lower-case hex>`` over the whole key (§4.1, §11.2)."""
    return "sha256$" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _salt_for(key: str) -> str:
    # 22 alphanumeric characters like the owning service's salts, derived from the key so rows are reproducible.
    return hashlib.sha256(b"salt:" + key.encode("utf-8")).hexdigest()[:22]


def insert_api_key(
    conn: psycopg.Connection[Any],
    *,
    key: str,
    account_id: int,
    with_sha256: bool = True,
    pbkdf2_iterations: int = PBKDF2_ITERATIONS,
    revoked: bool = False,
    expiry_date: datetime | None = None,
    rate_limit: str | None = "",
    embed_rate_limit: str | None = "125/15m",
    read_scores: bool = True,
    name: str = "test key",
    salt: str | None = None,
    created: datetime | None = None,
) -> str:
    """Insert an ``account_accountapikey`` row as the owning service creates it (§11.2); returns its id.

    ``with_sha256=False`` leaves ``hashed_key_sha256`` NULL to exercise the PBKDF2 path and the upgrade write.
    600000 PBKDF2 iterations cost ~0.3 s; tests may pass fewer (the count is stored in the hash string).
    """
    prefix = key.split(".", 1)[0]
    hashed_key = pbkdf2_hash(key, salt=salt if salt is not None else _salt_for(key), iterations=pbkdf2_iterations)
    return _insert(
        conn,
        "INSERT INTO account_accountapikey (id, prefix, hashed_key, created, name, revoked, expiry_date, account_id,"
        " rate_limit, create_scorers, read_scores, submit_passports, analysis_rate_limit, historical_endpoint,"
        " embed_rate_limit, hashed_key_sha256)"
        " VALUES (%(id)s, %(prefix)s, %(hashed_key)s, %(created)s, %(name)s, %(revoked)s, %(expiry_date)s,"
        " %(account_id)s, %(rate_limit)s, false, %(read_scores)s, true, '15/15m', false, %(embed_rate_limit)s,"
        " %(sha256)s) RETURNING id",
        {
            "id": f"{prefix}.{hashed_key}",
            "prefix": prefix,
            "hashed_key": hashed_key,
            "created": created or _now(),
            "name": name,
            "revoked": revoked,
            "expiry_date": expiry_date,
            "account_id": account_id,
            "rate_limit": rate_limit,
            "read_scores": read_scores,
            "embed_rate_limit": embed_rate_limit,
            "sha256": sha256_hash(key) if with_sha256 else None,
        },
    )


# ------------------------------------------------------------------------------------------------------------------
# Stamp cache (§3.2, §11.1)
# ------------------------------------------------------------------------------------------------------------------


def stamp_proof_value(stamp: Mapping[str, Any]) -> str:
    """``proof.proofValue``, or ``proof.jws`` for Ed25519 stamps, or ``''`` when the stamp has neither (§11.1)."""
    proof = stamp.get("proof")
    if not isinstance(proof, Mapping):
        return ""
    value = proof.get("proofValue") or proof.get("jws") or ""
    return str(value)


def _parse_stamp_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def insert_cache_row(
    conn: psycopg.Connection[Any],
    *,
    address: str,
    provider: str,
    stamp: Mapping[str, Any],
    type: int = 1,
    created_at: datetime | None = None,
    updated_at: datetime | None = None,
    deleted_at: datetime | None = None,
    source_app: int | None = None,
    source_scorer_id: int | None = None,
) -> int:
    """Insert a ``ceramic_cache_ceramiccache`` row (§3.2, §11.1); returns its id.

    ``created_at`` defaults to now and ``updated_at`` to ``created_at``. Issuance/expiration dates are parsed from
    the stamp (NULL when missing, unparseable or without an offset).
    """
    created = created_at or _now()
    return _insert(
        conn,
        "INSERT INTO ceramic_cache_ceramiccache (address, provider, stamp, created_at, updated_at, type, deleted_at,"
        " compose_db_save_status, compose_db_stream_id, expiration_date, issuance_date, proof_value, source_app,"
        " source_scorer_id)"
        " VALUES (%(address)s, %(provider)s, %(stamp)s, %(created_at)s, %(updated_at)s, %(type)s, %(deleted_at)s,"
        " 'pending', '', %(expiration_date)s, %(issuance_date)s, %(proof_value)s, %(source_app)s,"
        " %(source_scorer_id)s) RETURNING id",
        {
            "address": address,
            "provider": provider,
            "stamp": Jsonb(dict(stamp)),
            "created_at": created,
            "updated_at": updated_at or created,
            "type": type,
            "deleted_at": deleted_at,
            "expiration_date": _parse_stamp_date(stamp.get("expirationDate")),
            "issuance_date": _parse_stamp_date(stamp.get("issuanceDate")),
            "proof_value": stamp_proof_value(stamp),
            "source_app": source_app,
            "source_scorer_id": source_scorer_id,
        },
    )


def revoke_cache_row(conn: psycopg.Connection[Any], *, cache_id: int) -> int:
    """Insert a ``ceramic_cache_revocation`` row for a cache row, copying its proof value (§11.1)."""
    return _insert(
        conn,
        "INSERT INTO ceramic_cache_revocation (proof_value, ceramic_cache_id, revocation_list_id)"
        " SELECT proof_value, id, NULL FROM ceramic_cache_ceramiccache WHERE id = %(id)s RETURNING id",
        {"id": cache_id},
    )


# ------------------------------------------------------------------------------------------------------------------
# Customization overlay and address lists (§7.1, §8.2)
# ------------------------------------------------------------------------------------------------------------------


def insert_customization(conn: psycopg.Connection[Any], *, community_id: int, path: str) -> int:
    """Insert an ``account_customization`` row for a community (its ``scorer_id`` is the community id, §3.2)."""
    return _insert(
        conn,
        "INSERT INTO account_customization (path, scorer_id, use_custom_dashboard_panel, body_display_info_tooltip,"
        " button_action_type, show_explanation_panel, partner_name, nav_order, show_in_top_nav)"
        " VALUES (%(path)s, %(community_id)s, false, false, 'Simple Link', true, %(partner)s, 0, false)"
        " RETURNING id",
        {"path": path, "community_id": community_id, "partner": f"Partner {path}"},
    )


def insert_address_list(conn: psycopg.Connection[Any], *, name: str, members: Iterable[str] = ()) -> int:
    """Insert an ``account_addresslist`` and its members (§8.2 award lists, §7.1 allow lists)."""
    list_id = _insert(conn, "INSERT INTO account_addresslist (name) VALUES (%(name)s) RETURNING id", {"name": name})
    rows = [{"address": address, "list_id": list_id} for address in members]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO account_addresslistmember (address, list_id) VALUES (%(address)s, %(list_id)s)", rows
            )
    return list_id


def insert_allow_list(
    conn: psycopg.Connection[Any],
    *,
    customization_id: int,
    name: str,
    weight: str | Decimal,
    members: Iterable[str] = (),
) -> int:
    """Insert an address list plus the ``account_allowlist`` row giving ``AllowList#<name>`` its weight (§7.1)."""
    list_id = insert_address_list(conn, name=name, members=members)
    return _insert(
        conn,
        "INSERT INTO account_allowlist (weight, address_list_id, customization_id)"
        " VALUES (%(weight)s, %(list_id)s, %(customization_id)s) RETURNING id",
        {"weight": Decimal(str(weight)), "list_id": list_id, "customization_id": customization_id},
    )


def insert_custom_credential(
    conn: psycopg.Connection[Any],
    *,
    customization_id: int,
    provider_id: str,
    weight: str | Decimal,
    platform_id: int = 1,
) -> int:
    """Insert a ruleset plus the ``account_customcredential`` row weighting ``provider_id`` (§7.1)."""
    ruleset_id = _insert(
        conn,
        "INSERT INTO account_customcredentialruleset (credential_type, definition, name, provider_id)"
        " VALUES ('DEVEL', %(definition)s, %(name)s, %(provider_id)s) RETURNING id",
        {
            "definition": Jsonb({"name": provider_id, "condition": {"AND": []}}),
            "name": provider_id[:64],
            "provider_id": provider_id,
        },
    )
    return _insert(
        conn,
        "INSERT INTO account_customcredential (weight, display_name, description, customization_id, platform_id,"
        " ruleset_id) VALUES (%(weight)s, %(display_name)s, NULL, %(customization_id)s, %(platform_id)s,"
        " %(ruleset_id)s) RETURNING id",
        {
            "weight": Decimal(str(weight)),
            "display_name": provider_id[:64],
            "customization_id": customization_id,
            "platform_id": platform_id,
            "ruleset_id": ruleset_id,
        },
    )


# ------------------------------------------------------------------------------------------------------------------
# Human points and nullifier links (§6, §8)
# ------------------------------------------------------------------------------------------------------------------


def insert_human_points_config(
    conn: psycopg.Connection[Any], *, points: Mapping[str, int] | None = None, active: bool = True
) -> list[int]:
    """Insert ``registry_humanpointsconfig`` rows (defaults: the values of §8.2); returns their ids."""
    values = DEFAULT_HUMAN_POINTS if points is None else points
    return [
        _insert(
            conn,
            "INSERT INTO registry_humanpointsconfig (action, points, active)"
            " VALUES (%(action)s, %(points)s, %(active)s) RETURNING id",
            {"action": action, "points": value, "active": active},
        )
        for action, value in values.items()
    ]


def insert_link(
    conn: psycopg.Connection[Any], *, hash: str, address: str, community_id: int, expires_at: datetime
) -> int:
    """Insert a ``registry_hashscorerlink`` row: ``address`` owns nullifier ``hash`` until ``expires_at`` (§6.1)."""
    return _insert(
        conn,
        "INSERT INTO registry_hashscorerlink (hash, address, expires_at, community_id)"
        " VALUES (%(hash)s, %(address)s, %(expires_at)s, %(community_id)s) RETURNING id",
        {"hash": hash, "address": address, "expires_at": expires_at, "community_id": community_id},
    )
