"""Reading requests: the caller's token, JSON bodies, path ids, query strings and preconditions."""

from __future__ import annotations

import hashlib
import re
from typing import Any, Final

import orjson
from starlette.requests import Request

from adapters.http.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from adapters.http.representation import unknown_parameters
from domain.errors import InvalidToken, MissingToken, NotFound, ValidationFailed
from domain.policy import LIST_NOT_FOUND, Action
from domain.types import ListId, TaskId, UserId, parse_list_id, parse_task_id
from domain.users import Caller, Principal
from taskservice.ports import MAX_TOKEN_LENGTH, TokenVerifier
from taskservice.services.access import TASK_NOT_FOUND

MAX_BODY: Final = 64 * 1024
JSON: Final = frozenset({"application/json"})
JSON_OR_MERGE_PATCH: Final = frozenset({"application/json", "application/merge-patch+json"})

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_STRONG_ETAG = re.compile(r'"([1-9][0-9]{0,9})"', re.ASCII)
_ANY_ETAG = re.compile(r'(?:W/)?"([1-9][0-9]{0,9})"', re.ASCII)


def bearer_token(request: Request) -> str:
    """The token of `Authorization: Bearer …` (scheme case-insensitive)."""
    header = request.headers.get("authorization")
    if header is None:
        raise MissingToken()
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise InvalidToken("The Authorization header must be 'Bearer <token>'.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("The access token is too large.")
    return token


async def authenticated(request: Request, verifier: TokenVerifier) -> Principal:
    """The principal of the request's bearer token, remembered for the request's log line."""
    principal = await verifier.verify(bearer_token(request))
    request.state.user_id = principal.user_id
    return principal


async def caller(request: Request, verifier: TokenVerifier, action: Action) -> Caller:
    """The verified caller, allowed `action`, and the user whose data the path names.

    The policy is applied here already (the use case applies it again), so that a stranger, or
    a token without the scope, gets a 403 before anything else of the request is judged.
    """
    principal = await authenticated(request, verifier)
    found = Caller(principal=principal, owner=UserId(request.path_params["user_id"]))
    found.authorize(action)
    return found


def task_id(text: str) -> TaskId:
    """A path id that is a positive 64-bit integer; anything else names no task, and is answered
    as a missing one is."""
    found = parse_task_id(text)
    if found is None:
        raise NotFound(TASK_NOT_FOUND)
    return found


def list_id(text: str) -> ListId:
    """A path id that is a positive 64-bit integer; anything else names no list, and is answered
    as a missing one is."""
    found = parse_list_id(text)
    if found is None:
        raise NotFound(LIST_NOT_FOUND)
    return found


def no_parameters(request: Request) -> None:
    """ValidationFailed for any query parameter: the route reads none (SPEC §1)."""
    if not request.scope["query_string"]:
        return
    errors = unknown_parameters(set(request.query_params))
    if errors:
        raise ValidationFailed(errors, "The query has invalid parameters.")


async def json_object(
    request: Request, media_types: frozenset[str] = JSON, *, optional: bool = False
) -> dict[str, Any] | None:
    """The body as a JSON object; None for an absent body when `optional`."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"The body must be at most {MAX_BODY} bytes.")
    body = await _read_body(request)
    if optional and not body:
        return None
    _check_media_type(request, media_types)
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest("The body is not valid JSON in UTF-8.") from None
    if not isinstance(parsed, dict):
        raise BadRequest("The body must be a JSON object.")
    _integers(parsed)
    return parsed


def _integers(body: dict[str, Any]) -> None:
    """Turn every number with a zero fraction (`2.0`, `2e3`) into the integer it is, in place.

    JSON has one kind of number, and JSON Schema counts 2.0 an integer, as the OpenAPI document
    does; the rules behind it (ids, `expires_in`) take Python integers only. A loop, not
    recursion: a body may nest as deep as the JSON parser allows.
    """
    stack: list[dict[str, Any] | list[Any]] = [body]
    while stack:
        node = stack.pop()
        items = node.items() if type(node) is dict else enumerate(node)
        for key, value in items:
            kind = type(value)
            if kind is float:
                # Within 64 bits, as orjson writes integers (an idempotency fingerprint does).
                if value.is_integer() and _INT64_MIN <= value <= _INT64_MAX:
                    node[key] = int(value)  # type: ignore[index]
            elif kind is dict or kind is list:
                stack.append(value)


def fingerprint(body: dict[str, Any], *, scope: str = "") -> str:
    """A hash of a JSON body that ignores key order and whitespace, to recognise a retry.

    `scope` names what else the request is about (a task, a route), so that the same body sent
    elsewhere with the same key is told apart; a create's is empty.
    """
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(scope.encode() + canonical).hexdigest()


def _check_media_type(request: Request, accepted: frozenset[str]) -> None:
    media_type, *params = request.headers.get("content-type", "").split(";")
    charset = next(
        (
            v.strip().strip('"').lower()
            for k, _, v in (p.partition("=") for p in params)
            if k.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if media_type.strip().lower() not in accepted or charset != "utf-8":
        raise UnsupportedMediaType(f"The body must be {' or '.join(sorted(accepted))} in UTF-8.")


async def _read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(f"The body must be at most {MAX_BODY} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def if_match(request: Request) -> frozenset[int] | None:
    """The versions an If-Match header accepts (strong comparison); None without one or for `*`."""
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    return frozenset(
        int(m[1]) for part in header.split(",") if (m := _STRONG_ETAG.fullmatch(part.strip()))
    )


def if_none_match_tag(request: Request, tag: str | None) -> bool:
    """Whether If-None-Match names the weak ETag `tag` (weak comparison: `W/` aside) or is `*`;
    never without a tag (nothing there to match)."""
    header = request.headers.get("if-none-match")
    if header is None or tag is None:
        return False
    if header.strip() == "*":
        return True
    opaque = tag.removeprefix("W/")
    return any(part.strip().removeprefix("W/") == opaque for part in header.split(","))


def if_none_match(request: Request, version: int) -> bool:
    """Whether If-None-Match names `version` (weak comparison) or is `*`."""
    header = request.headers.get("if-none-match")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(
        (m := _ANY_ETAG.fullmatch(part.strip())) and int(m[1]) == version
        for part in header.split(",")
    )
