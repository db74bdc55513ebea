"""The README's run command: the local server on an embedded PostgreSQL answers a real score over HTTP."""

from __future__ import annotations

import json
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
