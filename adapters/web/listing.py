"""The task list's address: its filters, order and page, read from and written to query strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from adapters.web.session import DEFAULT_NEXT, safe_next
from domain.queries import Sort, Status, TaskFilter, TaskQuery

_SORT_LABELS: Final = {
    "-created_at": "Newest first",
    "created_at": "Oldest first",
    "-updated_at": "Recently changed",
    "due": "Due soonest",
    "-priority": "Highest priority",
    "title": "Title A–Z",
}
# Parsed, so that a name no sort has stops the import instead of vanishing from the page.
SORT_CHOICES: Final = tuple((str(Sort.parse(name)), label) for name, label in _SORT_LABELS.items())
STATUS_CHOICES: Final = (
    (Status.ALL, "All"),
    (Status.PENDING, "Pending"),
    (Status.COMPLETED, "Completed"),
)
_TRANSIENT: Final = frozenset({"notice", "undo"})


@attrs.frozen(kw_only=True)
class ListView:
    """Which tasks the list page shows; values it cannot read fall back to the defaults."""

    status: Status = Status.ALL
    sort: Sort = attrs.field(factory=Sort)
    cursor: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> ListView:
        """The view a list URL's query parameters ask for."""
        status = {s.value: s for s in Status}.get(params.get("status", ""), Status.ALL)
        try:
            sort = Sort.parse(params["sort"])
        except (KeyError, ValueError):
            sort = Sort()
        return cls(status=status, sort=sort, cursor=params.get("cursor") or None)

    @classmethod
    def from_url(cls, url: str) -> ListView:
        """The view of a list URL."""
        return cls.from_params(dict(parse_qsl(urlsplit(url).query)))

    def query(self) -> TaskQuery:
        """The use case's query for this view (the cursor travels separately)."""
        return TaskQuery(filter=TaskFilter(status=self.status), sort=self.sort)

    def url(self, **changes: object) -> str:
        """The list URL of this view with `changes` (e.g. another status, or no cursor)."""
        view = attrs.evolve(self, **changes)  # type: ignore[arg-type]
        params = {"status": view.status.value, "sort": str(view.sort), "cursor": view.cursor}
        defaults = {"status": Status.ALL.value, "sort": str(Sort()), "cursor": None}
        query = urlencode({k: v for k, v in params.items() if v != defaults[k]})
        return DEFAULT_NEXT + (f"?{query}" if query else "")


def back_to(target: str | None, notice: str, *, undo: str | None = None) -> str:
    """The page to return to after a form (a safe local path, else the list) with a notice."""
    parts = urlsplit(safe_next(target) or DEFAULT_NEXT)
    params = [(k, v) for k, v in parse_qsl(parts.query) if k not in _TRANSIENT]
    params.append(("notice", notice))
    if undo is not None:
        params.append(("undo", undo))
    return f"{parts.path}?{urlencode(params)}"
