"""The JSON envelope every /api response wears, rendered with orjson."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from adapters.http.codes import ErrorCode

_JSON_OPTIONS = orjson.OPT_UTC_Z


def render(body: Any) -> bytes:
    """Serialise a response body; datetimes come out as RFC 3339 with `Z`."""
    return orjson.dumps(body, option=_JSON_OPTIONS)


def success_body(data: Any, message: str, meta: Mapping[str, Any] | None = None) -> bytes:
    """The bytes of a success envelope: `{"data": …, "error": null, "message": …}`, plus `meta`."""
    body: dict[str, Any] = {"data": data, "error": None, "message": message}
    if meta is not None:
        body["meta"] = meta
    return render(body)


def success(
    data: Any,
    message: str,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    meta: Mapping[str, Any] | None = None,
) -> Response:
    """A success envelope: `{"data": …, "error": null, "message": …}`, plus `meta` on lists."""
    body = success_body(data, message, meta)
    return Response(body, status, headers, media_type="application/json")


def failure(
    status: int,
    code: ErrorCode,
    message: str,
    *,
    headers: Mapping[str, str] | None = None,
    details: list[dict[str, str]] | None = None,
) -> Response:
    """A failure envelope: `{"data": null, "error": CODE, "message": …}`, plus `details`."""
    body: dict[str, Any] = {"data": None, "error": code, "message": message}
    if details is not None:
        body["details"] = details
    return Response(render(body), status, headers, media_type="application/json")
