"""A real PgBouncer in transaction pooling mode in front of the session's embedded PostgreSQL (production contract P1).

Production reaches PostgreSQL through RDS Proxy, which multiplexes clients over fewer database connections at
transaction boundaries; PgBouncer with ``pool_mode = transaction`` breaks on the same session state, so the API tests
of ``tests/scorer/api/test_pgbouncer.py`` run the application through it. The binary comes from the Debian package
(``apt-get install pgbouncer``, found on ``PATH`` or in ``/usr/sbin``).

Skip rule (P1.2): without the binary the tests that need it are skipped, unless ``SCORER_REQUIRE_PGBOUNCER=1``
(set by ``.ci/run``), which turns the absence into a failure. ``SCORER_PGBOUNCER_BIN`` names the binary explicitly;
set to a path that does not exist (or empty), it hides PgBouncer, which is how the skip/fail rule is checked.

One PgBouncer serves the whole test session: a wildcard database entry makes every database copied from the schema
template reachable under its own name, each with a pool of at most ``POOL_SIZE`` server connections. PgBouncer
refuses to run as root, so as root it runs as pgserver's system user (which can reach PostgreSQL's socket directory).
The fixture's teardown stops it; ``setpriv --pdeathsig`` also ends it if the test process dies without its teardown
(the root conftest leaves with ``os._exit``, so no ``atexit`` hook would run).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from scorer_lambda.local.processes import free_port, named_binary, stop

from .required_binary import require_binary

BINARY_ENV = "SCORER_PGBOUNCER_BIN"
REQUIRE_ENV = "SCORER_REQUIRE_PGBOUNCER"
MISSING = "pgbouncer not installed; apt-get install pgbouncer"
# Server connections per database: fewer than the client workers of the concurrency test (P1.2).
POOL_SIZE = 2
ADMIN_USER = "postgres"
START_TIMEOUT_SECONDS = 10.0


def find_pgbouncer() -> str | None:
    """The pgbouncer binary: ``$SCORER_PGBOUNCER_BIN`` when set (missing file → None), else PATH, else /usr/sbin."""
    if BINARY_ENV in os.environ:
        return named_binary(BINARY_ENV)
    return shutil.which("pgbouncer") or shutil.which("pgbouncer", path="/usr/sbin:/usr/local/sbin")


def require_pgbouncer() -> str:
    """The binary, or skip the test (fail it when ``SCORER_REQUIRE_PGBOUNCER=1``) with the install hint."""
    return require_binary(find_pgbouncer(), missing=MISSING, require_env=REQUIRE_ENV)


@dataclass
class PgBouncer:
    """A running PgBouncer: where it listens, and its admin console."""

    host: str
    port: int
    version: str
    workdir: Path
    process: subprocess.Popen[bytes]

    def url(self, db_url: str) -> str:
        """The same database as ``db_url`` (a direct URL of the embedded server), reached through PgBouncer."""
        params = conninfo_to_dict(db_url)
        user = quote(str(params.get("user") or ADMIN_USER), safe="")
        return f"postgresql://{user}@{self.host}:{self.port}/{quote(str(params['dbname']), safe='')}"

    def admin_url(self) -> str:
        return f"postgresql://{ADMIN_USER}@{self.host}:{self.port}/pgbouncer"

    def show(self, what: str) -> list[dict[str, str | None]]:
        """``SHOW <what>`` on the admin console (simple query protocol only, hence libpq's ``exec``)."""
        if not what.replace("_", "").isalpha():
            raise ValueError(what)
        with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=5) as conn:
            return _rows(conn.pgconn.exec_(f"SHOW {what}".encode()))

    def command(self, text: str) -> None:
        """An admin console command such as ``RECONNECT <db>``."""
        with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=5) as conn:
            result = conn.pgconn.exec_(text.encode())
            if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
                raise RuntimeError(f"{text}: {(result.error_message or b'').decode()}")

    def pool(self, dbname: str) -> dict[str, int]:
        """The counters of ``SHOW POOLS`` for one database (all zero when it has no pool yet)."""
        for row in self.show("POOLS"):
            if row["database"] == dbname:
                return {key: int(value) for key, value in row.items()
                        if key.startswith(("cl_", "sv_")) and value is not None}
        return {}

    def log(self) -> str:
        path = self.workdir / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""


def server_connections(pool: dict[str, int]) -> int:
    """Every server connection a pool holds, whatever its state."""
    return sum(value for key, value in pool.items() if key.startswith("sv_"))


def client_connections(pool: dict[str, int]) -> int:
    return sum(value for key, value in pool.items() if key.startswith("cl_"))


def _rows(result: Any) -> list[dict[str, str | None]]:
    if result.status != psycopg.pq.ExecStatus.TUPLES_OK:
        raise RuntimeError((result.error_message or b"").decode())
    names = [result.fname(i).decode() for i in range(result.nfields)]
    return [{name: (None if (value := result.get_value(row, i)) is None else value.decode())
             for i, name in enumerate(names)} for row in range(result.ntuples)]


def _upstream(pg_server: Any) -> tuple[str, int]:
    """Host (a unix socket directory for pgserver) and port of the embedded PostgreSQL server."""
    params = conninfo_to_dict(pg_server.get_uri())
    port = params.get("port") or getattr(pg_server.get_postmaster_info(), "port", None) or 5432
    return str(params.get("host") or "127.0.0.1"), int(port)


