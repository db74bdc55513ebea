"""Settings parsing: the scorer percentage (§5.2), the committed stack files and the other config keys (§8)."""

from __future__ import annotations

import json

import pytest

from components.alarms import DEFAULT_THRESHOLDS, Threshold
from components.settings import (
    SettingsError,
    env_value,
    legacy_environment,
    load_stack_file,
    load_stack_settings,
    parse_scorer_percent,
    parse_settings,
    scorer_environment,
)

from .helpers import ROOT, STACKS, stack_config


@pytest.mark.parametrize(("stack", "expected"), [("staging", 100), ("review", 100), ("production", 0),
                                                 ("dev", 0), ("prod", 0)])
def test_missing_percent_takes_the_stack_default(stack, expected):
    assert parse_scorer_percent(None, stack) == expected, f"default scorerPercent of stack {stack}"


@pytest.mark.parametrize(("raw", "expected"), [("0", 0), ("5", 5), ("100", 100), ("007", 7), (" 25 ", 25)])
def test_accepted_percentages(raw, expected):
    assert parse_scorer_percent(raw, "production") == expected


@pytest.mark.parametrize("raw", ["-1", "101", "5%", "12.5", "12.7", "true", "50abc", "5e1", "", "1000", "٥", "１０"])
def test_rejected_percentages_name_key_stack_and_value(raw):
    with pytest.raises(ValueError) as excinfo:
        parse_scorer_percent(raw, "production")
    message = str(excinfo.value)
    assert "scorerPercent" in message and "'production'" in message and repr(raw) in message, message


def test_rejected_percentage_message_matches_the_contract_example():
    with pytest.raises(ValueError, match=r"^scorerPercent for stack 'production' must be an integer from 0 to 100, "
                                         r"got '12\.7'$"):
        parse_scorer_percent("12.7", "production")


@pytest.mark.parametrize("stack", STACKS)
def test_committed_stack_files_parse_and_validate(stack):
    settings = load_stack_settings(stack, ROOT)
    assert settings.stack == stack
    assert settings.scorer_percent == {"staging": 100, "review": 100, "production": 0}[stack]
    assert settings.unknown_keys == (), f"unknown keys in Pulumi.{stack}.yaml: {settings.unknown_keys}"
    assert settings.internal_listener_arn and settings.private_subnet_ids, f"{stack} must run without a stack ref"
    assert not settings.has_database_url, f"Pulumi.{stack}.yaml must not carry a database URL"


def test_stack_file_yaml_values_become_config_strings(tmp_path):
    path = tmp_path / "Pulumi.demo.yaml"
    path.write_text(
        "config:\n"
        "  aws:region: us-west-2\n"
        "  passport-scorer-lambdas:scorerPercent: 12.5\n"
        "  passport-scorer-lambdas:flag: true\n"
        "  passport-scorer-lambdas:list: [a, b]\n"
        "  passport-scorer-lambdas:scorerDatabaseUrl:\n"
        "    secure: v1:AAAA\n")
    loaded = load_stack_file(path)
    assert loaded.stack == "demo"
    assert loaded.config == {"scorerPercent": "12.5", "flag": "true", "list": '["a", "b"]'}
    assert loaded.secure_keys == {"scorerDatabaseUrl"}, "secure values are skipped but remembered"
    assert loaded.other == {"aws:region": "us-west-2"}


@pytest.mark.parametrize("yaml_value", ["-1", "101", '"5%"', "12.5", "true"])
def test_bad_percent_in_a_stack_file_fails_with_key_and_value(tmp_path, yaml_value):
    text = (ROOT / "Pulumi.production.yaml").read_text().replace(
        "passport-scorer-lambdas:scorerPercent: 0", f"passport-scorer-lambdas:scorerPercent: {yaml_value}")
    (tmp_path / "Pulumi.production.yaml").write_text(text)
    with pytest.raises(SettingsError) as excinfo:
        load_stack_settings("production", tmp_path)
    assert "scorerPercent for stack 'production'" in str(excinfo.value)
    assert yaml_value.strip('"') in str(excinfo.value)


def test_production_refuses_a_database_url():
    with pytest.raises(SettingsError, match="scorerDatabaseUrl is refused on stack 'production'"):
        parse_settings(stack_config("production"), "production", has_database_url=True)
    assert parse_settings(stack_config("staging"), "staging", has_database_url=True).has_database_url


def test_plain_database_url_is_refused():
    with pytest.raises(SettingsError, match="--secret"):
        parse_settings(stack_config("staging", scorerDatabaseUrl="postgres://x"), "staging")


