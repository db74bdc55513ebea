"""E1 latency of the working tree against an earlier revision, measured interleaved in one process.

    .venv/bin/python -m bench.compare_revisions REV [--requests 400] [--stamps 0,4,12,50]

Back-to-back runs of ``bench.scorer_bench`` differ by up to ±20 % on a small, shared VM (CPU steal and frequency
drift), more than the differences worth measuring. Here both versions of the scorer run in the same process against
the same embedded PostgreSQL, taking turns request by request (ABBA order), so drift falls on both alike. The
revision's ``scorer_lambda`` is extracted with ``git archive`` and imported under another package name; the data is
seeded by the working tree's ``bench.scorer_bench``. Prints p50/p95 per side and the ratio. A script that prints
numbers, not a test.
"""

from __future__ import annotations

import argparse
import importlib
import io
import logging
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path
from typing import Any

from bench import scorer_bench
from scorer_lambda.local.signing import StampSigner

ROOT = Path(__file__).resolve().parent.parent
BASE_PACKAGE = "scorer_base"


def extract_revision(revision: str, into: Path) -> None:
    """The revision's scorer package as ``scorer_base`` under ``into`` (absolute self-references renamed)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", revision, "scorer_lambda"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"cannot read scorer_lambda at {revision!r}: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into, filter="data")
    package = into / BASE_PACKAGE
    (into / "scorer_lambda").rename(package)
    for source in package.rglob("*.py"):  # e.g. the router's import_module("scorer_lambda.api....")
        text = source.read_text()
        renamed = text.replace('"scorer_lambda.', f'"{BASE_PACKAGE}.').replace("'scorer_lambda.", f"'{BASE_PACKAGE}.")
        if renamed != text:
            source.write_text(renamed)


def build_app(package: str, url: str) -> Any:
    """An App of ``package`` configured as the benchmark configures the working tree's."""
    def load(name: str) -> Any:
        return importlib.import_module(f"{package}.{name}")

    settings = load("settings").parse_settings(scorer_bench.settings_env(url))
    context = load("context").AppContext(settings=settings, db=load("db.connection").Database(url),
                                         verifier=load("verify").SignatureVerifier())
    return load("app").App(context)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="git revision to compare with (e.g. a commit or tag)")
    parser.add_argument("--requests", type=int, default=400, help="timed requests per side and case (default 400)")
    parser.add_argument("--stamps", default="0,4,12,50", help="stamp counts, comma-separated (default 0,4,12,50)")
    args = parser.parse_args()
    try:
        counts = [int(part) for part in args.stamps.split(",")]
    except ValueError:
        parser.error("--stamps takes integers separated by commas, e.g. 0,4")
    unknown = sorted(set(counts) - set(scorer_bench.STAMP_COUNTS))
    if unknown:
        parser.error(f"--stamps: the benchmark seeds {list(scorer_bench.STAMP_COUNTS)} only, not {unknown}")
    logging.disable(logging.INFO)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver
    with tempfile.TemporaryDirectory(prefix="scorer-compare-") as scratch:
        extract_revision(args.revision, Path(scratch))
        sys.path.insert(0, scratch)
        server = pgserver.get_server(Path(scratch) / "pg", cleanup_mode="delete")
        try:
            url = server.get_uri()
            with StampSigner() as signer:
                scorer_bench.seed_database(url, signer)
            apps = {args.revision: build_app(BASE_PACKAGE, url), "working tree": build_app("scorer_lambda", url)}
            rows = []
            for count in counts:
                samples = scorer_bench.alternating(apps, scorer_bench.v2_event(count), args.requests)
                p50 = {name: statistics.median(values) for name, values in samples.items()}
                p95 = {name: statistics.quantiles(values, n=100)[94] for name, values in samples.items()}
                base, now = p50[args.revision], p50["working tree"]
                rows.append((f"{count} stamps", f"{base:.2f}", f"{now:.2f}", f"{now / base:.2f}",
                             f"{p95[args.revision]:.2f}", f"{p95['working tree']:.2f}"))
                print(f"  {count} stamps measured", file=sys.stderr, flush=True)
            scorer_bench.table(f"E1 p50/p95 ms, {args.requests} requests per side, interleaved (ABBA) in one process",
                               ("case", f"p50 {args.revision}", "p50 now", "now/base",
                                f"p95 {args.revision}", "p95 now"), rows)
            return 0
        finally:
            server.cleanup()


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    os._exit(status)  # didkit's runtime thread can crash interpreter finalisation (scoring contract §11.4)
