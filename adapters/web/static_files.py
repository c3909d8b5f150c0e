"""Our stylesheet, script and images, cached for good when asked for by their versioned URL."""

from __future__ import annotations

import os

from starlette.responses import Response
from starlette.staticfiles import PathLike, StaticFiles
from starlette.types import Scope

_FOREVER = "public, max-age=31536000, immutable"


class VersionedStaticFiles(StaticFiles):
    """Static files; a URL carrying the content hash (`?v=`) may be cached for a year."""

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        """The file, with a Cache-Control that fits how it was addressed."""
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = scope.get("query_string", b"").startswith(b"v=")
        response.headers["Cache-Control"] = _FOREVER if versioned else "no-cache"
        return response