@pytest.mark.parametrize(("key", "value", "fragment"), [
    ("publicListenerArn", None, "publicListenerArn is required"),
    ("publicListenerArn", "arn:aws:elasticloadbalancing:us-west-2:000000000000:loadbalancer/app/x/1",
     "publicListenerArn"),
    ("internalListenerArn", None, "internalListenerArn is required"),
    ("privateSubnetIds", None, "privateSubnetIds is required"),
    ("privateSubnetIds", '["sg-1"]', "privateSubnetIds must be a non-empty list"),
    ("scorerSecretArn", "arn:aws:secretsmanager:us-west-2:000000000000:secret:scorer", "scorerSecretArn"),
    ("lambdaSecurityGroupId", "subnet-1", "lambdaSecurityGroupId"),
    ("scorerMemoryMb", "64", "scorerMemoryMb"),
    ("scorerTimeoutSeconds", "901", "scorerTimeoutSeconds"),
    ("stickinessSeconds", "0", "stickinessSeconds"),
    ("stickinessSeconds", "604801", "stickinessSeconds"),
    ("v2HostHeaders", '["api.passport.xyz/v2"]', "v2HostHeaders"),
    ("scorerEnv", '{"AWS_REGION": "x"}', "reserved"),
    ("scorerEnv", '{"DATABASE_URL": "postgres://x"}', "secret"),
    ("scorerEnv", '{"FLAGS": {"a": 1}}', "FLAGS"),
    ("legacyFunctions", '{"no-such-fn": {"memoryMb": 1024}}', "unknown function 'no-such-fn'"),
    ("legacyFunctions", '{"cc-auth-lambda": {"timeoutSeconds": 1000}}', "cc-auth-lambda.timeoutSeconds"),
    ("legacyExtraPolicyArns", '["arn:aws:iam::aws:policy/a/p", "arn:aws:iam::000000000000:policy/p"]', "unique"),
    ("legacyExtraPolicyArns", '["s3-read"]', "not an IAM managed policy ARN"),
    ("alarms", '{"overrides": {"l-nope": {}}}', "l-nope"),
    ("alarms", '{"defaults": {"target5xx": {"burst": {"datapoints": 9}}}}', "must not exceed evaluationPeriods"),
    ("alarms", '{"defaults": {"responseTime": {"sustain": {"period": 3600}}}}', "86400"),
    ("scorerSecretKmsKeyArn", "arn:aws:kms:eu-west-1:000000000000:key/00000000-0000-0000-0000-000000000000",
     "scorerSecretKmsKeyArn must be in the region of scorerSecretArn (us-west-2)"),
])
def test_invalid_config_values_are_rejected_by_name(key, value, fragment):
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(stack_config("staging", **{key: value}), "staging")
    assert fragment in str(excinfo.value), f"{key}={value!r}: {excinfo.value}"


def test_core_infra_stack_replaces_internal_listener_and_subnets():
    raw = stack_config("staging", internalListenerArn=None, privateSubnetIds=None,
                       coreInfraStack="organization/core-infra/staging")
    settings = parse_settings(raw, "staging")
    assert settings.internal_listener_arn is None and settings.private_subnet_ids is None
    assert settings.core_infra_stack == "organization/core-infra/staging"


def test_same_alb_for_both_listeners_is_rejected():
    raw = stack_config("staging")
    with pytest.raises(SettingsError, match="two different ALBs"):
        parse_settings({**raw, "internalListenerArn": raw["publicListenerArn"][:-1] + "9"}, "staging")


def test_unknown_keys_are_reported_not_fatal():
    settings = parse_settings(stack_config("staging", scorerPercnt="5"), "staging")
    assert settings.unknown_keys == ("scorerPercnt",)


def test_environment_values_are_converted_to_strings():
    assert env_value("HUMAN_POINTS_ENABLED", True) == "true"
    assert env_value("HUMAN_POINTS_ENABLED", False) == "false"
    assert env_value("HUMAN_POINTS_START_TIMESTAMP", 1700000000) == "1700000000"
    assert env_value("TRUSTED_IAM_ISSUERS", ["did:key:a", "did:ethr:b"]) == '["did:key:a","did:ethr:b"]'
    with pytest.raises(ValueError, match="FLAGS"):
        env_value("FLAGS", ["a"])


def test_scorer_and_legacy_environments():
    settings = parse_settings(stack_config("staging", scorerEnv=json.dumps({"HUMAN_POINTS_ENABLED": True})), "staging")
    assert scorer_environment(settings) == {"SCORER_SERVER_SSM_ARN": settings.scorer_secret_arn,
                                            "ENVIRONMENT": "staging", "HUMAN_POINTS_ENABLED": "true"}
    legacy = legacy_environment(settings)
    assert legacy["SCORER_SERVER_SSM_ARN"] == settings.scorer_secret_arn
    assert (legacy["DEBUG"], legacy["LOGGING_STRATEGY"], legacy["FF_API_ANALYTICS"]) == ("off", "structlog_json", "on")
    assert legacy["VERIFIER_URL"].startswith("http://"), "legacyEnv from the stack file reaches the legacy functions"


def test_environment_over_four_kilobytes_is_rejected():
    big = json.dumps({"SIWE_JWT_PUBLIC_KEY": "k" * 4100})
    with pytest.raises(SettingsError, match="4096-byte limit"):
        parse_settings(stack_config("staging", scorerEnv=big), "staging")


