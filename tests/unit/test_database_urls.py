"""Database URLs as people paste them become async driver URLs and connect arguments."""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlencode

import attrs
import pytest
from cryptography import x509

from adapters.persistence import async_database_url
from tests.certificates import Authority, Issued


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("postgres://u:p@db.example.com/tasks", "postgresql+asyncpg://u:p@db.example.com/tasks"),
        (
            "postgresql://u:p@db.example.com:6543/tasks",
            "postgresql+asyncpg://u:p@db.example.com:6543/tasks",
        ),
        ("postgresql+asyncpg://u@localhost/tasks", "postgresql+asyncpg://u@localhost/tasks"),
        ("  postgresql://u@localhost/tasks\n", "postgresql+asyncpg://u@localhost/tasks"),
    ],
)
def test_postgres_urls_use_asyncpg(raw: str, expected: str) -> None:
    url, connect_args = async_database_url(raw)
    assert url.render_as_string(hide_password=False) == expected
    assert connect_args == {}


TEST_CA = "CN=Test CA"
SYSTEM_CA = "CN=System CA"
CA = "{ca}"  # sslrootcert naming the test CA's file
SYSTEM = "system"  # libpq's sslrootcert=system
FULL_BY_SYSTEM = f"verify-full by {SYSTEM_CA}"
FULL_BY_CA = f"verify-full by {TEST_CA}"
CHAIN_BY_CA = f"verify-ca by {TEST_CA}"
REFUSED = "refused"
MODES = (None, "disable", "allow", "prefer", "require", "verify-ca", "verify-full")
ROOTCERTS = (None, CA, SYSTEM)

# (sslmode, sslrootcert) -> what asyncpg is given. Without channel binding, libpq's meaning:
# asyncpg implements the plain modes itself (`require` encrypts without verifying).
WITHOUT_BINDING = {
    (None, None): "asyncpg's default",
    (None, CA): FULL_BY_CA,
    (None, SYSTEM): FULL_BY_SYSTEM,
    ("disable", None): "asyncpg's disable",
    ("disable", CA): REFUSED,
    ("disable", SYSTEM): REFUSED,
    ("allow", None): "asyncpg's allow",
    ("allow", CA): REFUSED,
    ("allow", SYSTEM): REFUSED,
    ("prefer", None): "asyncpg's prefer",
    ("prefer", CA): REFUSED,
    ("prefer", SYSTEM): REFUSED,
    ("require", None): "asyncpg's require",
    ("require", CA): CHAIN_BY_CA,
    ("require", SYSTEM): REFUSED,
    ("verify-ca", None): REFUSED,
    ("verify-ca", CA): CHAIN_BY_CA,
    ("verify-ca", SYSTEM): REFUSED,
    ("verify-full", None): FULL_BY_SYSTEM,
    ("verify-full", CA): FULL_BY_CA,
    ("verify-full", SYSTEM): FULL_BY_SYSTEM,
}
# channel_binding=require, which asyncpg cannot do: verified as verify-full does, or refused.
WITH_BINDING = {
    (None, None): FULL_BY_SYSTEM,
    (None, CA): FULL_BY_CA,
    (None, SYSTEM): FULL_BY_SYSTEM,
    ("disable", None): REFUSED,
    ("disable", CA): REFUSED,
    ("disable", SYSTEM): REFUSED,
    ("allow", None): FULL_BY_SYSTEM,
    ("allow", CA): REFUSED,
    ("allow", SYSTEM): REFUSED,
    ("prefer", None): FULL_BY_SYSTEM,
    ("prefer", CA): REFUSED,
    ("prefer", SYSTEM): REFUSED,
    ("require", None): FULL_BY_SYSTEM,
    ("require", CA): FULL_BY_CA,
    ("require", SYSTEM): REFUSED,
    ("verify-ca", None): FULL_BY_SYSTEM,
    ("verify-ca", CA): FULL_BY_CA,
    ("verify-ca", SYSTEM): REFUSED,
    ("verify-full", None): FULL_BY_SYSTEM,
    ("verify-full", CA): FULL_BY_CA,
    ("verify-full", SYSTEM): FULL_BY_SYSTEM,
}


