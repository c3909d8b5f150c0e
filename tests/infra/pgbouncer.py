"""PgBouncer in transaction mode in front of a test's PostgreSQL database, as Neon's pooler runs.

`pgbouncer(database_url)` starts Debian's pgbouncer (1.18 here) on a free loopback port with a
config, auth file and unix-socket directory in a temporary directory of its own, as the unprivileged
`postgres` user when the test runs as root (pgbouncer refuses root), and yields a `PgBouncer` whose
`url` reaches the same database through it. Authentication is `trust`, as on the server behind.

What a transaction pooler changes (tests/integration/test_infra_pgbouncer.py shows each, except
where said):

- A server connection belongs to a client only for one transaction, or for one statement outside
  one. A named prepared statement lives on one server connection; PgBouncer before 1.21 does not
  track them (1.21 added `max_prepared_statements`, protocol-level prepared statements; 1.18 has
  nothing of the kind), so a statement prepared in one transaction is missing, or another
  client's, in the next. asyncpg's default statement cache does exactly that and fails with
  `InvalidSQLStatementNameError` ("prepared statement "__asyncpg_stmt_…__" does not exist");
  `statement_cache_size=0` makes asyncpg use unnamed statements, which work. With
  `prepared_statements=True` the harness runs a PgBouncer 1.21 or newer
  (tests/infra/pgbouncer_source.py) with `max_prepared_statements`: it renames each client's
  statements (PGBOUNCER_<n> on the server) and prepares them again on whichever server
  connection runs them, so asyncpg's cache works as it does directly.
- SQLAlchemy 2.1's asyncpg dialect (sqlalchemy/dialects/postgresql/asyncpg.py) prepares every
  statement with `asyncpg.Connection.prepare()` and caches it per DBAPI connection
  (`prepared_statement_cache_size`, default 100, a DBAPI argument: URL query or `connect_args`;
  0 disables it). For PgBouncer it documents `prepared_statement_name_func` (e.g. uuid names in
  `connect_args`) against name collisions, with `NullPool` and `DISCARD` on release so that
  unused statements do not pile up. Against this 1.18, unique names are not enough: a statement
  cached across transactions fails as above; and, tried by hand under concurrent load (not a
  test: it depends on timing), uuid names failed outside transactions too, even with both caches
  off, when the prepare and the execution landed on different server connections. What worked
  in every case tried: asyncpg's `statement_cache_size=0` in `connect_args` (unnamed statements).
- Session state leaks: `SET` outside a transaction stays on the server connection for whichever
  client gets it next; `SET LOCAL` ends with its transaction. (So `LISTEN`, which lasts as long as
  the session, needs a direct connection: not tested here.)
- PgBouncer keeps track of client_encoding, datestyle, timezone, standard_conforming_strings and
  application_name; any other startup parameter is refused ("unsupported startup parameter"),
  e.g. asyncpg's `server_settings={"statement_timeout": …}`, unless listed in
  `ignore_startup_parameters` (then it is silently not applied).
"""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit, urlunsplit

import attrs

from tests.infra.pgbouncer_source import prepared_pgbouncer
from tests.infra.processes import LOOPBACK, Started, free_port, program, started, tcp_answers

# Debian runs pgbouncer as `postgres`; `nobody` where the server is not installed.
_UNPRIVILEGED: Final = ("postgres", "nobody")
MAX_PREPARED_STATEMENTS: Final = 200
"""Per server connection, with `prepared_statements`: more than the service's distinct statements,
as asyncpg's own cache (100 a connection) is."""


@attrs.frozen
class PgBouncer:
    """A running PgBouncer: the database's URL through it, and the process for its log."""

    url: str
    port: int
    socket_dir: Path
    process: Started


@asynccontextmanager
async def pgbouncer(
    database_url: str,
    *,
    pool_size: int = 5,
    max_client_conn: int = 200,
    ignore_startup_parameters: Sequence[str] = (),
    prepared_statements: bool = False,
) -> AsyncIterator[PgBouncer]:
    """PgBouncer in transaction mode in front of `database_url`'s database, stopped on exit.

    `pool_size` server connections at most are shared by up to `max_client_conn` clients.
    `prepared_statements`: a PgBouncer 1.21 or newer (tests/infra/pgbouncer_source.py) that keeps
    protocol-level named prepared statements (`max_prepared_statements`), preparing each again on
    whichever server connection runs it; otherwise Debian's, which keeps none.
    """
    if prepared_statements:
        executable = prepared_pgbouncer()
        keeps = f"max_prepared_statements = {MAX_PREPARED_STATEMENTS}\n"
    else:
        executable, keeps = program("pgbouncer", package="pgbouncer"), ""
    target = urlsplit(database_url)
    database = target.path.lstrip("/")
    user = target.username or "postgres"
    port = free_port()
    root = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    try:
        (root / "userlist.txt").write_text(f'"{user}" ""\n')
        (root / "pgbouncer.ini").write_text(
            f"[databases]\n"
            f"{database} = host={target.hostname or LOOPBACK} port={target.port or 5432}"
            f" dbname={database}\n"
            f"[pgbouncer]\n"
            f"listen_addr = {LOOPBACK}\nlisten_port = {port}\nunix_socket_dir = {root}\n"
            f"auth_type = trust\nauth_file = {root / 'userlist.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\n"
            f"max_client_conn = {max_client_conn}\n"
            f"ignore_startup_parameters = {','.join(ignore_startup_parameters)}\n"
            # Log to stderr (our output file), no pid file, no stats lines every minute.
            f"logfile =\npidfile =\nlog_stats = 0\n{keeps}"
        )
        run_as = _unprivileged_user()
        if run_as is not None:
            entry = pwd.getpwnam(run_as)
            os.chown(root, entry.pw_uid, entry.pw_gid)
        async with started(
            [executable, root / "pgbouncer.ini"],
            ready=tcp_answers(port),
            output=root / "output.log",
            user=run_as,
        ) as process:
            netloc = f"{user}@{LOOPBACK}:{port}"
            url = urlunsplit(target._replace(netloc=netloc))
            yield PgBouncer(url, port, root, process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in _UNPRIVILEGED:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("no unprivileged user to run pgbouncer as: neither postgres nor nobody")