def test_legacy_function_overrides_merge_onto_defaults():
    raw = stack_config("staging", legacyFunctions=json.dumps({"cc-auth-lambda": {"memoryMb": 1024},
                                                              "embed-gs-lambda": {"command": "embed.x.handler"}}))
    functions = parse_settings(raw, "staging").legacy_functions
    assert (functions["cc-auth-lambda"].memory_mb, functions["cc-auth-lambda"].timeout_s) == (1024, 60)
    assert functions["embed-gs-lambda"].command == "embed.x.handler"
    assert functions["passport-v2-model-score"].timeout_s == 90, "untouched functions keep their defaults"


def test_alarm_thresholds_merge_defaults_default_overrides_and_config():
    alarms = load_stack_settings("production", ROOT).alarms
    assert alarms.thresholds_for("l-cc-v1-score-POST-0") == dict(DEFAULT_THRESHOLDS)
    stamp = alarms.thresholds_for("l-passport-v2-stamp-score")
    assert stamp[("responseTime", "burst")] == Threshold(20, 7, 10, 60)
    assert stamp[("responseTime", "sustain")] == Threshold(4, 30, 40, 60)
    assert alarms.thresholds_for("l-cc-v1-st-bulk-PATCH-0")[("responseTime", "burst")] == Threshold(20, 10, 15, 60)
    assert alarms.thresholds_for("l-passport-v2-scorer")[("responseTime", "burst")] == Threshold(5, 3, 5, 60)
    assert alarms.thresholds_for("l-passport-v2-scorer-int")[("target5xx", "sustain")] == Threshold(0.005, 3, 4, 600)


def test_with_percent_validates():
    settings = load_stack_settings("production", ROOT)
    assert settings.with_percent(25).scorer_percent == 25
    with pytest.raises(ValueError, match="scorerPercent"):
        settings.with_percent(101)


@pytest.mark.parametrize(("raw", "expected"), [("1", 1), ("100", 100), (" 250 ", 250), ("0050", 50), ("10000", 10000)])
def test_reserved_concurrency_accepted_values(raw, expected):
    settings = parse_settings(stack_config("production", scorerReservedConcurrency=raw), "production")
    assert settings.scorer_reserved_concurrency == expected
    assert settings.unknown_keys == (), "scorerReservedConcurrency is a known key"


@pytest.mark.parametrize("stack", STACKS)
def test_reserved_concurrency_absent_means_no_reservation(stack):
    assert "scorerReservedConcurrency" not in stack_config(stack), f"Pulumi.{stack}.yaml only documents the key"
    assert load_stack_settings(stack, ROOT).scorer_reserved_concurrency is None


@pytest.mark.parametrize("raw", ["-1", "abc", "1.5", "10001", "1000000", "1e3", "", " ", "true", "٥", "+5"])
def test_reserved_concurrency_rejected_values_name_key_stack_and_value(raw):
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(stack_config("production", scorerReservedConcurrency=raw), "production")
    assert (f"scorerReservedConcurrency for stack 'production' must be an integer from 1 to 10000, got {raw!r}"
            in str(excinfo.value)), str(excinfo.value)


@pytest.mark.parametrize("raw", ["0", "00", " 0 "])
def test_reserved_concurrency_zero_is_refused_pointing_to_scorer_percent(raw):
    with pytest.raises(SettingsError) as excinfo:
        parse_settings(stack_config("production", scorerReservedConcurrency=raw), "production")
    message = str(excinfo.value)
    assert f"scorerReservedConcurrency for stack 'production' must not be 0, got {raw!r}" in message, message
    assert "roll back with scorerPercent: 0" in message, message
    assert "must be an integer from 1 to 10000" not in message, "one problem per bad value"


RESERVED_EXAMPLE = "  # passport-scorer-lambdas:scorerReservedConcurrency: 100\n"


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_document_reserved_concurrency_as_a_comment(stack):
    assert RESERVED_EXAMPLE in (ROOT / f"Pulumi.{stack}.yaml").read_text(), f"Pulumi.{stack}.yaml"


@pytest.mark.parametrize(("yaml_value", "expected"), [("100", 100), ("-1", None), ("0", None), ("1.5", None),
                                                      ("abc", None), ("10001", None)])
def test_reserved_concurrency_in_a_stack_file(tmp_path, yaml_value, expected):
    text = (ROOT / "Pulumi.production.yaml").read_text()
    line = f"  passport-scorer-lambdas:scorerReservedConcurrency: {yaml_value}\n"
    (tmp_path / "Pulumi.production.yaml").write_text(text.replace(RESERVED_EXAMPLE, line))
    if expected is not None:
        settings = load_stack_settings("production", tmp_path)
        assert settings.scorer_reserved_concurrency == expected and settings.unknown_keys == ()
        return
    with pytest.raises(SettingsError) as excinfo:
        load_stack_settings("production", tmp_path)
    assert "scorerReservedConcurrency for stack 'production'" in str(excinfo.value)
    assert repr(yaml_value) in str(excinfo.value), str(excinfo.value)
