"""The README's run command: the local server on an embedded PostgreSQL answers a real score over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_local_server_self_test_answers_the_worked_example_over_http() -> None:
    done = subprocess.run([sys.executable, "-m", "scorer_lambda.local", "--port", "0", "--self-test"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    status, _, body = done.stdout.strip().splitlines()[-1].partition(" ")
    assert status == "200", done.stdout
    score = json.loads(body)
    assert (score["address"], score["score"], score["passing_score"]) == ("0x" + "a" * 40, "1.24900", True)
    assert sorted(score["stamps"]) == ["Discord", "Ens", "Google"]


def test_local_server_ratelimit_starts_redis_and_limits_the_demo_key() -> None:
    done = subprocess.run([sys.executable, "-m", "scorer_lambda.local", "--port", "0", "--self-test", "--ratelimit"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()[-4:]
    assert [line.partition(" ")[0] for line in lines] == ["200", "200", "200", "429"], done.stdout
    assert json.loads(lines[-1].partition(" ")[2])["error"].startswith("You have been rate limited!")
    assert "starting embedded Redis" in done.stderr


def test_local_server_ratelimit_without_redis_says_so_in_one_line_and_exits_2() -> None:
    env = {**os.environ, "SCORER_REDIS_SERVER_BIN": "/nonexistent/redis-server"}
    done = subprocess.run([sys.executable, "-m", "scorer_lambda.local", "--port", "0", "--ratelimit"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == "" and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("error: --ratelimit needs redis-server")