@attrs.frozen
class Files:
    """The test CA's certificate (an sslrootcert) and a client certificate it signed."""

    ca: Path
    client: Issued


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Files:
    """Certificate files; OpenSSL's variables make "the system's CAs" a CA of the test's own."""
    system = Authority.create("System CA").write(tmp_path / "system.crt")
    monkeypatch.setenv("SSL_CERT_FILE", str(system))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-such-directory"))
    authority = Authority.create("Test CA")
    return Files(authority.write(tmp_path / "ca.crt"), authority.client(tmp_path, "alice"))


def neon_url(files: Files, **params: str | None) -> str:
    """A URL on a Neon-like host with `params` as its query ({ca}: the test CA's file)."""
    query = {k: v.format(ca=files.ca) for k, v in params.items() if v is not None}
    return "postgresql://u:p@ep-x.eu-central-1.aws.neon.tech/neondb?" + urlencode(query)


def tls(raw: str) -> str:
    """What asyncpg's `ssl` argument will do for `raw`, in words."""
    url, connect_args = async_database_url(raw)
    assert not {"sslmode", "ssl", "channel_binding", "sslrootcert", "sslcert"} & set(url.query)
    argument = connect_args.get("ssl")
    if argument is None:
        return "asyncpg's default"
    if isinstance(argument, str):
        return f"asyncpg's {argument}"
    assert isinstance(argument, ssl.SSLContext)
    if argument.verify_mode == ssl.CERT_NONE:
        assert not argument.check_hostname
        return "encrypted, unverified"
    assert argument.verify_mode == ssl.CERT_REQUIRED
    trusted = sorted(
        x509.load_der_x509_certificate(der).subject.rfc4514_string()
        for der in argument.get_ca_certs(binary_form=True)
    )
    check = "verify-full" if argument.check_hostname else "verify-ca"
    return f"{check} by {', '.join(trusted)}"


def test_the_tables_cover_every_combination() -> None:
    every = {(mode, rootcert) for mode in MODES for rootcert in ROOTCERTS}
    assert set(WITHOUT_BINDING) == every
    assert set(WITH_BINDING) == every


@pytest.mark.parametrize("binding", [None, "disable", "prefer"])
@pytest.mark.parametrize(("mode", "rootcert"), list(WITHOUT_BINDING))
def test_sslmode_and_sslrootcert_keep_libpqs_meaning(
    files: Files, binding: str | None, mode: str | None, rootcert: str | None
) -> None:
    raw = neon_url(files, sslmode=mode, sslrootcert=rootcert, channel_binding=binding)
    expected = WITHOUT_BINDING[mode, rootcert]
    if expected == REFUSED:
        with pytest.raises(ValueError, match="sslmode"):
            tls(raw)
    else:
        assert tls(raw) == expected


@pytest.mark.parametrize(("mode", "rootcert"), list(WITH_BINDING))
def test_required_channel_binding_verifies_as_verify_full_does(
    files: Files, mode: str | None, rootcert: str | None
) -> None:
    raw = neon_url(files, sslmode=mode, sslrootcert=rootcert, channel_binding="require")
    expected = WITH_BINDING[mode, rootcert]
    if expected == REFUSED:
        with pytest.raises(ValueError, match="sslmode"):
            tls(raw)
    else:
        assert tls(raw) == expected


def test_a_neon_url_works_as_pasted(files: Files) -> None:
    raw = (
        "postgresql://neondb_owner:npg_S3cr%40t@ep-cool-darkness-123456-pooler.eu-central-1"
        ".aws.neon.tech/neondb?sslmode=require&channel_binding=require"
    )
    url, _ = async_database_url(raw)
    assert url.drivername == "postgresql+asyncpg"
    assert url.host == "ep-cool-darkness-123456-pooler.eu-central-1.aws.neon.tech"
    assert (url.username, url.password, url.database) == ("neondb_owner", "npg_S3cr@t", "neondb")
    assert dict(url.query) == {}
    assert tls(raw) == FULL_BY_SYSTEM


def test_ssl_is_asyncpgs_spelling_of_sslmode(files: Files) -> None:
    assert tls(neon_url(files, ssl="require")) == "asyncpg's require"
    assert tls(neon_url(files, ssl="require", channel_binding="require")) == FULL_BY_SYSTEM
    assert tls(neon_url(files, ssl="verify-full", sslrootcert=CA)) == FULL_BY_CA


