"""The project's DDL matches the data-model facts of scoring contract §3.1/§3.2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg import errors

# (column, type as format_type() prints it, nullable) for every column the contract lists, in table order.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "ceramic_cache_ceramiccache": [
        ("id", "bigint", False),
        ("address", "character varying(100)", True),
        ("provider", "character varying(256)", False),
        ("stamp", "jsonb", False),
        ("created_at", "timestamp with time zone", True),
        ("updated_at", "timestamp with time zone", False),
        ("type", "integer", False),
        ("deleted_at", "timestamp with time zone", True),
        ("compose_db_save_status", "character varying(10)", False),
        ("compose_db_stream_id", "character varying(100)", False),
        ("expiration_date", "timestamp with time zone", True),
        ("issuance_date", "timestamp with time zone", True),
        ("proof_value", "character varying(256)", False),
        ("source_app", "integer", True),
        ("source_scorer_id", "bigint", True),
    ],
    "ceramic_cache_revocation": [
        ("id", "bigint", False),
        ("proof_value", "character varying(256)", False),
        ("ceramic_cache_id", "bigint", False),
        ("revocation_list_id", "bigint", True),
    ],
    "registry_passport": [
        ("id", "bigint", False),
        ("community_id", "bigint", True),
        ("address", "character varying(100)", True),
        ("requires_calculation", "boolean", True),
    ],
    "registry_score": [
        ("id", "bigint", False),
        ("score", "numeric(18,9)", True),
        ("passport_id", "bigint", False),
        ("error", "text", True),
        ("last_score_timestamp", "timestamp with time zone", True),
        ("status", "character varying(20)", True),
        ("evidence", "jsonb", True),
        ("stamp_scores", "jsonb", True),
        ("expiration_date", "timestamp with time zone", True),
        ("stamps", "jsonb", True),
    ],
    "registry_stamp": [
        ("id", "bigint", False),
        ("provider", "character varying(256)", False),
        ("credential", "jsonb", False),
        ("passport_id", "bigint", True),
    ],
    "registry_hashscorerlink": [
        ("id", "bigint", False),
        ("hash", "character varying(100)", False),
        ("address", "character varying(42)", False),
        ("expires_at", "timestamp with time zone", False),
        ("community_id", "bigint", False),
    ],
    "registry_event": [
        ("id", "bigint", False),
        ("action", "character varying(3)", False),
        ("address", "character varying(42)", False),
        ("created_at", "timestamp with time zone", False),
        ("data", "jsonb", False),
        ("community_id", "bigint", True),
    ],
    "account_accountapikey": [
        ("id", "character varying(150)", False),
        ("prefix", "character varying(8)", False),
        ("hashed_key", "character varying(150)", False),
        ("created", "timestamp with time zone", False),
        ("name", "character varying(50)", False),
        ("revoked", "boolean", False),
        ("expiry_date", "timestamp with time zone", True),
        ("account_id", "bigint", False),
        ("rate_limit", "character varying(20)", True),
        ("create_scorers", "boolean", False),
        ("read_scores", "boolean", False),
        ("submit_passports", "boolean", False),
        ("analysis_rate_limit", "character varying(20)", True),
        ("historical_endpoint", "boolean", False),
        ("embed_rate_limit", "character varying(20)", True),
        ("hashed_key_sha256", "character varying(71)", True),
    ],
    "account_accountapikeyanalytics": [
        ("id", "bigint", False),
        ("created_at", "timestamp with time zone", True),
        ("path", "character varying(1000)", False),
        ("api_key_id", "character varying(150)", False),
        ("base_path", "character varying(200)", True),
        ("error", "text", True),
        ("headers", "jsonb", True),
        ("path_segments", "jsonb", True),
        ("payload", "jsonb", True),
        ("query_params", "jsonb", True),
        ("response", "jsonb", True),
        ("response_skipped", "boolean", True),
        ("status_code", "integer", True),
    ],
    "account_community": [
        ("id", "bigint", False),
        ("name", "character varying(100)", False),
        ("description", "character varying(100)", False),
        ("account_id", "bigint", False),
        ("scorer_id", "bigint", False),
        ("created_at", "timestamp with time zone", True),
        ("rule", "character varying(100)", False),
        ("use_case", "character varying(100)", True),
        ("deleted_at", "timestamp with time zone", True),
        ("external_scorer_id", "character varying(42)", True),
        ("human_points_program", "boolean", False),
    ],
    "account_account": [
        ("id", "bigint", False),
        ("address", "character varying(100)", False),
        ("user_id", "integer", False),
    ],
    "scorer_weighted_scorer": [
        ("id", "bigint", False),
        ("type", "character varying(100)", False),
        ("exclude_from_weight_updates", "boolean", False),
    ],
    "scorer_weighted_binaryweightedscorer": [
        ("scorer_ptr_id", "bigint", False),
        ("weights", "jsonb", True),
        ("threshold", "numeric(10,5)", False),
    ],
    "scorer_weighted_weightedscorer": [
        ("scorer_ptr_id", "bigint", False),
        ("weights", "jsonb", True),
        ("threshold", "numeric(10,5)", False),
    ],
    "account_customization": [
        ("id", "bigint", False),
        ("path", "character varying(100)", False),
        ("scorer_id", "bigint", False),
        ("use_custom_dashboard_panel", "boolean", False),
        ("body_display_info_tooltip", "boolean", False),
        ("button_action_type", "character varying(25)", False),
        ("show_explanation_panel", "boolean", False),
        ("partner_name", "character varying(100)", False),
        ("nav_order", "integer", False),
        ("show_in_top_nav", "boolean", False),
    ],
    "account_allowlist": [
        ("id", "bigint", False),
        ("weight", "numeric(7,4)", False),
        ("address_list_id", "bigint", False),
        ("customization_id", "bigint", False),
    ],
    "account_customcredential": [
        ("id", "bigint", False),
        ("weight", "numeric(7,4)", False),
        ("display_name", "character varying(64)", False),
        ("description", "character varying(256)", True),
        ("customization_id", "bigint", False),
        ("platform_id", "bigint", False),
        ("ruleset_id", "bigint", False),
    ],
    "account_customcredentialruleset": [
        ("id", "bigint", False),
        ("credential_type", "character varying(5)", False),
        ("definition", "jsonb", False),
        ("name", "character varying(64)", False),
        ("provider_id", "character varying(256)", False),
    ],
    "account_addresslist": [
        ("id", "bigint", False),
        ("name", "character varying(100)", False),
    ],
    "account_addresslistmember": [
        ("id", "bigint", False),
        ("address", "character varying(100)", False),
        ("list_id", "bigint", False),
    ],
    "registry_humanpoints": [
        ("id", "bigint", False),
        ("address", "character varying(42)", False),
        ("action", "character varying(3)", False),
        ("timestamp", "timestamp with time zone", False),
        ("tx_hash", "character varying(100)", False),
        ("chain_id", "integer", False),
        ("provider", "character varying(100)", False),
    ],
    "registry_humanpointscommunityqualifiedusers": [
        ("id", "bigint", False),
        ("address", "character varying(42)", False),
        ("community_id", "bigint", False),
    ],
    "registry_humanpointsconfig": [
        ("id", "bigint", False),
        ("action", "character varying(3)", False),
        ("points", "integer", False),
        ("active", "boolean", False),
    ],
    "registry_humanpointsmultiplier": [
        ("address", "character varying(42)", False),
        ("multiplier", "integer", False),
    ],
}

# Tables whose extra (display) columns the contract leaves open; every extra column must be nullable.
TABLES_WITH_EXTRA_COLUMNS = {"account_customization"}

# Single-column and multi-column UNIQUE constraints / primary keys of §3.2.
EXPECTED_UNIQUE: set[tuple[str, tuple[str, ...]]] = {
    ("ceramic_cache_ceramiccache", ("type", "address", "provider", "deleted_at")),
    ("ceramic_cache_revocation", ("ceramic_cache_id",)),
    ("registry_passport", ("address", "community_id")),
    ("registry_score", ("passport_id",)),
    ("registry_hashscorerlink", ("hash", "community_id")),
    ("account_accountapikey", ("prefix",)),
    ("account_community", ("external_scorer_id",)),
    ("account_account", ("user_id",)),
    ("account_customization", ("path",)),
    ("account_customization", ("scorer_id",)),
    ("account_customcredentialruleset", ("provider_id",)),
    ("account_addresslist", ("name",)),
    ("account_addresslistmember", ("address", "list_id")),
    ("registry_humanpoints", ("address", "action", "chain_id", "provider", "tx_hash")),
    ("registry_humanpointscommunityqualifiedusers", ("address", "community_id")),
    ("registry_humanpointsconfig", ("action",)),
}

NOW = datetime(2026, 11, 22, 13, 49, 56, tzinfo=UTC)


def _columns(db: psycopg.Connection[Any], table: str) -> list[tuple[str, str, bool]]:
    return [
        (name, type_, not notnull)
        for name, type_, notnull in db.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a"
            " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table,),
        ).fetchall()
    ]


def _cache_row(db: psycopg.Connection[Any], *, provider: str = "Google", deleted_at: datetime | None = None) -> None:
    db.execute(
        "INSERT INTO ceramic_cache_ceramiccache (address, provider, stamp, created_at, updated_at, type, deleted_at,"
        " compose_db_save_status, compose_db_stream_id, expiration_date, issuance_date, proof_value, source_app,"
        " source_scorer_id) VALUES (%s, %s, %s, %s, %s, 1, %s, 'pending', '', NULL, NULL, '0x00', NULL, NULL)",
        ("0x" + "a" * 40, provider, json.dumps({"provider": provider}), NOW, NOW, deleted_at),
    )


def test_schema_has_exactly_the_contract_tables(db: psycopg.Connection[Any]) -> None:
    tables = {row[0] for row in db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert tables == set(EXPECTED_COLUMNS)


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_columns_types_and_nullability_match_the_contract(db: psycopg.Connection[Any], table: str) -> None:
    actual = _columns(db, table)
    expected = EXPECTED_COLUMNS[table]
    if table in TABLES_WITH_EXTRA_COLUMNS:
        extras = [column for column in actual if column[0] not in {name for name, _, _ in expected}]
        assert all(nullable for _, _, nullable in extras), f"{table}: extra columns must be nullable: {extras}"
        actual = [column for column in actual if column not in extras]
    assert actual == expected, table


def test_no_column_has_a_default(db: psycopg.Connection[Any]) -> None:
    defaults = db.execute(
        "SELECT c.relname, a.attname FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid"
        " JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
        " WHERE c.relnamespace = 'public'::regnamespace"
    ).fetchall()
    assert defaults == []
    assert (
        db.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_default IS NOT NULL"
        ).fetchall()
        == []
    )


def test_identity_columns_are_the_bigint_ids(db: psycopg.Connection[Any]) -> None:
    identity = set(
        db.execute(
            "SELECT table_name, column_name, identity_generation FROM information_schema.columns"
            " WHERE table_schema = 'public' AND is_identity = 'YES'"
        ).fetchall()
    )
    expected = {
        (table, "id", "BY DEFAULT")
        for table, columns in EXPECTED_COLUMNS.items()
        if columns[0] == ("id", "bigint", False)
    }
    assert identity == expected
    assert ("account_accountapikey", "id", "BY DEFAULT") not in identity


def test_primary_keys(db: psycopg.Connection[Any]) -> None:
    keys = dict(
        db.execute(
            "SELECT conrelid::regclass::text, array_agg(a.attname ORDER BY a.attnum) FROM pg_constraint c"
            " JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)"
            " WHERE c.contype = 'p' AND c.connamespace = 'public'::regnamespace GROUP BY c.conrelid"
        ).fetchall()
    )
    assert keys["account_accountapikey"] == ["id"]
    assert keys["registry_humanpointsmultiplier"] == ["address"]
    assert keys["scorer_weighted_binaryweightedscorer"] == ["scorer_ptr_id"]
    assert keys["scorer_weighted_weightedscorer"] == ["scorer_ptr_id"]
    assert set(keys) == set(EXPECTED_COLUMNS)


def test_unique_constraints_match_the_contract(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT conrelid::regclass::text,"
        " array(SELECT attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)"
        "       JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)"
        " FROM pg_constraint c WHERE c.contype = 'u' AND c.connamespace = 'public'::regnamespace"
    ).fetchall()
    assert {(table, tuple(columns)) for table, columns in rows} == EXPECTED_UNIQUE


def test_named_human_points_constraint_exists_and_serves_on_conflict(db: psycopg.Connection[Any]) -> None:
    row = db.execute(
        "SELECT contype, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conname = 'unique_human_points_constraint' AND conrelid = 'registry_humanpoints'::regclass"
    ).fetchone()
    assert row == ("u", "UNIQUE (address, action, chain_id, provider, tx_hash)")
    insert = (
        "INSERT INTO registry_humanpoints (address, action, timestamp, tx_hash, chain_id, provider)"
        " VALUES ('0xa', 'HKY', %s, 'v1:g', 0, 'Google')"
        " ON CONFLICT ON CONSTRAINT unique_human_points_constraint DO NOTHING RETURNING id"
    )
    assert db.execute(insert, (NOW,)).fetchone() is not None
    assert db.execute(insert, (NOW,)).fetchone() is None


def test_named_indexes_exist_with_their_definitions(db: psycopg.Connection[Any]) -> None:
    indexes = dict(db.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'").fetchall())
    assert indexes["unique_non_deleted_provider_for_address"].endswith(
        "USING btree (type, address, provider) WHERE (deleted_at IS NULL)"
    )
    assert indexes["unique_non_deleted_provider_for_address"].startswith("CREATE UNIQUE INDEX")
    assert indexes["unique_deleted_provider_for_address"].endswith(
        "USING btree (type, address, provider, deleted_at) WHERE (deleted_at IS NOT NULL)"
    )
    assert indexes["unique_deleted_provider_for_address"].startswith("CREATE UNIQUE INDEX")
    assert indexes["idx_cc_addr_id_not_deleted"].endswith("USING btree (address, id DESC) WHERE (deleted_at IS NULL)")
    assert indexes["score_history_index"].endswith("USING btree (action, address, community_id, created_at)")
    assert "registry_event" in indexes["score_history_index"]


def test_two_live_cache_rows_for_one_provider_are_rejected(db: psycopg.Connection[Any]) -> None:
    _cache_row(db)
    with pytest.raises(errors.UniqueViolation, match="unique_non_deleted_provider_for_address"):
        _cache_row(db)


def test_soft_deleted_duplicates_are_allowed(db: psycopg.Connection[Any]) -> None:
    _cache_row(db, deleted_at=NOW - timedelta(hours=2))
    _cache_row(db, deleted_at=NOW - timedelta(hours=1))
    _cache_row(db)  # one live row next to deleted ones
    _cache_row(db, provider="Ens")
    count = db.execute("SELECT count(*) FROM ceramic_cache_ceramiccache WHERE provider = 'Google'").fetchone()
    assert count == (3,)
    with pytest.raises(errors.UniqueViolation):
        _cache_row(db, deleted_at=NOW - timedelta(hours=1))  # same deleted_at twice


def test_live_row_on_conflict_infers_the_partial_index(db: psycopg.Connection[Any]) -> None:
    _cache_row(db)
    cur = db.execute(
        "INSERT INTO ceramic_cache_ceramiccache (address, provider, stamp, created_at, updated_at, type,"
        " compose_db_save_status, compose_db_stream_id, proof_value) VALUES (%s, 'Google', '{}', %s, %s, 1,"
        " 'pending', '', '0x01') ON CONFLICT (type, address, provider) WHERE deleted_at IS NULL DO NOTHING",
        ("0x" + "a" * 40, NOW, NOW),
    )
    assert cur.rowcount == 0


def test_foreign_keys_are_deferrable_initially_deferred(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT conname, condeferrable, condeferred FROM pg_constraint"
        " WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
    ).fetchall()
    assert len(rows) >= 15
    assert [name for name, deferrable, deferred in rows if not (deferrable and deferred)] == []


def test_foreign_key_is_checked_at_commit(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(errors.ForeignKeyViolation), db.transaction():
        db.execute(
            "INSERT INTO registry_hashscorerlink (hash, address, expires_at, community_id)"
            " VALUES ('v0.0.0:x', '0xa', %s, 999)",
            (NOW,),
        )
        # still inside the transaction: the deferred check has not fired yet
        assert db.execute("SELECT count(*) FROM registry_hashscorerlink").fetchone() == (1,)
