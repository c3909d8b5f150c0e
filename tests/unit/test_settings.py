"""Configuration from the environment and `.env` (SPEC §6)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from adapters.http.style import STYLES
from taskservice.settings import API_STYLES, ConfigurationError, Settings

GOOD_SECRET = "s" * 32


def test_defaults_are_the_embedded_database_and_a_generated_secret(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.load({"DATA_DIR": str(data)}, cwd=tmp_path)

    assert settings.database_url == f"sqlite:///{data / 'tasks.db'}"
    secret_file = data / "secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert settings.secret == secret_file.read_bytes()
    assert len(settings.secret) >= 32
    again = Settings.load({"DATA_DIR": str(data)}, cwd=tmp_path)
    assert again.secret == settings.secret


@pytest.mark.parametrize("env", ["production", " Production "])
def test_production_refuses_to_start_without_a_secret(tmp_path: Path, env: str) -> None:
    with pytest.raises(ConfigurationError, match="BETTER_AUTH_SECRET"):
        Settings.load({"ENV": env, "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert not (tmp_path / "secret").exists()


def test_an_unknown_env_generates_no_secret(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="ENV"):
        Settings.load({"ENV": "prod", "DATA_DIR": str(tmp_path)}, cwd=tmp_path)
    assert not (tmp_path / "secret").exists()


def test_a_short_secret_is_refused_everywhere(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="at least 32 bytes"):
        Settings.load({"BETTER_AUTH_SECRET": "s" * 31}, cwd=tmp_path)


def test_dotenv_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"BETTER_AUTH_SECRET={GOOD_SECRET}\nPORT=9000\nALLOW_SIGNUP=false\nDATABASE_URL=sqlite:///x.db\n"
    )
    settings = Settings.load({"PORT": "9100"}, cwd=tmp_path)

    assert settings.secret == GOOD_SECRET.encode()
    assert settings.port == 9100
    assert settings.allow_signup is False
    assert settings.database_url == "sqlite:///x.db"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CORS_ORIGINS": "*"}, "CORS_ORIGINS"),
        ({"ALLOW_SIGNUP": "maybe"}, "ALLOW_SIGNUP"),
        ({"PORT": "eighty"}, "PORT"),
        ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({"API_STYLE": "fastapi"}, "API_STYLE"),
        ({"ENV": "prod"}, "ENV must be development or production, not 'prod'"),
        ({"ENV": "staging"}, "ENV"),
        ({"ENV": ""}, "ENV"),
        ({"FORWARDED_ALLOW_IPS": "*"}, "FORWARDED_ALLOW_IPS='\\*' would let every client"),
        ({"FORWARDED_ALLOW_IPS": "10.0.0.1, *"}, "FORWARDED_ALLOW_IPS"),
        ({"FORWARDED_ALLOW_IPS": "proxy.internal"}, "not an IP address or network"),
        ({"FORWARDED_ALLOW_IPS": "10.0.0.1/8"}, "no host bits"),
    ],
)
def test_bad_values_are_explained(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET, **env}, cwd=tmp_path)


def test_cors_origins_are_exact(tmp_path: Path) -> None:
    settings = Settings.load(
        {
            "BETTER_AUTH_SECRET": GOOD_SECRET,
            "CORS_ORIGINS": "https://a.example/, http://localhost:3000",
        },
        cwd=tmp_path,
    )
    assert settings.cors_origins == ("https://a.example", "http://localhost:3000")


def test_the_api_style_is_envelope_unless_the_operator_says_plain(tmp_path: Path) -> None:
    default = Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET}, cwd=tmp_path)
    plain = Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET, "API_STYLE": " Plain "}, cwd=tmp_path)

    assert (default.api_style, plain.api_style) == ("envelope", "plain")
    assert plain.summary()["api_style"] == "plain"


def test_every_style_the_settings_accept_exists() -> None:
    assert set(API_STYLES) == set(STYLES)


@pytest.mark.parametrize(
    ("raw", "trusted"),
    [
        (None, "127.0.0.1"),
        ("", ""),
        (" 10.0.0.5 , 172.31.250.0/24,2001:db8::/64 ", "10.0.0.5,172.31.250.0/24,2001:db8::/64"),
    ],
)
def test_forwarded_allow_ips_lists_addresses_and_networks(
    tmp_path: Path, raw: str | None, trusted: str
) -> None:
    environ = {"BETTER_AUTH_SECRET": GOOD_SECRET}
    if raw is not None:
        environ["FORWARDED_ALLOW_IPS"] = raw
    assert Settings.load(environ, cwd=tmp_path).forwarded_allow_ips == trusted


def test_a_jwks_url_without_the_better_auth_url_stops_start_up(tmp_path: Path) -> None:
    env = {"BETTER_AUTH_SECRET": GOOD_SECRET, "BETTER_AUTH_JWKS_URL": "https://a.example/jwks"}
    with pytest.raises(ConfigurationError, match="BETTER_AUTH_JWKS_URL needs BETTER_AUTH_URL"):
        Settings.load(env, cwd=tmp_path)


def test_the_jwks_url_is_derived_from_the_better_auth_url(tmp_path: Path) -> None:
    env = {"BETTER_AUTH_SECRET": GOOD_SECRET, "BETTER_AUTH_URL": "https://app.example.com/"}
    assert Settings.load(env, cwd=tmp_path).jwks_url == "https://app.example.com/api/auth/jwks"
    assert Settings.load({"BETTER_AUTH_SECRET": GOOD_SECRET}, cwd=tmp_path).jwks_url is None


@pytest.mark.parametrize(
    "url",
    [
        "https://keys.example.com/jwks",
        "http://localhost:3000/api/auth/jwks",
        "http://127.0.0.1:3000/api/auth/jwks",
        "http://127.8.9.10/jwks",
        "http://[::1]:3000/api/auth/jwks",
    ],
)
def test_keys_come_over_https_or_from_a_loopback_host(tmp_path: Path, url: str) -> None:
    env = {
        "BETTER_AUTH_SECRET": GOOD_SECRET,
        "BETTER_AUTH_URL": "https://app.example.com",
        "BETTER_AUTH_JWKS_URL": url,
    }
    assert Settings.load(env, cwd=tmp_path).jwks_url == url


@pytest.mark.parametrize(
    "urls",
    [
        {"BETTER_AUTH_URL": "http://app.example.com"},
        {"BETTER_AUTH_URL": "http://frontend:3000"},
        {"BETTER_AUTH_JWKS_URL": "http://keys.example.com/jwks"},
        {"BETTER_AUTH_JWKS_URL": "http://10.0.0.1/jwks"},
        {"BETTER_AUTH_JWKS_URL": "http://[::2]/jwks"},
        {"BETTER_AUTH_JWKS_URL": "http://localhost.example.com/jwks"},
        {"BETTER_AUTH_JWKS_URL": "ftp://keys.example.com/jwks"},
        {"BETTER_AUTH_JWKS_URL": "https:///jwks"},
        {"BETTER_AUTH_JWKS_URL": "https://keys.example.com:port/jwks"},
    ],
    ids=repr,
)
def test_keys_over_plain_http_elsewhere_stop_start_up(tmp_path: Path, urls: dict[str, str]) -> None:
    env = {"BETTER_AUTH_SECRET": GOOD_SECRET, "BETTER_AUTH_URL": "https://app.example.com", **urls}
    with pytest.raises(ConfigurationError, match=r"must be https://"):
        Settings.load(env, cwd=tmp_path)


OIDC = {
    "OIDC_ISSUER": "https://accounts.example.com",
    "OIDC_CLIENT_ID": "tasks",
    "OIDC_CLIENT_SECRET": "client-secret",
}


def test_openid_connect_is_off_until_configured_and_named_by_its_host(tmp_path: Path) -> None:
    base = {"DATA_DIR": str(tmp_path), "BETTER_AUTH_SECRET": GOOD_SECRET}
    off = Settings.load(base, cwd=tmp_path)
    assert not off.oidc_enabled
    assert off.summary()["oidc_issuer"] is None
    on = Settings.load({**base, **OIDC}, cwd=tmp_path)
    assert on.oidc_enabled
    assert on.oidc_label == "accounts.example.com"
    assert "client-secret" not in repr(on)
    assert "client-secret" not in str(on.summary())
    named = Settings.load({**base, **OIDC, "OIDC_NAME": "Example ID"}, cwd=tmp_path)
    assert named.oidc_label == "Example ID"
    local = Settings.load({**base, **OIDC, "OIDC_ISSUER": "http://127.0.0.1:9000"}, cwd=tmp_path)
    assert local.oidc_issuer == "http://127.0.0.1:9000"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OIDC_ISSUER": OIDC["OIDC_ISSUER"]}, "OIDC_CLIENT_ID, OIDC_CLIENT_SECRET missing"),
        ({**OIDC, "OIDC_CLIENT_SECRET": ""}, "OIDC_CLIENT_SECRET missing"),
        ({"OIDC_NAME": "Example"}, "OIDC_ISSUER is not"),
        ({**OIDC, "OIDC_ISSUER": "http://accounts.example.com"}, "https://"),
        ({**OIDC, "OIDC_ISSUER": "https://a.example.com/?tenant=1"}, "no query"),
        ({**OIDC, "OIDC_ISSUER": "accounts.example.com"}, "https://"),
        ({**OIDC, "OIDC_NAME": "x" * 41}, "OIDC_NAME"),
    ],
)
def test_openid_connect_settings_are_whole_and_safe(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.load(
            {"DATA_DIR": str(tmp_path), "BETTER_AUTH_SECRET": GOOD_SECRET, **env}, cwd=tmp_path
        )
