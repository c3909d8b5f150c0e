"""The URL's TLS parameters, against a PostgreSQL cluster of this module's own that speaks only TLS.

Its server certificate (for 127.0.0.1 and localhost) is signed by a CA the test makes; the cluster
also listens on 127.0.0.2, a loopback address the certificate does not name.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import urlencode

import attrs
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from adapters.persistence import SqlReadiness, SqlUnitOfWorkFactory, head_revision, upgrade_to_head
from domain.errors import StorageUnavailable
from tests.certificates import Authority, Issued
from tests.infra.processes import free_port, unavailable
from tests.integration.sql_backends import database_for

POSTGRES_INSTALLS: Final = Path("/usr/lib/postgresql")
CERTIFIED: Final = "certified"
"""The role that signs in with a client certificate, and only with one."""
GUARDED: Final = "guarded"
"""The role that signs in with a password, and only with one."""
PASSWORD: Final = "right-password"
ELSEWHERE: Final = "127.0.0.2"
VERIFY_FAILED: Final = "certificate verify failed"


@attrs.frozen
class Cluster:
    """How to reach the cluster, and the certificate files a URL may name."""

    port: int
    ca: Path
    stranger: Path
    client: Issued

    def url(self, **params: object) -> str:
        """A URL of the `postgres` database: `host` and `user` if given, the rest its query."""
        host = params.pop("host", "127.0.0.1")
        user = params.pop("user", "postgres")
        query = urlencode({k: str(v) for k, v in params.items()})
        return f"postgresql://{user}@{host}:{self.port}/postgres?{query}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A TLS-only cluster on a free loopback port, stopped and removed at the end of the module."""
    binaries = _postgres_binaries()
    root = Path(tempfile.mkdtemp(prefix="taskservice-tls-"))
    data = root / "data"
    started = False
    try:
        authority = Authority.create("Cluster CA")
        server = authority.server(root, "127.0.0.1", "localhost")
        files = Cluster(
            port=free_port(),
            ca=authority.write(root / "ca.crt"),
            stranger=Authority.create("Stranger CA").write(root / "stranger.crt"),
            client=authority.client(root, CERTIFIED),
        )
        _give_to_server_user(root)
        _as_server_user(binaries / "initdb", "-D", data, "-U", "postgres", "-A", "trust", "-N")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1,{ELSEWHERE}'\nport = {files.port}\n"
                f"unix_socket_directories = '{root}'\nfsync = off\nssl = on\n"
                f"ssl_cert_file = '{server.certificate}'\nssl_key_file = '{server.key}'\n"
                f"ssl_ca_file = '{files.ca}'\n"
            )
        # hostssl only: a connection that got here without TLS would be refused.
        (data / "pg_hba.conf").write_text(
            "local all postgres trust\n"
            f"hostssl all {CERTIFIED} 127.0.0.1/32 cert\n"
            f"hostssl all {GUARDED} 127.0.0.1/32 scram-sha-256\n"
            "hostssl all all 127.0.0.1/32 trust\n"
            f"hostssl all all {ELSEWHERE}/32 trust\n"
        )
        try:
            _as_server_user(binaries / "pg_ctl", "-D", data, "-l", root / "log", "-w", "start")
        except RuntimeError as error:
            raise RuntimeError(f"{error}\n{(root / 'log').read_text()}") from None
        started = True
        _as_server_user(binaries / "createuser", "-h", root, "-p", str(files.port), CERTIFIED)
        _as_server_user(
            binaries / "psql",
            *("-h", root, "-p", str(files.port), "-d", "postgres"),
            *("-c", f"CREATE ROLE {GUARDED} LOGIN PASSWORD '{PASSWORD}'"),
        )
        yield files
    finally:
        if started:
            _as_server_user(binaries / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def only_the_url_decides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Only the URL decides: no libpq variables or ~/.postgresql files, no OpenSSL CA variables."""
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("PGSSLMODE", "PGSSLROOTCERT", "PGSSLCERT", "PGSSLKEY", "PGSSLCRL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


async def test_a_neon_style_url_with_its_ca_migrates_and_serves_over_verified_tls(
    cluster: Cluster,
) -> None:
    url = cluster.url(sslmode="require", channel_binding="require", sslrootcert=cluster.ca)
    await asyncio.to_thread(upgrade_to_head, url)  # Alembic's engine
    async with database_for(url) as database:  # the service's engine
        assert await SqlReadiness(database, head_revision()).is_ready()
    assert await encrypted(url)


async def test_a_ca_the_url_does_not_name_is_refused(cluster: Cluster) -> None:
    for params in (
        {"sslmode": "require", "channel_binding": "require", "sslrootcert": cluster.stranger},
        {"sslmode": "verify-full", "sslrootcert": cluster.stranger},
        {"sslmode": "verify-ca", "sslrootcert": cluster.stranger},
        {"sslmode": "require", "sslrootcert": cluster.stranger},  # libpq: then it is verify-ca
    ):
        assert VERIFY_FAILED in await refusal(cluster.url(**params)), params
    url = cluster.url(channel_binding="require", sslrootcert=cluster.stranger)
    with pytest.raises(ssl.SSLCertVerificationError, match=VERIFY_FAILED):
        await asyncio.to_thread(upgrade_to_head, url)


async def test_channel_binding_without_sslrootcert_trusts_the_systems_cas_only(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    neon_style = cluster.url(sslmode="require", channel_binding="require")
    assert VERIFY_FAILED in await refusal(neon_style)
    assert VERIFY_FAILED in await refusal(cluster.url(sslmode="verify-full"))
    # OpenSSL's own variables name the system's CAs: with the cluster's CA among them, it connects.
    monkeypatch.setenv("SSL_CERT_FILE", str(cluster.ca))
    assert await encrypted(neon_style)


async def test_require_alone_encrypts_without_verifying_as_libpq_does(cluster: Cluster) -> None:
    # Nobody here trusts the cluster's CA, and 127.0.0.2 is not in its certificate: require
    # protects against eavesdropping only, not against a server in the middle.
    assert await encrypted(cluster.url(sslmode="require"))
    assert await encrypted(cluster.url(host=ELSEWHERE, sslmode="require"))


async def test_a_host_name_the_certificate_does_not_name_is_refused(cluster: Cluster) -> None:
    elsewhere = {"host": ELSEWHERE, "sslrootcert": cluster.ca}
    reason = await refusal(cluster.url(sslmode="verify-full", **elsewhere))
    assert f"IP address mismatch, certificate is not valid for '{ELSEWHERE}'" in reason
    # Channel binding would have caught a server in the middle; its stand-in checks the name.
    assert VERIFY_FAILED in await refusal(
        cluster.url(sslmode="verify-ca", channel_binding="require", **elsewhere)
    )
    # verify-ca checks the chain only, as libpq's does.
    assert await encrypted(cluster.url(sslmode="verify-ca", **elsewhere))
    localhost = cluster.url(host="localhost", sslmode="verify-full", sslrootcert=cluster.ca)
    assert await encrypted(localhost)


async def test_a_client_certificate_signs_in_where_the_server_asks_for_one(
    cluster: Cluster,
) -> None:
    verified = {"sslmode": "verify-full", "sslrootcert": cluster.ca, "user": CERTIFIED}
    client = {"sslcert": cluster.client.certificate, "sslkey": cluster.client.key}
    async with (
        database_for(cluster.url(**verified, **client)) as database,
        database.connection() as db,
    ):
        assert await db.scalar(text("SELECT current_user")) == CERTIFIED
    async with database_for(cluster.url(**verified)) as database:
        with pytest.raises(DBAPIError, match="requires a valid client certificate"):
            async with database.engine.connect():
                pass


async def test_a_login_the_server_refuses_is_storage_unavailable(cluster: Cluster) -> None:
    # SQLSTATE class 28: the deployment's to mend, answered 503 meanwhile, not 500.
    verified = {"sslmode": "verify-full", "sslrootcert": cluster.ca}
    signed_in = cluster.url(**verified, user=f"{GUARDED}:{PASSWORD}")
    async with database_for(signed_in) as database, database.connection() as db:
        assert await db.scalar(text("SELECT current_user")) == GUARDED
    for url, reason in [
        (cluster.url(**verified, user=f"{GUARDED}:wrong"), "password authentication failed"),
        (cluster.url(**verified, user=CERTIFIED), "requires a valid client certificate"),
    ]:
        async with database_for(url) as database:
            with pytest.raises(StorageUnavailable) as refused:
                async with SqlUnitOfWorkFactory(database)():
                    pass
            assert reason in str(refused.value.__cause__)


@pytest.mark.parametrize("command", ["migrate", "serve"])
def test_a_contradictory_url_stops_the_command_with_a_configuration_error(
    command: str, tmp_path: Path
) -> None:
    url = "postgresql://u:secret-pw@db.example.com/tasks?sslmode=disable&channel_binding=require"
    env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url, "DATA_DIR": str(tmp_path)}
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "taskservice.cli", command],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("taskservice: configuration error: DATABASE_URL: ")
    assert "channel binding needs TLS" in done.stderr
    assert "secret-pw" not in done.stderr + done.stdout


async def encrypted(url: str) -> bool:
    """Whether the service's engine reaches `url` and the server says the session uses TLS."""
    async with database_for(url) as database, database.connection() as connection:
        session_ssl = await connection.scalar(
            text("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        )
    return session_ssl is True


async def refusal(url: str) -> str:
    """Why a unit of work on `url` could not start: a failed certificate check, in words."""
    async with database_for(url) as database:
        with pytest.raises(StorageUnavailable) as refused:
            async with SqlUnitOfWorkFactory(database)():
                pass
    # The class name is what the `storage unavailable` log line shows operators.
    assert isinstance(refused.value.__cause__, ssl.SSLCertVerificationError)
    return str(refused.value.__cause__)


def _postgres_binaries() -> Path:
    installed = sorted(
        POSTGRES_INSTALLS.glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3].split(".")[0])
    )
    if installed:
        return installed[-1].parent
    on_path = shutil.which("pg_ctl")
    if not on_path:
        unavailable(
            f"PostgreSQL's server programs (initdb, pg_ctl) are not under {POSTGRES_INSTALLS}"
        )
    return Path(on_path).parent


def _runs_as_root() -> bool:
    return os.geteuid() == 0


def _give_to_server_user(root: Path) -> None:
    # initdb refuses to run as root; as root, the cluster belongs to the `postgres` user.
    if not _runs_as_root():
        return
    for path in (root, *root.iterdir()):
        shutil.chown(path, "postgres", "postgres")


def _as_server_user(program: Path, *args: str | Path) -> None:
    command: Sequence[str | Path] = (program, *args)
    if _runs_as_root():
        command = ("runuser", "-u", "postgres", "--", *command)
    done = subprocess.run(  # noqa: S603 (PostgreSQL's own programs, the test's arguments)
        command, capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{program.name} failed: {done.stderr}{done.stdout}")
