"""Sharing a list (SPEC §7): the share page (invite links, open invites, members), and the
invite page where a signed-in person accepts.

An invite code is a bearer secret: it travels only in the invite link itself and in the form
body that accepts it. Pages that show one send `Referrer-Policy: no-referrer`, and link to
nothing outside this site.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from adapters.web.abilities import (
    GRANTABLE,
    ROLE_HINTS,
    ROLE_LABELS,
    ROLE_PHRASES,
    Abilities,
    MemberRow,
    refusal,
)
from adapters.web.forms import Form, field_errors
from adapters.web.kit import Kit, redirect
from adapters.web.list_pages import list_id_of, shared_list
from adapters.web.listing import PageView, back_to
from adapters.web.routing import PageError, page_route
from adapters.web.session import here
from domain.errors import Conflict, NotFound, ValidationFailed
from domain.lists import (
    INVITE_LIFETIME,
    ListView,
    parse_invite_terms,
    parse_member_role,
)
from domain.policy import check_shareable
from domain.types import UserId, parse_id
from domain.users import Caller
from taskservice.services import ListUseCases

NO_REFERRER: Final = {"Referrer-Policy": "no-referrer"}
NOTICES: Final = {
    "invite_withdrawn": "Invite withdrawn. Its link no longer works.",
    "role_changed": "Role changed.",
    "member_removed": "Member removed. They no longer see this list.",
}
LIFETIMES: Final = (
    (3600, "1 hour"),
    (86_400, "1 day"),
    (int(INVITE_LIFETIME.total_seconds()), "7 days"),
)
"""The invite lifetimes the share page offers (the last is the default)."""


def invite_gone() -> PageError:
    """The page for an invite code that is unknown, used, withdrawn or expired (alike)."""
    return PageError(
        404,
        "This invite cannot be used",
        "The link may have expired, been used already or been withdrawn. Ask for a new one.",
        NO_REFERRER,
    )


@attrs.frozen(kw_only=True)
class SharePages:
    """Invites and members of a list, bound to the web toolkit and the list use cases."""

    kit: Kit
    lists: ListUseCases

    def routes(self) -> list[Route]:
        """The routes of the share and invite pages."""
        on_error = self.kit.error_page
        return [
            page_route("/lists/{list_id}/share", on_error, GET=self.share_page),
            page_route("/lists/{list_id}/invites", on_error, POST=self.invite),
            page_route("/lists/{list_id}/invites/withdraw", on_error, POST=self.withdraw),
            page_route("/lists/{list_id}/members/role", on_error, POST=self.change_role),
            page_route("/lists/{list_id}/members/remove", on_error, POST=self.remove),
            # The code travels in the accepting form's body, never in a URL it posts to.
            page_route("/invites", on_error, POST=self.accept),
            page_route("/invites/{code}", on_error, GET=self.invite_page),
        ]

    async def share_page(self, request: Request) -> Response:
        """GET /lists/{id}/share: the owner's invites and members; a member's fellow members
        and the way to leave."""
        caller = await self.kit.caller(request)
        shown = await shared_list(self.lists, caller, list_id_of(request))
        notice = NOTICES.get(request.query_params.get("notice", ""))
        return await self._share_page(request, caller, shown, notice=notice)

    async def invite(self, request: Request) -> Response:
        """POST /lists/{id}/invites: a new invite link, shown on this one page (never again)."""
        form, caller = await self.kit.caller_form(request)
        list_id = list_id_of(request)
        body: dict[str, object] = {"role": form.get("role")}
        if "expires_in" in form:
            # A number of seconds as the API's body has it; anything else is refused as there.
            body["expires_in"] = parse_id(form["expires_in"]) or form["expires_in"]
        try:
            terms = parse_invite_terms(body)
        except ValidationFailed as exc:
            shown = await shared_list(self.lists, caller, list_id)
            errors = field_errors(exc.details)
            return await self._share_page(
                request, caller, shown, status=422, form=form, errors=errors
            )
        issued = await self.lists.create_invite(caller, list_id, terms)
        shown = await shared_list(self.lists, caller, list_id)
        link = f"{str(request.base_url).rstrip('/')}/invites/{issued.code}"
        return await self._share_page(request, caller, shown, form=form, issued=issued, link=link)

    async def withdraw(self, request: Request) -> Response:
        """POST /lists/{id}/invites/withdraw: the open invite (named by its stored hash) stops
        working."""
        form, caller = await self.kit.caller_form(request)
        list_id = list_id_of(request)
        await self.lists.withdraw_invite_by_hash(caller, list_id, form.get("invite", ""))
        return redirect(back_to(_share_url(list_id), "invite_withdrawn"))

    async def change_role(self, request: Request) -> Response:
        """POST /lists/{id}/members/role: give a member another role."""
        form, caller = await self.kit.caller_form(request)
        list_id = list_id_of(request)
        role = parse_member_role({"role": form.get("role")})
        await self.lists.change_role(caller, list_id, _member_id(form), role)
        return redirect(back_to(_share_url(list_id), "role_changed"))

    async def remove(self, request: Request) -> Response:
        """POST /lists/{id}/members/remove: the owner removes a member, or a member leaves."""
        form, caller = await self.kit.caller_form(request)
        list_id = list_id_of(request)
        member = _member_id(form)
        await self.lists.remove_member(caller, list_id, member)
        if member == caller.owner:
            return redirect(back_to(None, "left"))
        return redirect(back_to(_share_url(list_id), "member_removed"))

    async def invite_page(self, request: Request) -> Response:
        """GET /invites/{code}: which list and role the invite gives, and a button to accept
        (signed out: sign in first, then back here)."""
        visitor = await self.kit.visitor(request)
        if visitor.principal is None:
            response = self.kit.to_sign_in(visitor, here(request))
            response.headers.update(NO_REFERRER)
            return response
        caller = Caller.of(visitor.principal)
        code = request.path_params["code"]
        try:
            preview = await self.lists.preview_invite(caller, code)
        except NotFound:
            raise invite_gone() from None
        return self.kit.page(
            request,
            "invite.html",
            headers=NO_REFERRER,
            preview=preview,
            code=code,
            role_phrase=ROLE_PHRASES[preview.role],
            role_hint=ROLE_HINTS[preview.role],
            list_url=PageView(list_id=preview.list_id).url(),
        )

    async def accept(self, request: Request) -> Response:
        """POST /invites: join the list of the invite whose code the form carries."""
        form, caller = await self.kit.caller_form(request)
        try:
            joined = await self.lists.accept_invite(caller, form.get("code", ""))
        except NotFound:
            raise invite_gone() from None
        except Conflict as exc:
            raise PageError(409, "You cannot join this list", exc.message, NO_REFERRER) from None
        view = PageView.of_list(joined.list.id, is_default=joined.list.is_default)
        return redirect(back_to(view.url(), "joined"))

    async def _share_page(
        self,
        request: Request,
        caller: Caller,
        shown: ListView,
        *,
        status: int = 200,
        form: Form | None = None,
        **context: Any,
    ) -> Response:
        abilities = Abilities.of(shown.role)
        members = await self.lists.members(caller, shown.list.id)
        invites = await self.lists.invites(caller, shown.list.id) if abilities.manage else []
        values = {"notice": None, "errors": {}, "issued": None, "link": None} | context
        # The invite form keeps what was last chosen in it; a first one offers the defaults.
        chosen = {"role": str(GRANTABLE[0][0]), "expires_in": str(LIFETIMES[-1][0])}
        return self.kit.page(
            request,
            "share.html",
            status=status,
            # The page may show a new invite's code: it must not travel on in a Referer.
            headers=NO_REFERRER,
            shown=shown,
            abilities=abilities,
            me=caller.owner,
            members=[
                MemberRow.of(m, me=caller.owner, abilities=abilities) for m in members.members
            ],
            invites=invites,
            unshareable=refusal(check_shareable, shown.list),
            back=PageView.of_list(shown.list.id, is_default=shown.list.is_default).url(),
            role_labels=ROLE_LABELS,
            role_hints=ROLE_HINTS,
            role_phrases=ROLE_PHRASES,
            grantable=GRANTABLE,
            lifetimes=LIFETIMES,
            chosen=chosen | {k: v for k, v in (form or {}).items() if k in chosen},
            **values,
        )


def _share_url(list_id: int) -> str:
    return f"/lists/{list_id}/share"


def _member_id(form: Form) -> UserId:
    member = form.get("member_id", "")
    if not member:
        raise PageError(400, "Bad request", "The form named no member.")
    return UserId(member)
