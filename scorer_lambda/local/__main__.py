"""``python -m scorer_lambda.local``: the scorer on an embedded PostgreSQL with demo data, on 127.0.0.1.

Starts pgserver in a temporary directory, loads the project schema, seeds the worked example of the scoring
contract (§7.8, §10.1) with freshly signed stamps, and serves every endpoint. Nothing outside this machine is used.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import tempfile
import threading
import urllib.request
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import psycopg

from scorer_lambda.app import App
from scorer_lambda.context import AppContext
from scorer_lambda.db.connection import Database
from scorer_lambda.local.demo import DemoSeed, seed_demo
from scorer_lambda.local.seed import load_schema
from scorer_lambda.local.server import make_server
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.logs import install_json_logging
from scorer_lambda.settings import parse_settings

DEV_SECRET_KEY = "local-development-secret-not-for-production"  # noqa: S105 (a public development value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorer_lambda.local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--self-test", action="store_true",
                        help="answer one V2 score request over HTTP, print it and exit (used by the tests)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="scorer-local-") as data_dir:
        print("starting embedded PostgreSQL ...", file=sys.stderr, flush=True)
        server_pg = _start_postgres(Path(data_dir))
        try:
            url = server_pg.get_uri()
            demo = _seed(url)
            settings = parse_settings(_environment(url, demo))
            install_json_logging()
            logging.getLogger().setLevel(logging.WARNING)  # keep the terminal for the examples below
            # One App per server thread: an App's database connection and verifier are not shared between threads.
            http = make_server(lambda: App(AppContext(settings=settings, db=Database(url))), "127.0.0.1", args.port)
            base = f"http://127.0.0.1:{http.server_address[1]}"
            if args.self_test:
                return _self_test(http, base, demo)
            print(_examples(base, demo), flush=True)
            try:
                http.serve_forever()
            except KeyboardInterrupt:
                print("\nstopping", file=sys.stderr)
            return 0
        finally:
            server_pg.cleanup()


def _start_postgres(data_dir: Path) -> Any:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pgserver
    return pgserver.get_server(data_dir / "pg", cleanup_mode="stop")


def _seed(url: str) -> DemoSeed:
    with psycopg.connect(url, autocommit=True) as conn, StampSigner() as signer:
        load_schema(conn)
        return seed_demo(conn, signer, now=datetime.now(UTC), pbkdf2_iterations=1000)


def _environment(url: str, demo: DemoSeed) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": DEV_SECRET_KEY,
        "TRUSTED_IAM_ISSUERS": json.dumps(list(demo.trusted_issuers)),
        "CERAMIC_CACHE_SCORER_ID": str(demo.community_id),
        "FF_API_ANALYTICS": "on",
    }


def _token(address: str) -> str:
    now = int(datetime.now(UTC).timestamp())
    claims = {"token_type": "access", "exp": now + 86400, "iat": now, "jti": os.urandom(16).hex(),
              "did": f"did:pkh:eip155:1:{address}"}
    return jwt.encode(claims, DEV_SECRET_KEY, algorithm="HS256")


def _examples(base: str, demo: DemoSeed) -> str:
    a, c, key = demo.address_a, demo.community_id, demo.api_key
    auth = f"Authorization: Bearer {_token(a)}"
    lines = [
        f"Scorer Lambda serving on {base} (embedded PostgreSQL, demo community {c}). Ctrl+C stops it.",
        "",
        "Score address A (the worked example of the scoring contract):",
        f"  curl -s -H {shlex.quote('X-API-Key: ' + key)} {base}/v2/stamps/{c}/score/{a}",
        "",
        "Ceramic-cache routes use this JWT for A (valid 24 h):",
        f"  export AUTH={shlex.quote(auth)}",
        f"  curl -s -H \"$AUTH\" -X POST {base}/ceramic-cache/score/{a}",
        f"  curl -s -H \"$AUTH\" {base}/ceramic-cache/score/{a}",
        f"  curl -s -H \"$AUTH\" -X DELETE -d '[{{\"provider\":\"Google\"}}]' {base}/ceramic-cache/stamps/bulk",
        f"  curl -s {base}/ceramic-cache/weights",
        f"  curl -s '{base}/ceramic-cache/stamp?address={a}'",
        "Internal embed routes:",
        f"  curl -s -H {shlex.quote('X-API-Key: ' + key)} {base}/internal/embed/validate-api-key",
        f"  curl -s {base}/internal/embed/score/{c}/{demo.address_b}",
    ]
    return "\n".join(lines)


def _self_test(http: Any, base: str, demo: DemoSeed) -> int:
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    # An http URL on 127.0.0.1, built here: no user-supplied scheme can reach urlopen.
    request = urllib.request.Request(f"{base}/v2/stamps/{demo.community_id}/score/{demo.address_a}",  # noqa: S310
                                     headers={"X-API-Key": demo.api_key})
    with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
        print(reply.status, reply.read().decode("utf-8"), flush=True)
    http.shutdown()
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # didkit's runtime thread can crash interpreter finalisation (scoring contract §11.4): leave directly.
    os._exit(status)
