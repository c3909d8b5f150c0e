"""The shared-secret (HS256) verifier and issuer against real tokens, hand-built where hostile."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from adapters.auth import CompositeVerifier, SecretIssuer, SecretVerifier
from adapters.auth.keys import Purpose, derived_key
from adapters.auth.secret import SESSION_KEY_ID
from adapters.auth.tokens import REMEMBERED_BYTES, ClaimRules, subject_principal
from domain.errors import InvalidToken
from domain.sessions import IssuedSession
from domain.types import UserId
from domain.users import Principal, User

SECRET = b"a-shared-secret-of-more-than-thirty-two-bytes!"
ISSUER = "https://app.example.com"
NOW = 1_800_000_000


def b64(data: bytes) -> str:
    """Unpadded base64url, as JWS uses it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(header: Any, claims: Any, *, secret: bytes = SECRET, digest: str = "sha256") -> str:
    """A JWS compact token built by hand, so that it can be as broken as a test needs."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    mac = hmac.new(secret, signing_input.encode(), getattr(hashlib, digest)).digest()
    return f"{signing_input}.{b64(mac)}"


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims at NOW; an override of None removes the claim."""
    base: dict[str, Any] = {
        "sub": "user-1",
        "email": "ada@example.com",
        "iat": NOW,
        "exp": NOW + 600,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(**overrides: Any) -> str:
    """A valid HS256 token at NOW with `overrides` applied to its claims."""
    return compact({"alg": "HS256", "typ": "JWT"}, claims(**overrides))


def verifier(issuer: str | None = None) -> SecretVerifier:
    """A verifier whose clock stands still at NOW."""
    return SecretVerifier(SECRET, issuer=issuer, clock=lambda: NOW)


async def test_a_good_token_gives_its_principal() -> None:
    principal = await verifier().verify(token())
    assert principal == Principal(user_id=UserId("user-1"), email="ada@example.com")


async def test_a_token_minted_by_joserfc_like_a_frontend_is_accepted() -> None:
    minted = jwt.encode({"alg": "HS256"}, claims(), OctKey.import_key(SECRET))
    assert (await verifier().verify(minted)).user_id == "user-1"


async def test_email_is_optional_and_kept_only_when_a_string() -> None:
    assert (await verifier().verify(token(email=None))).email is None
    assert (await verifier().verify(token(email=["x@example.com"]))).email is None


@pytest.mark.parametrize(
    ("exp", "accepted"), [(NOW - 29, True), (NOW - 30, False), (NOW - 600, False)]
)
async def test_expiry_has_thirty_seconds_of_leeway(exp: int, accepted: bool) -> None:
    if accepted:
        await verifier().verify(token(exp=exp))
    else:
        with pytest.raises(InvalidToken):
            await verifier().verify(token(exp=exp))


@pytest.mark.parametrize("claim", ["nbf", "iat"])
async def test_nbf_or_iat_in_the_future_beyond_leeway_is_rejected(claim: str) -> None:
    await verifier().verify(token(**{claim: NOW + 30}))
    with pytest.raises(InvalidToken):
        await verifier().verify(token(**{claim: NOW + 31}))


async def test_the_clock_moves_the_verdict() -> None:
    now = [float(NOW)]
    moving = SecretVerifier(SECRET, clock=lambda: now[0])
    good = token()
    await moving.verify(good)
    now[0] += 630
    with pytest.raises(InvalidToken):
        await moving.verify(good)


async def test_a_remembered_token_is_refused_from_the_moment_its_expiry_refuses_it() -> None:
    now = [float(NOW)]
    moving = SecretVerifier(SECRET, clock=lambda: now[0])
    good = token()
    for _ in range(2):  # the second time from memory
        await moving.verify(good)
    now[0] = NOW + 600 + 29.5  # exp + leeway - 0.5
    await moving.verify(good)
    now[0] = NOW + 600 + 30
    with pytest.raises(InvalidToken):
        await moving.verify(good)


async def test_the_composite_answers_a_remembered_token_only_until_it_expires() -> None:
    now = [float(NOW)]
    composite = CompositeVerifier(SecretVerifier(SECRET, clock=lambda: now[0]), None)
    good = token()
    first = await composite.verify(good)
    assert await composite.verify(good) is first  # from memory
    now[0] = NOW + 600 + 30
    with pytest.raises(InvalidToken):
        await composite.verify(good)


async def test_a_remembered_token_is_checked_again_under_another_key_object() -> None:
    rules = ClaimRules(issuer=None, issuer_required=False, clock=lambda: NOW)
    good = token()
    principal = rules.verify(good, OctKey.import_key(SECRET), "HS256", subject_principal)
    assert principal.user_id == "user-1"
    # What a JWKS refetch does to a key whose material changed under the same kid.
    with pytest.raises(InvalidToken):
        rules.verify(good, OctKey.import_key(b"x" * 48), "HS256", subject_principal)


async def test_remembering_a_token_admits_no_other_signature_or_payload() -> None:
    checked = verifier()
    good = token()
    await checked.verify(good)
    header, payload, signature = good.split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    forged_payload = b64(json.dumps(claims(sub="admin")).encode())
    for forged in (f"{header}.{payload}.{flipped}", f"{header}.{forged_payload}.{signature}"):
        with pytest.raises(InvalidToken):
            await checked.verify(forged)


def test_the_memory_of_verified_tokens_is_bounded_in_bytes() -> None:
    rules = ClaimRules(issuer=None, issuer_required=False, clock=lambda: NOW)
    key = OctKey.import_key(SECRET)
    large = [token(sub=f"user-{n}", pad="x" * 6000) for n in range(REMEMBERED_BYTES // 6000 + 50)]
    for each in large:
        rules.verify(each, key, "HS256", subject_principal)
    assert REMEMBERED_BYTES - 8 * 1024 < rules._verified.currsize <= REMEMBERED_BYTES
    # The least recently used went first; the newest is still there.
    assert rules.remembered(large[0], key) is None
    assert rules.remembered(large[-1], key) is not None


async def test_a_tampered_payload_is_rejected() -> None:
    header, _, signature = token().split(".")
    forged_payload = b64(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(InvalidToken):
        await verifier().verify(f"{header}.{forged_payload}.{signature}")


async def test_a_tampered_signature_is_rejected() -> None:
    header, payload, signature = token().split(".")
    flipped = ("B" if signature[0] == "A" else "A") + signature[1:]
    with pytest.raises(InvalidToken):
        await verifier().verify(f"{header}.{payload}.{flipped}")


async def test_a_token_signed_with_another_secret_is_rejected() -> None:
    other = compact({"alg": "HS256"}, claims(), secret=b"x" * 48)
    with pytest.raises(InvalidToken):
        await verifier().verify(other)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
async def test_unsigned_tokens_are_rejected(alg: str) -> None:
    header = b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims()).encode())
    for unsigned in (f"{header}.{payload}.", f"{header}.{payload}"):
        with pytest.raises(InvalidToken):
            await verifier().verify(unsigned)


@pytest.mark.parametrize(("alg", "digest"), [("HS384", "sha384"), ("HS512", "sha512")])
async def test_other_hmac_algorithms_are_rejected(alg: str, digest: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(compact({"alg": alg}, claims(), digest=digest))


async def test_hs256_signature_under_another_alg_name_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(compact({"alg": "EdDSA"}, claims()))


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "HS256", "crit": ["exp"], "exp": 1},
        {"alg": "HS256", "crit": ["b64"], "b64": False},
        {"alg": "HS256", "b64": True},
        {"alg": "HS256", "crit": []},
    ],
)
async def test_critical_and_unencoded_payload_headers_are_refused(header: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(compact(header, claims()))


async def test_unknown_non_critical_header_parameters_are_ignored() -> None:
    await verifier().verify(compact({"alg": "HS256", "typ": "JWT", "x-trace": "1"}, claims()))


@pytest.mark.parametrize(
    "sub", [None, "", "x" * 256, 42, True, ["user-1"], {"id": "user-1"}], ids=repr
)
async def test_sub_must_be_a_string_of_1_to_255_characters(sub: object) -> None:
    bad = compact({"alg": "HS256"}, {**claims(sub=None), **({} if sub is None else {"sub": sub})})
    with pytest.raises(InvalidToken):
        await verifier().verify(bad)


async def test_a_255_character_sub_is_accepted() -> None:
    assert (await verifier().verify(token(sub="é" * 255))).user_id == "é" * 255


async def test_a_null_sub_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(compact({"alg": "HS256"}, {**claims(), "sub": None}))


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": None},
        {"exp": str(NOW + 600)},
        {"exp": True},
        {"exp": [NOW + 600]},
        {"nbf": "yesterday"},
        {"iat": {"t": 1}},
    ],
    ids=repr,
)
async def test_time_claims_must_be_numbers_and_exp_is_required(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(token(**bad))


async def test_a_json_null_exp_is_rejected() -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(compact({"alg": "HS256"}, {**claims(), "exp": None}))


async def test_tokens_over_8_kib_are_rejected_and_those_under_accepted() -> None:
    small = token(pad="x" * 5000)
    assert len(small) <= 8192
    await verifier().verify(small)
    big = token(pad="x" * 6200)
    assert len(big) > 8192
    with pytest.raises(InvalidToken):
        await verifier().verify(big)


def _jws(header: bytes, payload: bytes = b"{}", signature: str = "c2ln") -> str:
    return ".".join((b64(header), b64(payload), signature))


_HS256 = b'{"alg":"HS256"}'
GARBAGE = [
    "",
    ".",
    "..",
    "a.b",
    "a.b.c",
    "a.b.c.d",
    "a.b.c.d.e",
    "!!!.@@@.###",
    "é.é.é",
    "\x00.\x00.\x00",
    _jws(b"[]", signature=""),
    _jws(b"[1,2]"),
    _jws(b'"HS256"'),
    _jws(b"null"),
    _jws(b"{}"),
    _jws(b'{"alg":256}'),
    _jws(b'{"alg":null}'),
    _jws(b'{"alg":"HS256"'),
    _jws(b"\xff\xfe"),
    _jws(b"[" * 2000 + b"]" * 2000),
    _jws(_HS256, signature=""),
    _jws(_HS256, signature="!!!"),
    _jws(_HS256, signature="c2ln="),
    _jws(_HS256, signature="A" * 3000),
    b64(_HS256) + ".!!!.c2ln",
    b64(_HS256) + "==." + b64(b"{}") + ".c2ln",
    "Bearer a.b.c",
    " a.b.c ",
]


@pytest.mark.parametrize("garbage", GARBAGE, ids=lambda g: repr(g[:40]))
async def test_garbage_is_an_invalid_token_and_nothing_else(garbage: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(garbage)


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b'"sub"',
        b"null",
        b"not json",
        b"\xff\xfe",
        b"[" * 2400 + b"]" * 2400,
        b'{"exp": ' + b"9" * 5000 + b"}",
    ],
    ids=lambda p: repr(p[:20]),
)
async def test_a_correctly_signed_but_weird_payload_is_an_invalid_token(payload: bytes) -> None:
    signing_input = f"{b64(json.dumps({'alg': 'HS256'}).encode())}.{b64(payload)}"
    mac = hmac.new(SECRET, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(InvalidToken):
        await verifier().verify(f"{signing_input}.{b64(mac)}")


async def test_non_string_tokens_are_invalid() -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(b"a.b.c")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"iss": ISSUER},
        {"aud": ISSUER},
        {"iss": ISSUER, "aud": ISSUER},
        {"iss": ISSUER + "/", "aud": ISSUER + "/"},
        {"aud": ["https://other.example.com", ISSUER]},
        {"aud": [ISSUER + "/"]},
    ],
    ids=repr,
)
async def test_with_an_issuer_hs256_iss_and_aud_may_be_omitted_but_must_match(
    extra: dict[str, Any],
) -> None:
    await verifier(ISSUER).verify(token(**extra))
    await verifier(ISSUER + "/").verify(token(**extra))


