"""Fixtures for the operations CLI tests: an AWS-free environment, moto, and the emulated ALB pair.

No Pulumi mocks here: the CLI uses the routing module's pure functions only (the one `set_mocks` call stays in
`tests/infra/conftest.py`).
"""

from __future__ import annotations

import re
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws
from moto.cloudwatch import models as cloudwatch_models

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` without `python -m` does not put the project directory on sys.path
    sys.path.insert(0, str(ROOT))

from components.settings import load_stack_settings  # noqa: E402

from .helpers import AWS_ENV, EmulatedAlbs, copy_stack_file  # noqa: E402


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AWS credentials, profile, region or config files, and no instance metadata lookups."""
    for name in AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def moto_percentiles(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5.2.5 computes no percentile statistics (GetMetricData answers `p99` with None and then fails to
    serialise it); teach it nearest-rank percentiles over the raw values so `health` runs its real query."""
    original = cloudwatch_models.Statistics.get_statistics_for_type

    def with_percentiles(self: cloudwatch_models.Statistics, stat: str) -> object:
        match = re.fullmatch(r"p(\d+(?:\.\d+)?)", stat)
        if match is None:
            return original(self, stat)
        values = sorted(self.metric_single_values_list)
        if not values:
            return None
        rank = max(1, -(-len(values) * float(match.group(1)) // 100))
        return values[int(rank) - 1]

    monkeypatch.setattr(cloudwatch_models.Statistics, "get_statistics_for_type", with_percentiles)


@pytest.fixture
def aws(no_aws: None, moto_percentiles: None) -> Iterator[None]:
    """moto for every AWS call (it provides fake credentials); nothing reaches AWS."""
    with mock_aws():
        yield


@pytest.fixture
def emulated(aws: None, tmp_path: Path) -> Callable[..., tuple[EmulatedAlbs, Path]]:
    """`emulated(stack="production", percent=25)`: the ALB pair with the plan's rules at `percent`, and a stack dir
    holding a copy of the real stack file at that percentage, pointed at the moto listeners."""

    def build(stack: str = "production", percent: int = 25) -> tuple[EmulatedAlbs, Path]:
        settings = load_stack_settings(stack, ROOT).with_percent(percent)
        albs = EmulatedAlbs(settings)
        stack_dir = tmp_path / "stacks"
        stack_dir.mkdir(exist_ok=True)
        copy_stack_file(stack, stack_dir, percent=percent, listeners=albs.listener_arns)
        return albs, stack_dir

    return build
