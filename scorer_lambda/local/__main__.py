"""``python -m scorer_lambda.local``: the scorer on an embedded PostgreSQL with demo data, on 127.0.0.1.

Starts pgserver in a temporary directory, loads the project schema, seeds the worked example of the scoring
contract (§7.8, §10.1) with freshly signed stamps, and serves every endpoint. Nothing outside this machine is used.

``--ratelimit`` also starts a throwaway redis-server (the one the tests use) and turns rate limiting on, with the
demo key limited to ``DEMO_RATE_LIMIT``, so that a few requests in a row show a 429.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import shlex
import sys
import tempfile
import threading
import urllib.error
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
from scorer_lambda.local.redis_server import MISSING, RedisServer, find_redis_server, running_redis
from scorer_lambda.local.seed import load_schema
from scorer_lambda.local.server import make_server
from scorer_lambda.local.signing import StampSigner
from scorer_lambda.logs import install_json_logging
from scorer_lambda.settings import parse_settings

DEV_SECRET_KEY = "local-development-secret-not-for-production"  # noqa: S105 (a public development value)
DEMO_RATE_LIMIT = "3/m"  # with --ratelimit: the 4th request of a minute answers 429


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scorer_lambda.local", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--ratelimit", action="store_true",
                        help=f"start an embedded Redis and rate-limit the demo key to {DEMO_RATE_LIMIT}")
    parser.add_argument("--self-test", action="store_true",
                        help="answer one V2 score request over HTTP (four with --ratelimit), print it and exit "
                             "(used by the tests)")
    args = parser.parse_args(argv)

    redis_binary = find_redis_server() if args.ratelimit else None
    if args.ratelimit and redis_binary is None:
        print(f"error: --ratelimit needs redis-server: {MISSING}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="scorer-local-") as data_dir, contextlib.ExitStack() as stack:
        redis = None
        if redis_binary is not None:
            print("starting embedded Redis ...", file=sys.stderr, flush=True)
            redis = stack.enter_context(running_redis(redis_binary))  # stopped when main returns
        print("starting embedded PostgreSQL ...", file=sys.stderr, flush=True)
        server_pg = _start_postgres(Path(data_dir))
        try:
            url = server_pg.get_uri()
            demo = _seed(url, rate_limit=DEMO_RATE_LIMIT if redis else None)
            settings = parse_settings(_environment(url, demo, redis))
            install_json_logging()
            logging.getLogger().setLevel(logging.WARNING)  # keep the terminal for the examples below
            # One App per server thread: an App's database connection and verifier are not shared between threads.
            http = make_server(lambda: App(AppContext(settings=settings, db=Database(url))), "127.0.0.1", args.port)
            base = f"http://127.0.0.1:{http.server_address[1]}"
            if args.self_test:
                return _self_test(http, base, demo, requests=4 if redis else 1)
            print(_examples(base, demo, redis), flush=True)
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


def _seed(url: str, *, rate_limit: str | None) -> DemoSeed:
    with psycopg.connect(url, autocommit=True) as conn, StampSigner() as signer:
        load_schema(conn)
        demo = seed_demo(conn, signer, now=datetime.now(UTC), pbkdf2_iterations=1000)
        if rate_limit is not None:
            conn.execute("UPDATE account_accountapikey SET rate_limit = %s WHERE id = %s",
                         (rate_limit, demo.api_key_id))
        return demo


def _environment(url: str, demo: DemoSeed, redis: RedisServer | None) -> dict[str, str]:
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": DEV_SECRET_KEY,
        "TRUSTED_IAM_ISSUERS": json.dumps(list(demo.trusted_issuers)),
        "CERAMIC_CACHE_SCORER_ID": str(demo.community_id),
        "FF_API_ANALYTICS": "on",
    }
    if redis is not None:
        env.update(RATELIMIT_ENABLE="on", CELERY_BROKER_URL=redis.url)
    return env


def _token(address: str) -> str:
    now = int(datetime.now(UTC).timestamp())
    claims = {"token_type": "access", "exp": now + 86400, "iat": now, "jti": os.urandom(16).hex(),
              "did": f"did:pkh:eip155:1:{address}"}
    return jwt.encode(claims, DEV_SECRET_KEY, algorithm="HS256")


def _examples(base: str, demo: DemoSeed, redis: RedisServer | None) -> str:
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
    if redis is not None:
        lines += [
            "",
            f"Rate limiting is on (Redis at {redis.url}); the demo key allows {DEMO_RATE_LIMIT}. Five requests in a row"
            " answer 200 200 200 429 429:",
            f"  for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{{http_code}}\\n' "
            f"-H {shlex.quote('X-API-Key: ' + key)} {base}/v2/stamps/{c}/score/{a}; done",
        ]
    return "\n".join(lines)


def _self_test(http: Any, base: str, demo: DemoSeed, requests: int) -> int:
    """Send ``requests`` V2 score requests over HTTP; print ``<status> <body>`` for each."""
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    for _ in range(requests):
        # An http URL on 127.0.0.1, built here: no user-supplied scheme can reach urlopen.
        request = urllib.request.Request(f"{base}/v2/stamps/{demo.community_id}/score/{demo.address_a}",  # noqa: S310
                                         headers={"X-API-Key": demo.api_key})
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
                print(reply.status, reply.read().decode("utf-8"), flush=True)
        except urllib.error.HTTPError as error:  # 429 with --ratelimit
            print(error.code, error.read().decode("utf-8"), flush=True)
    http.shutdown()
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # didkit's runtime thread can crash interpreter finalisation (scoring contract §11.4): leave directly.
    os._exit(status)