@pytest.mark.parametrize(
    "extra",
    [
        {"iss": "https://evil.example.com"},
        {"iss": ISSUER + "/x"},
        {"iss": 42},
        {"aud": "https://evil.example.com"},
        {"aud": ["https://evil.example.com"]},
        {"aud": []},
        {"aud": [42]},
        {"iss": ISSUER, "aud": "https://evil.example.com"},
    ],
    ids=repr,
)
async def test_with_an_issuer_a_wrong_iss_or_aud_is_rejected(extra: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier(ISSUER).verify(token(**extra))


async def test_without_an_issuer_iss_is_not_compared() -> None:
    await verifier().verify(token(iss="https://anyone.example.com"))


@pytest.mark.parametrize("aud", ["whatever", [ISSUER], []], ids=repr)
async def test_without_an_issuer_a_token_for_an_audience_is_refused(aud: object) -> None:
    # RFC 7519 §4.1.3: with no audience configured, the service is in no token's audience.
    with pytest.raises(InvalidToken):
        await verifier().verify(token(aud=aud))


def test_a_secret_shorter_than_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SecretVerifier(b"x" * 31)
    with pytest.raises(ValueError, match="32 bytes"):
        SecretIssuer(b"x" * 31, issuer=None)
    SecretVerifier(b"x" * 32)
    SecretIssuer(b"x" * 32, issuer=None)


USER = User(
    id=UserId("local-7"), email="grace@example.com", created_at=datetime(2026, 1, 1, tzinfo=UTC)
)
ISSUED_AT = datetime.fromtimestamp(NOW, UTC) + timedelta(microseconds=250_001)
SESSION_KEY = derived_key(SECRET, Purpose.SESSION_TOKENS)


def _decoded(raw: str) -> tuple[dict[str, Any], dict[str, Any]]:
    decoded = jwt.decode(raw, OctKey.import_key(SESSION_KEY), algorithms=["HS256"])
    return decoded.header, decoded.claims


async def test_issued_tokens_carry_the_claims_of_spec_4_and_verify() -> None:
    issued = SecretIssuer(SECRET, issuer=ISSUER).issue(USER, ISSUED_AT)
    header, payload = _decoded(issued.token)
    assert header == {"alg": "HS256", "typ": "JWT", "kid": SESSION_KEY_ID}
    jti = payload.pop("jti")
    # No `email`: a sign-up does not prove it, and Better Auth trusts a token that states it.
    assert payload == {
        "sub": "local-7",
        "iat": ISSUED_AT.timestamp(),
        "exp": NOW + 7 * 24 * 3600,
        "iss": ISSUER,
        "aud": ISSUER,
    }
    assert len(base64.urlsafe_b64decode(jti + "==")) * 8 >= 128
    assert issued.expires_at == datetime.fromtimestamp(NOW, UTC) + timedelta(days=7)
    principal = await verifier(ISSUER).verify(issued.token)
    assert principal == Principal(
        user_id=UserId("local-7"),
        session=IssuedSession(
            id=jti,
            issued_at=ISSUED_AT,
            expires_at=issued.expires_at + timedelta(seconds=30),
        ),
    )


async def test_every_issued_token_has_its_own_id() -> None:
    issuer = SecretIssuer(SECRET, issuer=None)
    ids = {_decoded(issuer.issue(USER, ISSUED_AT).token)[1]["jti"] for _ in range(50)}
    assert len(ids) == 50


async def test_issued_tokens_are_signed_with_the_derived_key_not_the_secret() -> None:
    issued = SecretIssuer(SECRET, issuer=None).issue(USER, ISSUED_AT)
    with pytest.raises(JoseError):
        jwt.decode(issued.token, OctKey.import_key(SECRET), algorithms=["HS256"])


async def test_without_an_issuer_issued_tokens_have_no_iss_or_aud() -> None:
    issued = SecretIssuer(SECRET, issuer=None, lifetime=timedelta(hours=1)).issue(USER, ISSUED_AT)
    _, payload = _decoded(issued.token)
    assert set(payload) == {"sub", "iat", "exp", "jti"}
    assert payload["exp"] == NOW + 3600
    assert issued.expires_at == datetime.fromtimestamp(NOW, UTC) + timedelta(hours=1)
    await verifier().verify(issued.token)


async def test_issued_tokens_expire_with_their_lifetime() -> None:
    issued = SecretIssuer(SECRET, issuer=None, lifetime=timedelta(minutes=1)).issue(USER, ISSUED_AT)
    later = SecretVerifier(SECRET, clock=lambda: NOW + 60 + 30)
    with pytest.raises(InvalidToken):
        await later.verify(issued.token)


def own(header: dict[str, Any] | None = None, *, key: bytes = SESSION_KEY, **overrides: Any) -> str:
    """A token shaped like the service's own, signed with `key` (the derived one by default)."""
    claims = {"sub": "local-7", "iat": NOW, "exp": NOW + 600, "jti": "j" * 22, **overrides}
    kept = {k: v for k, v in claims.items() if v is not None}
    return compact(header or {"alg": "HS256", "kid": SESSION_KEY_ID}, kept, secret=key)


async def test_a_token_of_ours_is_recognised_by_its_kid_and_the_derived_key() -> None:
    principal = await verifier().verify(own())
    assert principal.session is not None
    assert principal.session.id == "j" * 22


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param(own(key=SECRET), id="our kid, signed with the shared secret"),
        pytest.param(own({"alg": "HS256"}), id="the derived key, without our kid"),
        pytest.param(own({"alg": "HS256", "kid": "other"}), id="the derived key, another kid"),
    ],
)
async def test_the_kid_routes_to_one_key_and_that_key_decides(forged: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(forged)


async def test_a_frontends_token_with_a_kid_of_its_own_is_checked_with_the_secret() -> None:
    frontend = compact({"alg": "HS256", "kid": "frontend-1"}, claims())
    principal = await verifier().verify(frontend)
    assert (principal.user_id, principal.session) == ("user-1", None)


@pytest.mark.parametrize(
    "claims_",
    [{"jti": None}, {"jti": ""}, {"jti": "j" * 65}, {"jti": 7}, {"iat": None}, {"exp": None}],
    ids=repr,
)
async def test_a_token_of_ours_needs_an_id_and_both_times(claims_: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(own(**claims_))


async def test_a_token_of_ours_follows_the_audience_rule_too() -> None:
    await verifier(ISSUER).verify(own(iss=ISSUER, aud=ISSUER))
    with pytest.raises(InvalidToken):
        await verifier().verify(own(aud=ISSUER))
    with pytest.raises(InvalidToken):
        await verifier(ISSUER).verify(own(aud="https://evil.example.com"))


def test_a_non_positive_lifetime_is_refused() -> None:
    with pytest.raises(ValueError, match="lifetime"):
        SecretIssuer(SECRET, issuer=None, lifetime=timedelta(0))


@pytest.mark.parametrize("sub", ["nul\x00", "line\nbreak", "c1\x85"])
async def test_a_sub_with_control_characters_names_nobody(sub: str) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(token(sub=sub))


@pytest.mark.parametrize("email", ["x" * 250 + "@b.co", "nul\x00@b.co"])
async def test_an_unstorable_email_claim_is_dropped(email: str) -> None:
    principal = await verifier().verify(token(email=email))
    assert principal.email is None


BA_USER = "ba-user-1"


def ba_session(**overrides: Any) -> dict[str, Any]:
    """Claims shaped like Better Auth's cookie-cache session token; an override of None drops one."""
    base: dict[str, Any] = {
        "session": {"id": "s-1", "token": "opaque", "userId": BA_USER, "expiresAt": "2027-01-01"},
        "user": {"id": BA_USER, "email": "ada@example.com", "name": "Ada", "emailVerified": False},
        "updatedAt": NOW * 1000,
        "version": "1",
        "iat": NOW,
        "exp": NOW + 300,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def with_user_id(user_id: object) -> dict[str, Any]:
    """Session claims whose user id, in both places, is `user_id`."""
    return ba_session(
        session={"id": "s-1", "userId": user_id}, user={"id": user_id, "email": "a@b.co"}
    )


async def test_better_auths_session_token_names_its_user_and_nothing_more() -> None:
    principal = await verifier().verify(compact({"alg": "HS256"}, ba_session()))
    assert principal == Principal(user_id=UserId(BA_USER), email="ada@example.com")


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(ba_session(session={"id": "s-1", "userId": "someone-else"}), id="userId"),
        pytest.param(ba_session(session={"id": "s-1"}), id="no userId"),
        pytest.param(ba_session(session=None), id="no session"),
        pytest.param(ba_session(user=None), id="no user"),
        pytest.param(ba_session(session=BA_USER), id="session a string"),
        pytest.param(ba_session(user=[BA_USER]), id="user a list"),
        pytest.param(ba_session(exp=None), id="no exp"),
        pytest.param(ba_session(exp=NOW - 31), id="expired"),
        pytest.param(ba_session(aud="https://app.example.com"), id="an audience"),
        pytest.param(with_user_id(""), id="empty id"),
        pytest.param(with_user_id("x" * 256), id="long id"),
        pytest.param(with_user_id(42), id="numeric id"),
        pytest.param(with_user_id(None), id="null id"),
        pytest.param(with_user_id("a\x00b"), id="control in id"),
    ],
)
async def test_a_session_token_that_does_not_name_one_user_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidToken):
        await verifier().verify(compact({"alg": "HS256"}, bad))


async def test_a_session_token_is_trusted_only_under_the_shared_secret() -> None:
    for forged in (
        compact({"alg": "HS256"}, ba_session(), secret=b"y" * 48),
        compact({"alg": "HS256", "kid": SESSION_KEY_ID}, ba_session(), secret=SESSION_KEY),
    ):
        with pytest.raises(InvalidToken):
            await verifier().verify(forged)


async def test_a_session_tokens_unstorable_email_is_dropped() -> None:
    claims = ba_session(user={"id": BA_USER, "email": ["a@b.co"]})
    assert (await verifier().verify(compact({"alg": "HS256"}, claims))).email is None
