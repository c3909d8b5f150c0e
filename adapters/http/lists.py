"""The list endpoints of SPEC §7: lists, their invites and their members."""

from __future__ import annotations

from urllib.parse import quote

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.http import parsing
from adapters.http.representation import (
    invite_json,
    issued_invite_json,
    member_json,
    task_list_json,
)
from adapters.http.routing import by_method
from adapters.http.style import Style
from domain.lists import ListView, parse_invite_terms, parse_list_fields, parse_member_role
from domain.policy import Action
from domain.types import ListId, UserId
from domain.users import Caller
from taskservice.ports import TokenVerifier
from taskservice.services import ListUseCases


@attrs.frozen(kw_only=True)
class ListApi:
    """The list endpoints, bound to the list use cases.

    None of them reads a query parameter, so any is a 422; an invite's code travels in the path
    and is never logged (the request log names the route's template).
    """

    lists: ListUseCases
    verifier: TokenVerifier
    style: Style

    def routes(self) -> list[Route]:
        """The routes of the list API."""
        return [
            by_method("/api/{user_id}/lists", GET=self.index, POST=self.create),
            by_method(
                "/api/{user_id}/lists/{id}", GET=self.show, PATCH=self.rename, DELETE=self.delete
            ),
            by_method("/api/{user_id}/lists/{id}/invites", GET=self.invites, POST=self.invite),
            by_method("/api/{user_id}/lists/{id}/invites/{code}", DELETE=self.withdraw),
            by_method("/api/{user_id}/lists/{id}/members", GET=self.members),
            by_method(
                "/api/{user_id}/lists/{id}/members/{member_id}",
                PATCH=self.change_role,
                DELETE=self.remove_member,
            ),
            by_method("/api/{user_id}/invites/{code}/accept", POST=self.accept),
        ]

    async def _caller(self, request: Request, action: Action = Action.MANAGE_LIST) -> Caller:
        found = await parsing.caller(request, self.verifier, action)
        parsing.no_parameters(request)
        return found

    async def _caller_and_list(
        self, request: Request, action: Action = Action.MANAGE_LIST
    ) -> tuple[Caller, ListId]:
        return await self._caller(request, action), parsing.list_id(request.path_params["id"])

    async def index(self, request: Request) -> Response:
        """GET /api/{user_id}/lists: every list of the caller's, the default list first."""
        caller = await self._caller(request, Action.READ)
        if "if-none-match" in request.headers:
            tag = await self.lists.lists_tag(caller)
            if parsing.if_none_match_tag(request, tag):
                return Response(status_code=304, headers={"ETag": tag})
        tagged = await self.lists.list_all_tagged(caller)
        views = tagged.views
        response = self.style.resource([task_list_json(v) for v in views], f"{len(views)} list(s).")
        response.headers["ETag"] = tagged.tag
        return response

    async def create(self, request: Request) -> Response:
        """POST /api/{user_id}/lists: a new list the caller owns."""
        caller = await self._caller(request)
        name = parse_list_fields(await parsing.json_object(request) or {})
        view = await self.lists.create(caller, name)
        location = f"/api/{quote(caller.owner, safe='')}/lists/{view.list.id}"
        return self._list_response(view, "List created.", status=201, Location=location)

    async def show(self, request: Request) -> Response:
        """GET /api/{user_id}/lists/{id}: one list the caller belongs to."""
        caller, list_id = await self._caller_and_list(request, Action.READ)
        return self._list_response(await self.lists.get(caller, list_id), "List found.")

    async def rename(self, request: Request) -> Response:
        """PATCH /api/{user_id}/lists/{id}: a new name (owner), If-Match honoured."""
        caller, list_id = await self._caller_and_list(request)
        body = await parsing.json_object(request, parsing.JSON_OR_MERGE_PATCH)
        name = parse_list_fields(body or {})
        expected = parsing.if_match(request)
        view = await self.lists.rename(caller, list_id, name, expected=expected)
        return self._list_response(view, "List renamed.")

    async def delete(self, request: Request) -> Response:
        """DELETE /api/{user_id}/lists/{id}: the list and its tasks (owner); never the default."""
        caller, list_id = await self._caller_and_list(request)
        view = await self.lists.delete(caller, list_id, expected=parsing.if_match(request))
        return self.style.resource(task_list_json(view), "List deleted.")

    async def invites(self, request: Request) -> Response:
        """GET …/invites: the list's open invites (owner), without their codes."""
        caller, list_id = await self._caller_and_list(request, Action.READ)
        invites = await self.lists.invites(caller, list_id)
        return self.style.resource([invite_json(i) for i in invites], f"{len(invites)} invite(s).")

    async def invite(self, request: Request) -> Response:
        """POST …/invites: a new invite (owner), whose code this answer alone shows."""
        caller, list_id = await self._caller_and_list(request)
        terms = parse_invite_terms(await parsing.json_object(request) or {})
        issued = await self.lists.create_invite(caller, list_id, terms)
        return self.style.resource(issued_invite_json(issued), "Invite created.", status=201)

    async def withdraw(self, request: Request) -> Response:
        """DELETE …/invites/{code}: withdraw an open invite by its code (owner)."""
        caller, list_id = await self._caller_and_list(request)
        invite = await self.lists.withdraw_invite(caller, list_id, request.path_params["code"])
        return self.style.resource(invite_json(invite), "Invite withdrawn.")

    async def accept(self, request: Request) -> Response:
        """POST /api/{user_id}/invites/{code}/accept: join the invite's list in its role."""
        caller = await self._caller(request)
        view = await self.lists.accept_invite(caller, request.path_params["code"])
        return self._list_response(view, "Invite accepted.")

    async def members(self, request: Request) -> Response:
        """GET …/members: everyone in the list, its owner first; e-mails for the owner only."""
        caller, list_id = await self._caller_and_list(request, Action.READ)
        shown = await self.lists.members(caller, list_id)
        items = [member_json(m, with_email=shown.with_email) for m in shown.members]
        return self.style.resource(items, f"{len(items)} member(s).")

    async def change_role(self, request: Request) -> Response:
        """PATCH …/members/{member_id}: another role for a member (owner)."""
        caller, list_id = await self._caller_and_list(request)
        body = await parsing.json_object(request, parsing.JSON_OR_MERGE_PATCH)
        role = parse_member_role(body or {})
        member = await self.lists.change_role(caller, list_id, self._member_id(request), role)
        # Only the owner changes roles, and the owner sees e-mails.
        return self.style.resource(member_json(member, with_email=True), "Role changed.")

    async def remove_member(self, request: Request) -> Response:
        """DELETE …/members/{member_id}: remove a member (owner), or leave (the member)."""
        caller, list_id = await self._caller_and_list(request)
        member = await self.lists.remove_member(caller, list_id, self._member_id(request))
        # The owner sees the e-mail; someone leaving is shown their own membership, whose
        # e-mail the use case leaves out (null) as it does for every member who is not the owner.
        return self.style.resource(member_json(member, with_email=True), "Member removed.")

    @staticmethod
    def _member_id(request: Request) -> UserId:
        return UserId(request.path_params["member_id"])

    def _list_response(
        self, view: ListView, message: str, *, status: int = 200, **headers: str
    ) -> Response:
        return self.style.resource(
            task_list_json(view),
            message,
            status=status,
            headers={"ETag": view.list.etag, **headers},
        )