def test_a_client_certificate_goes_with_any_verification(files: Files) -> None:
    client = {"sslcert": str(files.client.certificate), "sslkey": str(files.client.key)}
    assert tls(neon_url(files, sslmode="require", **client)) == "encrypted, unverified"
    assert tls(neon_url(files, **client)) == "encrypted, unverified"
    assert tls(neon_url(files, sslmode="verify-full", sslrootcert=CA, **client)) == FULL_BY_CA
    assert tls(neon_url(files, channel_binding="require", **client)) == FULL_BY_SYSTEM


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"sslmode": "disable", "channel_binding": "require"}, "channel binding needs TLS"),
        ({"sslmode": "prefer", "sslrootcert": CA}, "names sslrootcert but sslmode=prefer"),
        ({"sslmode": "allow", "sslcert": "{client}", "sslkey": "{key}"}, "names sslcert"),
        ({"sslmode": "require", "sslrootcert": SYSTEM}, "system needs sslmode=verify-full"),
        ({"sslmode": "verify-ca"}, "verify-ca needs sslrootcert"),
        ({"sslmode": "require", "sslcert": "{client}"}, "sslcert and sslkey together"),
        ({"sslmode": "require", "sslkey": "{key}"}, "sslcert and sslkey together"),
        ({"channel_binding": "always"}, "Unsupported channel_binding 'always'"),
        ({"sslmode": "sometimes"}, "Unsupported sslmode 'sometimes'"),
        ({"sslcrl": "/etc/crl.pem"}, "Unsupported database URL parameter 'sslcrl'"),
        ({"sslnegotiation": "direct"}, "Unsupported database URL parameter 'sslnegotiation'"),
        ({"sslpassword": "x"}, "Unsupported database URL parameter 'sslpassword'"),
        ({"sslmode": "require", "ssl": "require"}, "sslmode or ssl in the database URL, not both"),
        ({"sslrootcert": "/no/such/ca.crt"}, r"sslrootcert \(/no/such/ca.crt\) cannot be read"),
        ({"sslrootcert": "{key}"}, "sslrootcert .* cannot be read as PEM"),
        ({"sslcert": "{client}", "sslkey": CA}, "sslcert/sslkey .* cannot be read as PEM"),
    ],
)
def test_contradictions_and_unknown_tls_parameters_are_clear_value_errors(
    files: Files, params: dict[str, str], message: str
) -> None:
    paths = {"ca": files.ca, "client": files.client.certificate, "key": files.client.key}
    query = urlencode({k: v.format(**paths) for k, v in params.items()})
    with pytest.raises(ValueError, match=message) as error:
        async_database_url(f"postgresql://u:secret-pw@h/db?{query}")
    assert "secret-pw" not in str(error.value)


def test_a_tls_parameter_given_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="channel_binding more than once"):
        async_database_url("postgresql://h/db?channel_binding=require&channel_binding=disable")


def test_other_query_parameters_are_kept() -> None:
    url, _ = async_database_url("postgresql://h/db?sslmode=require&prepared_statement_cache_size=0")
    assert dict(url.query) == {"prepared_statement_cache_size": "0"}


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("sqlite:///data/tasks.db", "data/tasks.db"),
        ("sqlite:////var/lib/tasks/tasks.db", "/var/lib/tasks/tasks.db"),
        ("sqlite+aiosqlite:///tasks.db", "tasks.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_urls_use_aiosqlite(raw: str, path: str) -> None:
    url, connect_args = async_database_url(raw)
    assert (url.drivername, url.database) == ("sqlite+aiosqlite", path)
    assert connect_args == {}


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not a url",
        "mysql://u:p@h/db",
        "postgresql+psycopg2://h/db",
        "http://example.com",
        "postgresql://h/db?sslmode=sometimes",
        "postgresql://h/db?sslmode=require&sslmode=disable",
    ],
)
def test_anything_else_is_a_clear_value_error(raw: str) -> None:
    with pytest.raises(ValueError, match=r"(?i)database URL|sslmode"):
        async_database_url(raw)


def test_errors_never_echo_the_password() -> None:
    with pytest.raises(ValueError, match="mysql") as error:
        async_database_url("mysql://user:hunter2-secret@h/db")
    assert "hunter2" not in str(error.value)
