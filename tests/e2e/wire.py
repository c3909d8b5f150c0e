"""Reads the API's answers whichever response style is in force (SPEC §1 envelope, §11 plain)."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx

STYLES: Final = ("envelope", "plain")
_ERROR_KEYS: Final = {"envelope": {"data", "error", "message"}, "plain": {"detail", "error"}}


@attrs.frozen
class Wire:
    """What a client of one style reads from a response: the resource, the error, the page."""

    style: str

    @property
    def plain(self) -> bool:
        """Whether bodies are the resources themselves (SPEC §11)."""
        return self.style == "plain"

    def data(self, response: httpx.Response) -> Any:
        """The resource of a success (for a list, its array of tasks)."""
        body = response.json()
        if self.plain:
            return body
        assert body["error"] is None, body
        assert isinstance(body["message"], str), body
        return body["data"]

    def error(self, response: httpx.Response) -> str:
        """The code of a refusal, whose body has exactly the keys of the style."""
        body = response.json()
        assert set(body) - {"details"} == _ERROR_KEYS[self.style], body
        assert self.message(response), body
        if not self.plain:
            assert body["data"] is None, body
        code: str = body["error"]
        return code

    def message(self, response: httpx.Response) -> str:
        """The sentence for people: `detail` in the plain style, `message` in the envelope."""
        text = response.json()["detail" if self.plain else "message"]
        assert isinstance(text, str), text
        return text

    def details(self, response: httpx.Response) -> list[dict[str, str]]:
        """The broken rules of a validation failure."""
        details: list[dict[str, str]] = response.json()["details"]
        return details

    def counts(self, response: httpx.Response) -> dict[str, int]:
        """A list's counts of the user's pending and completed tasks."""
        if self.plain:
            headers = response.headers
            counts = {
                "pending": int(headers["x-pending-count"]),
                "completed": int(headers["x-completed-count"]),
            }
            assert int(headers["x-total-count"]) == sum(counts.values())
            return counts
        counts_: dict[str, int] = response.json()["meta"]["counts"]
        return counts_

    def next_cursor(self, response: httpx.Response) -> str | None:
        """The cursor of a list's next page, None on the last."""
        if not self.plain:
            cursor: str | None = response.json()["meta"]["next_cursor"]
            return cursor
        link = response.links.get("next")
        if link is None:
            return None
        [value] = parse_qs(urlsplit(link["url"]).query)["cursor"]
        return value

    def feed(self, response: httpx.Response) -> tuple[list[dict[str, Any]], str, bool]:
        """A change feed page's entries, its cursor and whether more wait."""
        entries: list[dict[str, Any]] = self.data(response)
        if self.plain:
            headers = response.headers
            has_more = headers["x-feed-has-more"] == "true"
            # The next page's link carries the same cursor, and only while more wait.
            assert ("next" in response.links) == has_more
            return entries, headers["x-feed-cursor"], has_more
        meta = response.json()["meta"]
        return entries, meta["cursor"], meta["has_more"]