def _config(workdir: Path, port: int, upstream_host: str, upstream_port: int) -> str:
    return "\n".join([
        "[databases]",
        # Every database of the embedded server, under its own name (the per-test copies of the template).
        f"* = host={upstream_host} port={upstream_port} user={ADMIN_USER}",
        "",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        f"pidfile = {workdir / 'pgbouncer.pid'}",
        "auth_type = trust",
        f"auth_file = {workdir / 'userlist.txt'}",
        f"admin_users = {ADMIN_USER}",
        f"stats_users = {ADMIN_USER}",
        "pool_mode = transaction",
        "server_reset_query =",
        f"default_pool_size = {POOL_SIZE}",
        f"max_db_connections = {POOL_SIZE}",
        "min_pool_size = 0",
        "reserve_pool_size = 0",
        "max_client_conn = 500",
        "ignore_startup_parameters = extra_float_digits,options",
        # Pools of the per-test databases (dropped after each test) go away soon after their last use.
        "autodb_idle_timeout = 30",
        "server_login_retry = 1",
        "log_connections = 0",
        "log_disconnections = 0",
        "",
    ])


def _version(binary: str) -> str:
    out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10, check=False)
    return (out.stdout or out.stderr).splitlines()[0].strip() if (out.stdout or out.stderr) else "unknown"


def _run_as(pg_server: Any) -> pwd.struct_passwd | None:
    """The unprivileged user PgBouncer runs as when we are root (it refuses root): pgserver's own system user, which
    can reach PostgreSQL's socket directory (the private data directory when pgserver picks it), else ``nobody``."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(getattr(pg_server, "system_user", None) or "nobody")
    except KeyError:
        return pwd.getpwnam("nobody")


def _command(binary: str, ini: Path, user: pwd.struct_passwd | None) -> tuple[list[str], dict[str, Any]]:
    """How to launch: as ``user`` (when root), tied to this process's life when ``setpriv`` is available."""
    prefix: list[str] = []
    kwargs: dict[str, Any] = {}
    setpriv = shutil.which("setpriv")
    if setpriv:
        prefix = [setpriv, "--pdeathsig", "TERM"]
    if user is not None:
        if setpriv:
            prefix += ["--reuid", str(user.pw_uid), "--regid", str(user.pw_gid), "--clear-groups"]
        else:
            kwargs = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    return [*prefix, binary, str(ini)], kwargs


def _prepare_workdir(user: pwd.struct_passwd | None) -> Path:
    """A private directory for the ini, the auth file, the pid file and the log, owned by the user PgBouncer runs as."""
    workdir = Path(tempfile.mkdtemp(prefix="scorer-pgbouncer-"))
    (workdir / "userlist.txt").write_text(f'"{ADMIN_USER}" ""\n')
    if user is not None:
        for path in (workdir, workdir / "userlist.txt"):
            os.chown(path, user.pw_uid, user.pw_gid)
    return workdir


def _wait_ready(bouncer: PgBouncer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while True:
        if bouncer.process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited with {bouncer.process.returncode}:\n{bouncer.log()}")
        try:
            bouncer.show("VERSION")
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not accept connections in time:\n{bouncer.log()}") from None
            time.sleep(0.05)
            continue
        try:  # and it reaches PostgreSQL
            with psycopg.connect(bouncer.url(f"postgresql://{ADMIN_USER}@/postgres"), connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            raise RuntimeError(f"pgbouncer cannot reach PostgreSQL ({exc}):\n{bouncer.log()}") from exc


@contextmanager
def running_pgbouncer(binary: str, pg_server: Any, attempts: int = 3) -> Iterator[PgBouncer]:
    """Start PgBouncer on a free 127.0.0.1 port in front of ``pg_server``; stop it and remove its files on exit."""
    upstream_host, upstream_port = _upstream(pg_server)
    user = _run_as(pg_server)
    workdir = _prepare_workdir(user)
    ini = workdir / "pgbouncer.ini"
    version = _version(binary)
    process: subprocess.Popen[bytes] | None = None
    try:
        for attempt in range(attempts):
            port = free_port()
            ini.write_text(_config(workdir, port, upstream_host, upstream_port))
            os.chmod(ini, 0o644)
            argv, kwargs = _command(binary, ini, user)
            with open(workdir / "pgbouncer.log", "ab") as log:
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                           cwd=workdir, **kwargs)
            bouncer = PgBouncer("127.0.0.1", port, version, workdir, process)
            try:
                _wait_ready(bouncer)
            except RuntimeError:
                stop(process)
                if attempt == attempts - 1:  # the port may have been taken between probe and bind: retry
                    raise
                continue
            yield bouncer
            return
    finally:
        if process is not None:
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session", name="pgbouncer")
def pgbouncer_fixture(request: pytest.FixtureRequest) -> Iterator[PgBouncer]:
    """The session's PgBouncer (transaction pooling, ``POOL_SIZE`` server connections per database)."""
    binary = require_pgbouncer()  # before starting PostgreSQL: a skip costs nothing
    with running_pgbouncer(binary, request.getfixturevalue("pg_server")) as bouncer:
        yield bouncer


@pytest.fixture(name="pooled_url")
def pooled_url_fixture(pgbouncer: PgBouncer, db_url: str) -> str:
    """The test's fresh database (``db_url``) reached through PgBouncer."""
    return pgbouncer.url(db_url)
