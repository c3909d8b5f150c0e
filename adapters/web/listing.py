"""The task list's address: its filters, order and page, read from and written to query strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

import attrs

from adapters.web.session import DEFAULT_NEXT, safe_next
from domain.queries import Sort, SortField, Status, TaskFilter, TaskQuery
from domain.types import ListId, parse_list_id

_SORT_LABELS: Final = {
    "position": "My order",
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
MANUAL_ORDER: Final = Sort(field=SortField.POSITION, descending=False)
"""A list page's order unless another is chosen: the order its members gave it."""


@attrs.frozen(kw_only=True)
class PageView:
    """Which tasks the list page shows: of which list (None: the visitor's default list), which
    of them, in which order, from where; values it cannot read fall back to the defaults."""

    list_id: ListId | None = None
    status: Status = Status.ALL
    sort: Sort = MANUAL_ORDER
    cursor: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> PageView:
        """The view a list URL's query parameters ask for."""
        status = {s.value: s for s in Status}.get(params.get("status", ""), Status.ALL)
        try:
            sort = Sort.parse(params["sort"])
        except (KeyError, ValueError):
            sort = MANUAL_ORDER
        return cls(
            list_id=parse_list_id(params.get("list", "")),
            status=status,
            sort=sort,
            cursor=params.get("cursor") or None,
        )

    @classmethod
    def from_url(cls, url: str) -> PageView:
        """The view of a list URL."""
        return cls.from_params(dict(parse_qsl(urlsplit(url).query)))

    @property
    def is_manual(self) -> bool:
        """Whether the page shows the list in its own order (where tasks can be reordered)."""
        return self.sort.field is SortField.POSITION

    def query(self, list_id: ListId) -> TaskQuery:
        """The use case's query for this view of list `list_id` (the cursor travels apart)."""
        return TaskQuery(list_id=list_id, filter=TaskFilter(status=self.status), sort=self.sort)

    def url(self, **changes: object) -> str:
        """The list URL of this view with `changes` (e.g. another status, or no cursor)."""
        view = attrs.evolve(self, **changes)  # type: ignore[arg-type]
        params = {
            "list": view.list_id,
            "status": view.status.value,
            "sort": str(view.sort),
            "cursor": view.cursor,
        }
        defaults = {"list": None, "status": Status.ALL.value, "sort": str(MANUAL_ORDER)}
        query = urlencode({k: v for k, v in params.items() if v != defaults.get(k)})
        return DEFAULT_NEXT + (f"?{query}" if query else "")

    @classmethod
    def of_list(cls, list_id: ListId, *, is_default: bool) -> PageView:
        """The first page of a list in its own order (the default list has the short URL)."""
        return cls(list_id=None if is_default else list_id)


def back_to(target: str | None, notice: str, *, undo: str | None = None) -> str:
    """The page to return to after a form (a safe local path, else the list) with a notice."""
    parts = urlsplit(safe_next(target) or DEFAULT_NEXT)
    params = [(k, v) for k, v in parse_qsl(parts.query) if k not in _TRANSIENT]
    params.append(("notice", notice))
    if undo is not None:
        params.append(("undo", undo))
    return f"{parts.path}?{urlencode(params)}"
