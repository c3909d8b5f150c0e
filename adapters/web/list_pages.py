"""The list pages of SPEC §7: create a list, rename it, delete it (after a confirmation)."""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.abilities import Abilities, refusal
from adapters.web.forms import Form, expected_version, field_errors
from adapters.web.kit import Kit, redirect
from adapters.web.listing import PageView, back_to
from adapters.web.routing import list_gone, not_allowed, page_route
from domain.errors import NotFound, PreconditionFailed, ValidationFailed
from domain.lists import ListView, parse_list_fields
from domain.policy import ROLE_REFUSED, check_deletable
from domain.types import ListId, parse_list_id
from domain.users import Caller
from taskservice.services import ListUseCases


@attrs.frozen(kw_only=True)
class ListPages:
    """Making, renaming and deleting lists, bound to the web toolkit and the list use cases."""

    kit: Kit
    lists: ListUseCases

    def routes(self) -> list[Route]:
        """The routes of the list pages."""
        on_error = self.kit.error_page
        return [
            page_route("/lists", on_error, POST=self.create),
            page_route("/lists/new", on_error, GET=self.new_page),
            page_route("/lists/{list_id}/edit", on_error, GET=self.edit_page, POST=self.rename),
            page_route("/lists/{list_id}/delete", on_error, GET=self.delete_page, POST=self.delete),
        ]

    async def new_page(self, request: Request) -> Response:
        """GET /lists/new: the form for a new list."""
        await self.kit.caller(request)
        return self._new_page(request, {})

    async def create(self, request: Request) -> Response:
        """POST /lists: a new list of the visitor's, opened at once."""
        form, caller = await self.kit.caller_form(request)
        try:
            made = await self.lists.create(caller, parse_list_fields({"name": form.get("name")}))
        except ValidationFailed as exc:
            return self._new_page(request, form, status=422, errors=field_errors(exc.details))
        return redirect(back_to(_url(made), "list_created"))

    async def edit_page(self, request: Request) -> Response:
        """GET /lists/{id}/edit: rename the list, or go on to delete it (the owner)."""
        caller = await self.kit.caller(request)
        shown = await self._managed(caller, list_id_of(request))
        return self._edit_page(request, shown, {"name": shown.list.name})

    async def rename(self, request: Request) -> Response:
        """POST /lists/{id}/edit: rename the list if nobody renamed it in between."""
        form, caller = await self.kit.caller_form(request)
        list_id = list_id_of(request)
        try:
            name = parse_list_fields({"name": form.get("name")})
            renamed = await self.lists.rename(
                caller, list_id, name, expected=expected_version(form)
            )
        except ValidationFailed as exc:
            shown = await self._managed(caller, list_id)
            errors = field_errors(exc.details)
            return self._edit_page(request, shown, form, status=422, errors=errors)
        except PreconditionFailed:
            shown = await self._managed(caller, list_id)
            problem = (
                "Someone renamed this list after you opened it. Check the name and save again."
            )
            return self._edit_page(request, shown, form, status=409, problem=problem)
        return redirect(back_to(_url(renamed), "list_renamed"))

    async def delete_page(self, request: Request) -> Response:
        """GET /lists/{id}/delete: what deleting the list takes with it, and a button to do it
        (or why the list cannot be deleted)."""
        caller = await self.kit.caller(request)
        shown = await self._managed(caller, list_id_of(request))
        return self.kit.page(
            request,
            "list_delete.html",
            shown=shown,
            refused=refusal(check_deletable, shown.list),
            back=_url(shown),
        )

    async def delete(self, request: Request) -> Response:
        """POST /lists/{id}/delete: delete the list with its tasks; everyone loses it at once."""
        _, caller = await self.kit.caller_form(request)
        await self.lists.delete(caller, list_id_of(request))
        return redirect(back_to(None, "list_deleted"))

    async def _managed(self, caller: Caller, list_id: ListId) -> ListView:
        """The list, if the visitor may manage it: a 404 page for a non-member, 403 otherwise."""
        shown = await shared_list(self.lists, caller, list_id)
        if not Abilities.of(shown.role).manage:
            raise not_allowed(ROLE_REFUSED)
        return shown

    def _new_page(
        self, request: Request, form: Form, status: int = 200, **context: Any
    ) -> Response:
        values = {"errors": {}} | context
        return self.kit.page(request, "list_new.html", status=status, form=form, **values)

    def _edit_page(
        self, request: Request, shown: ListView, form: Form, status: int = 200, **context: Any
    ) -> Response:
        values = {"errors": {}, "problem": None} | context
        return self.kit.page(
            request,
            "list_edit.html",
            status=status,
            shown=shown,
            form=form,
            back=_url(shown),
            refused=refusal(check_deletable, shown.list),
            **values,
        )


def _url(shown: ListView) -> str:
    return PageView.of_list(shown.list.id, is_default=shown.list.is_default).url()


def list_id_of(request: Request) -> ListId:
    """The list id in the path; the list-not-found page for anything that is no id."""
    found = parse_list_id(request.path_params["list_id"])
    if found is None:
        raise list_gone()
    return found


async def shared_list(lists: ListUseCases, caller: Caller, list_id: ListId) -> ListView:
    """List `list_id` as the visitor sees it; the list-not-found page for a non-member."""
    try:
        return await lists.get(caller, list_id)
    except NotFound:
        raise list_gone() from None
