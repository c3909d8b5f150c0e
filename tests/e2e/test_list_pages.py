"""The list pages over HTTP (SPEC §7 "Web UI" with §5's rules): CSRF on every new form, what
each role is offered and refused, 404 alike for hidden and missing lists, invites that never
leak their code, and the forms' errors."""

from __future__ import annotations

import contextlib
import io
import logging
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

import attrs
import httpx
import pytest
import structlog

from adapters.memory import MemoryStore
from domain.batches import BATCH_MAX
from domain.types import ListId, TaskId
from taskservice.logs import configure_logging
from tests.e2e.conftest import service_app
from tests.e2e.web_conftest import (
    PASSWORD,
    Client,
    Html,
    client_for,
    csrf,
    new_email,
    post,
    sign_up,
    titles,
    web_app,
)

_POST_FORM: Final = re.compile(r'<form method="post" action="([^"]+)"[^>]*>(.*?)</form>', re.DOTALL)
_LIST_ID: Final = re.compile(r"list=(\d+)")
_INVITE: Final = re.compile(r'id="invite-link" type="text" value="([^"]+)"')


@attrs.frozen(kw_only=True)
class Household:
    """A list of the owner's shared with an editor and a viewer, a stranger, and the store."""

    store: MemoryStore
    owner: Client
    editor: Client
    viewer: Client
    stranger: Client
    list_id: int
    default_id: int
    task_id: int
    subtask_id: int


@pytest.fixture
async def home() -> AsyncIterator[Household]:
    store = MemoryStore()
    app = web_app(store)
    async with (
        client_for(app) as owner,
        client_for(app) as editor,
        client_for(app) as viewer,
        client_for(app) as stranger,
    ):
        for client in (owner, editor, viewer, stranger):
            await sign_up(client)
        default_id = await default_list(owner)
        list_id = await new_list(owner, "Groceries")
        await accept(editor, await invite(owner, list_id, "editor"))
        await accept(viewer, await invite(owner, list_id, "viewer"))
        task_id = await add(owner, list_id, "Bread")
        subtask_id = await add(owner, list_id, "Rye", parent_id=task_id)
        yield Household(
            store=store,
            owner=owner,
            editor=editor,
            viewer=viewer,
            stranger=stranger,
            list_id=list_id,
            default_id=default_id,
            task_id=task_id,
            subtask_id=subtask_id,
        )


async def default_list(client: Client) -> int:
    page = Html((await client.get("/tasks")).text)
    return int(page.inputs["list_id"][0]["value"])


async def new_list(client: Client, name: str) -> int:
    response = await post(client, "/lists", name=name)
    assert response.status_code == 303, response.text
    found = _LIST_ID.search(response.headers["location"])
    assert found is not None
    return int(found.group(1))


async def invite(owner: Client, list_id: int, role: str) -> str:
    """A new invite's code, read from the link the share page shows once."""
    response = await post(owner, f"/lists/{list_id}/invites", role=role, expires_in="3600")
    assert response.status_code == 200, response.text
    found = _INVITE.search(response.text)
    assert found is not None
    return urlsplit(found.group(1)).path.removeprefix("/invites/")


async def accept(client: Client, code: str) -> httpx.Response:
    response = await post(client, "/invites", code=code)
    assert response.status_code == 303, response.text
    return response


async def add(client: Client, list_id: int, title: str, **fields: str | int) -> int:
    """A new task (or subtask) in the list; its id."""
    data = {"title": title, "list_id": str(list_id), **{k: str(v) for k, v in fields.items()}}
    response = await post(client, "/tasks", **data)
    assert response.status_code == 303, response.text
    return max(int(i) for i in re.findall(r'data-task-id="(\d+)"', await page(client, list_id)))


async def page(client: Client, list_id: int) -> str:
    response = await client.get(f"/tasks?list={list_id}")
    assert response.status_code == 200, response.text
    return response.text


def snapshot(store: MemoryStore) -> str:
    """Everything a list form could change."""
    state = store.state
    return repr((state.lists, state.memberships, state.invites, state.tasks))


def forms(html: str) -> dict[str, str]:
    """The post forms of a page: action → the form's inner HTML (the last form per action)."""
    return dict(_POST_FORM.findall(html))


# CSRF


async def test_every_post_form_of_the_list_pages_carries_the_sessions_csrf_token(
    home: Household,
) -> None:
    code = await invite(home.owner, home.list_id, "viewer")
    lid, tid = home.list_id, home.task_id
    # Something completed, for "clear completed" to offer its form.
    await post(home.owner, f"/tasks/{home.subtask_id}/complete", completed="true")
    pages = {
        home.owner: [
            f"/tasks?list={lid}",
            f"/tasks/clear-completed?list={lid}",
            f"/tasks/{tid}/edit",
            f"/tasks/{home.subtask_id}/edit",
            "/lists/new",
            f"/lists/{lid}/edit",
            f"/lists/{lid}/delete",
            f"/lists/{lid}/share",
        ],
        home.editor: [f"/lists/{lid}/share"],
        home.stranger: [f"/invites/{code}"],
    }
    actions: set[str] = set()
    for client, urls in pages.items():
        token = await csrf(client)
        for url in urls:
            response = await client.get(url)
            assert response.status_code == 200, url
            found = forms(response.text)
            assert found, url
            for action, inner in found.items():
                assert f'name="csrf_token" value="{token}"' in inner, (url, action)
            actions |= set(found)
    assert {
        "/tasks",
        f"/tasks/{tid}/move",
        f"/tasks/{home.subtask_id}/move",
        "/lists",
        f"/lists/{lid}/edit",
        f"/lists/{lid}/delete",
        f"/lists/{lid}/invites",
        f"/lists/{lid}/invites/withdraw",
        f"/lists/{lid}/members/role",
        f"/lists/{lid}/members/remove",
        "/invites",
        "/tasks/complete-all",
        "/tasks/clear-completed",
    } <= actions


NEW_FORMS: Final = [
    ("owner", "/lists", {"name": "Planted"}),
    ("owner", "/lists/{list}/edit", {"name": "Renamed"}),
    ("owner", "/lists/{list}/delete", {}),
    ("owner", "/lists/{list}/invites", {"role": "editor", "expires_in": "3600"}),
    ("owner", "/lists/{list}/invites/withdraw", {"invite": "{invite}"}),
    ("owner", "/lists/{list}/members/role", {"member_id": "{viewer}", "role": "editor"}),
    ("owner", "/lists/{list}/members/remove", {"member_id": "{viewer}"}),
    ("viewer", "/lists/{list}/members/remove", {"member_id": "{viewer}"}),
    ("stranger", "/invites", {"code": "{code}"}),
    ("owner", "/tasks/{subtask}/move", {"parent_id": "none"}),
    ("owner", "/tasks/{task}/move", {"list_id": "{default}"}),
    ("owner", "/tasks", {"title": "Planted", "list_id": "{list}", "parent_id": "{task}"}),
    ("editor", "/tasks/complete-all", {"list_id": "{list}"}),
]


@pytest.mark.parametrize(("who", "path", "fields"), NEW_FORMS)
async def test_every_new_form_is_refused_without_its_csrf_token(
    home: Household, who: str, path: str, fields: dict[str, str]
) -> None:
    code = await invite(home.owner, home.list_id, "viewer")
    [open_invite] = await open_invites(home)
    values = {
        "list": str(home.list_id),
        "task": str(home.task_id),
        "subtask": str(home.subtask_id),
        "default": str(home.default_id),
        "code": code,
        "invite": open_invite,
        "viewer": await user_id(home, home.viewer),
    }
    client: Client = getattr(home, who)
    url = path.format(**values)
    data = {k: v.format(**values) for k, v in fields.items()}
    foreign = await csrf(home.stranger if who != "stranger" else home.owner)
    own = await csrf(client)  # (A first visit may make the visitor's default list.)
    before = snapshot(home.store)
    for token in (None, "", foreign):
        sent = data if token is None else {**data, "csrf_token": token}
        refused = await client.post(url, data=sent)
        assert refused.status_code == 403, (url, token)
        assert "This form has expired" in refused.text
    refused = await client.post(
        url, data={**data, "csrf_token": own}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert snapshot(home.store) == before
    # The same form with its token does what it says (so the refusals above were the token's).
    done = await client.post(url, data={**data, "csrf_token": own})
    assert done.status_code in {200, 303}, done.text
    assert snapshot(home.store) != before


async def open_invites(home: Household) -> list[str]:
    """The stored hashes of the owner's list's open invites, as its share page names them."""
    html = (await home.owner.get(f"/lists/{home.list_id}/share")).text
    return re.findall(r'name="invite" value="([0-9a-f]{64})"', html)


async def user_id(home: Household, client: Client) -> str:
    """The user id of `client`'s account, from the owner's share page (its member rows)."""
    html = (await home.owner.get(f"/lists/{home.list_id}/share")).text
    email = Html((await client.get("/tasks")).text).by_class("account-name")[0]
    rows = re.findall(r'<li class="row member">(.*?)</li>', html, re.DOTALL)
    row = next(r for r in rows if email in r)
    found = re.search(r'name="member_id" value="([^"]+)"', row)
    assert found is not None
    return found.group(1)


# Roles


async def test_a_viewer_sees_no_edit_controls_and_forged_forms_are_refused(
    home: Household,
) -> None:
    html = await page(home.viewer, home.list_id)
    assert set(forms(html)) == {"/sign-out", "/lists"}
    assert "New task" not in html
    assert Html(html).has_link("Members")
    assert not Html(html).has_link("List settings")
    assert "You are a viewer: you can see the tasks, not change them" in " ".join(html.split())
    assert await titles(home.viewer, f"/tasks?list={home.list_id}") == ["Bread", "Rye"]
    edit = await home.viewer.get(f"/tasks/{home.task_id}/edit")
    assert edit.status_code == 403
    assert "Your role in this list does not allow this." in edit.text
    await assert_refused(home, home.viewer, editor_forms(home) + owner_forms(home))


async def test_an_editor_sees_no_list_management_and_forged_forms_are_refused(
    home: Household,
) -> None:
    await add(home.owner, home.list_id, "Milk")
    html = await page(home.editor, home.list_id)
    actions = set(forms(html))
    assert {"/tasks", f"/tasks/{home.task_id}/move", f"/tasks/{home.task_id}/delete"} <= actions
    assert not any(a.startswith(f"/lists/{home.list_id}") for a in actions)
    assert Html(html).has_link("Members")
    assert not Html(html).has_link("List settings")
    assert not Html(html).has_link("Share")
    share = (await home.editor.get(f"/lists/{home.list_id}/share")).text
    assert set(forms(share)) == {"/sign-out", f"/lists/{home.list_id}/members/remove"}
    assert "@example.com" not in share.replace(await account(home.editor), "")
    assert (await home.editor.get(f"/lists/{home.list_id}/edit")).status_code == 403
    assert (await home.editor.get(f"/lists/{home.list_id}/delete")).status_code == 403
    await assert_refused(home, home.editor, owner_forms(home))
    # What an editor may do, they do.
    assert (await post(home.editor, f"/tasks/{home.subtask_id}/move", parent_id="none")).is_redirect


def editor_forms(home: Household) -> list[tuple[str, dict[str, str]]]:
    lid, tid = str(home.list_id), home.task_id
    return [
        ("/tasks", {"title": "Planted", "list_id": lid}),
        ("/tasks", {"title": "Planted", "list_id": lid, "parent_id": str(tid)}),
        (f"/tasks/{tid}/complete", {"completed": "true"}),
        (f"/tasks/{tid}/edit", {"title": "Changed"}),
        (f"/tasks/{tid}/move", {"after": "first"}),
        (f"/tasks/{tid}/delete", {}),
        ("/tasks/complete-all", {"list_id": lid}),
        ("/tasks/clear-completed", {"list_id": lid}),
    ]


def owner_forms(home: Household) -> list[tuple[str, dict[str, str]]]:
    lid = home.list_id
    return [
        (f"/lists/{lid}/edit", {"name": "Renamed"}),
        (f"/lists/{lid}/delete", {}),
        (f"/lists/{lid}/invites", {"role": "editor", "expires_in": "3600"}),
        (f"/lists/{lid}/invites/withdraw", {"invite": "0" * 64}),
        (f"/lists/{lid}/members/role", {"member_id": "someone", "role": "editor"}),
        (f"/lists/{lid}/members/remove", {"member_id": "someone"}),
    ]


async def assert_refused(
    home: Household, client: Client, attempts: list[tuple[str, dict[str, str]]]
) -> None:
    """Each form, with a valid token, gets the 403 page and changes nothing."""
    before = snapshot(home.store)
    for url, fields in attempts:
        response = await post(client, url, **fields)
        assert response.status_code == 403, (url, response.text)
        assert "Your role in this list does not allow this." in response.text
    assert snapshot(home.store) == before


async def account(client: Client) -> str:
    return Html((await client.get("/tasks")).text).by_class("account-name")[0]


async def test_a_non_member_gets_exactly_the_page_of_a_missing_list(home: Household) -> None:
    stranger, lid, missing = home.stranger, home.list_id, 999_999
    for path in ("/tasks?list={}", "/lists/{}/edit", "/lists/{}/delete", "/lists/{}/share"):
        hidden = await stranger.get(path.format(lid))
        absent = await stranger.get(path.format(missing))
        assert hidden.status_code == absent.status_code == 404, path
        assert hidden.text == absent.text
        assert "List not found" in hidden.text
    before = snapshot(home.store)
    for path, fields in [
        ("/lists/{}/invites", {"role": "editor"}),
        ("/lists/{}/edit", {"name": "Mine now"}),
        ("/lists/{}/delete", {}),
        ("/lists/{}/members/remove", {"member_id": "x"}),
    ]:
        hidden = await post(stranger, path.format(lid), **fields)
        absent = await post(stranger, path.format(missing), **fields)
        assert hidden.status_code == absent.status_code == 404, path
        assert hidden.text == absent.text
    for fields in ({"list_id": str(lid)}, {"list_id": str(missing)}):
        assert (await post(stranger, "/tasks", title="x", **fields)).status_code == 404
    for path in ("/tasks/complete-all", "/tasks/clear-completed"):
        hidden = await post(stranger, path, list_id=str(lid))
        absent = await post(stranger, path, list_id=str(missing))
        assert hidden.status_code == absent.status_code == 404, path
        assert hidden.text == absent.text
    hidden = await stranger.get(f"/tasks/clear-completed?list={lid}")
    absent = await stranger.get(f"/tasks/clear-completed?list={missing}")
    assert hidden.status_code == absent.status_code == 404
    assert hidden.text == absent.text
    assert (await stranger.get(f"/tasks/{home.task_id}/edit")).status_code == 404
    moved = await post(home.owner, f"/tasks/{home.task_id}/move", list_id=str(missing))
    assert moved.status_code == 404
    assert snapshot(home.store) == before
    assert (await stranger.get("/lists/abc/share")).status_code == 404


async def test_removing_a_member_ends_their_access_at_once(home: Household) -> None:
    viewer_id = await user_id(home, home.viewer)
    removed = await post(home.owner, f"/lists/{home.list_id}/members/remove", member_id=viewer_id)
    assert removed.headers["location"] == f"/lists/{home.list_id}/share?notice=member_removed"
    gone = await home.viewer.get(f"/tasks?list={home.list_id}")
    assert gone.status_code == 404
    assert "List not found" in gone.text
    names = Html((await home.viewer.get("/tasks")).text).by_class("list-name")
    assert names == ["Inbox"]
    # A member leaves by themself; the owner cannot.
    editor_id = await user_id(home, home.editor)
    left = await post(home.editor, f"/lists/{home.list_id}/members/remove", member_id=editor_id)
    assert left.headers["location"] == "/tasks?notice=left"
    assert "You have left the list." in (await home.editor.get(left.headers["location"])).text
    assert (await home.editor.get(f"/lists/{home.list_id}/share")).status_code == 404
    owner_id = home.store.state.lists[ListId(home.list_id)].owner_id
    stays = await post(home.owner, f"/lists/{home.list_id}/members/remove", member_id=owner_id)
    assert stays.status_code == 409
    assert "The owner cannot leave their list" in stays.text
    nobody = await post(home.owner, f"/lists/{home.list_id}/members/remove", member_id="x")
    assert nobody.status_code == 404


async def test_the_default_list_cannot_be_deleted_nor_shared_and_the_pages_say_why(
    home: Household,
) -> None:
    owner, did = home.owner, home.default_id
    html = await page(owner, did)
    assert Html(html).has_link("List settings")
    assert not Html(html).has_link("Share")
    settings = (await owner.get(f"/lists/{did}/edit")).text
    assert "The default list cannot be deleted." in settings
    assert not Html(settings).has_link("Delete list…")
    confirm = (await owner.get(f"/lists/{did}/delete")).text
    assert "cannot be deleted" in confirm
    assert f'action="/lists/{did}/delete"' not in confirm
    share = (await owner.get(f"/lists/{did}/share")).text
    assert "The default list cannot be shared." in share
    assert f'action="/lists/{did}/invites"' not in share
    before = snapshot(home.store)
    deleted = await post(owner, f"/lists/{did}/delete")
    assert deleted.status_code == 409
    assert "The default list cannot be deleted." in deleted.text
    shared = await post(owner, f"/lists/{did}/invites", role="editor")
    assert shared.status_code == 409
    assert "The default list cannot be shared." in shared.text
    assert snapshot(home.store) == before
    renamed = await post(owner, f"/lists/{did}/edit", name="Everything")
    assert renamed.headers["location"] == "/tasks?notice=list_renamed"


# Invites


async def test_an_invite_link_goes_through_sign_in_and_leaks_nowhere(home: Household) -> None:
    code = await invite(home.owner, home.list_id, "editor")
    share = await post(home.owner, f"/lists/{home.list_id}/invites", role="viewer")
    assert share.headers["referrer-policy"] == "no-referrer"
    async with client_for(web_app(home.store)) as newcomer:
        email = new_email()
        await sign_up(newcomer, email)
        await post(newcomer, "/sign-out")
        signed_out = await newcomer.get(f"/invites/{code}")
        assert signed_out.status_code == 303
        assert signed_out.headers["location"] == f"/sign-in?next=/invites/{code}"
        assert signed_out.headers["referrer-policy"] == "no-referrer"
        sign_in = Html((await newcomer.get(signed_out.headers["location"])).text)
        assert sign_in.value("next") == f"/invites/{code}"
        signed_in = await newcomer.post(
            "/sign-in",
            data={
                "csrf_token": sign_in.value("csrf_token"),
                "email": email,
                "password": PASSWORD,
                "next": f"/invites/{code}",
            },
        )
        assert signed_in.headers["location"] == f"/invites/{code}"

        shown = await newcomer.get(f"/invites/{code}")
        assert shown.status_code == 200
        assert shown.headers["referrer-policy"] == "no-referrer"
        text = " ".join(Html(shown.text).texts["main"].split())
        assert "Join “Groceries”" in text
        assert "As an editor you can add, change, complete, reorder and delete tasks." in text
        # The code is in the one hidden input; no link, action or other host carries it.
        assert shown.text.count(code) == 1
        assert re.search(rf'<input type="hidden" name="code" value="{code}">', shown.text)
        assert forms(shown.text).keys() == {"/sign-out", "/invites"}
        for tag, attributes in Html(shown.text).tags:
            for name in ("href", "src", "action"):
                value = attributes.get(name)
                assert value is None or value.startswith(("/", "#")), (tag, value)
                assert value is None or not value.startswith("//"), (tag, value)

        joined = await accept(newcomer, code)
        assert joined.headers["location"] == f"/tasks?list={home.list_id}&notice=joined"
        assert await titles(newcomer, joined.headers["location"]) == ["Bread", "Rye"]
        used = await newcomer.get(f"/invites/{code}")
        assert used.status_code == 404
        assert "This invite cannot be used" in used.text
        assert used.headers["referrer-policy"] == "no-referrer"
        again = await post(newcomer, "/invites", code=code)
        assert again.status_code == 404


async def test_an_invite_shows_who_already_belongs_and_refuses_them(home: Household) -> None:
    code = await invite(home.owner, home.list_id, "viewer")
    shown = await home.editor.get(f"/invites/{code}")
    assert "You already belong to this list." in shown.text
    assert "/invites" not in forms(shown.text)
    refused = await post(home.editor, "/invites", code=code)
    assert refused.status_code == 409
    assert "You already belong to this list." in refused.text
    # A refused accept leaves the invite open for someone else.
    assert (await post(home.stranger, "/invites", code=code)).status_code == 303


async def test_the_owner_withdraws_an_invite_and_changes_roles(home: Household) -> None:
    code = await invite(home.owner, home.list_id, "editor")
    share = Html((await home.owner.get(f"/lists/{home.list_id}/share")).text)
    assert [" ".join(t.split())[:14] for t in share.by_class("invite")] == ["Editor Works u"]
    [hashed] = await open_invites(home)
    assert code not in (await home.owner.get(f"/lists/{home.list_id}/share")).text
    withdrawn = await post(home.owner, f"/lists/{home.list_id}/invites/withdraw", invite=hashed)
    assert withdrawn.headers["location"] == f"/lists/{home.list_id}/share?notice=invite_withdrawn"
    assert await open_invites(home) == []
    assert (await home.stranger.get(f"/invites/{code}")).status_code == 404
    again = await post(home.owner, f"/lists/{home.list_id}/invites/withdraw", invite=hashed)
    assert again.status_code == 404

    viewer_id = await user_id(home, home.viewer)
    changed = await post(
        home.owner, f"/lists/{home.list_id}/members/role", member_id=viewer_id, role="editor"
    )
    assert changed.headers["location"] == f"/lists/{home.list_id}/share?notice=role_changed"
    assert await add(home.viewer, home.list_id, "Now I may") > 0
    bad = await post(
        home.owner, f"/lists/{home.list_id}/members/role", member_id=viewer_id, role="owner"
    )
    assert bad.status_code == 422


async def test_a_bad_invite_form_shows_its_errors(home: Household) -> None:
    response = await post(
        home.owner, f"/lists/{home.list_id}/invites", role="owner", expires_in="5"
    )
    assert response.status_code == 422
    errors = Html(response.text).texts
    assert errors["role-error"] == "role must be editor or viewer."
    assert "expires_in must be a whole number of seconds" in errors["expires_in-error"]
    assert await open_invites(home) == []


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Logging as the service configures it, onto a stdout of the test's own; restored after."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        configure_logging("INFO")
    try:
        yield stdout
    finally:
        root.handlers = handlers
        root.setLevel(level)
        structlog.configure(**config)


async def test_no_log_line_carries_an_invite_code(json_logs: io.StringIO, tmp_path: Path) -> None:
    app = service_app(None, tmp_path)
    async with (
        app.router.lifespan_context(app),
        client_for(app) as owner,
        client_for(app) as friend,
    ):
        await sign_up(owner)
        await sign_up(friend)
        list_id = await new_list(owner, "Groceries")
        code = await invite(owner, list_id, "editor")
        await post(friend, "/sign-out")
        assert (await friend.get(f"/invites/{code}")).status_code == 303
        await sign_up(friend)
        assert (await friend.get(f"/invites/{code}")).status_code == 200
        await accept(friend, code)
        assert (await friend.get(f"/invites/{code}")).status_code == 404
    # The service's lines (the test client's own logger names every URL it asks for).
    lines = [line for line in json_logs.getvalue().splitlines() if '"logger":"httpx"' not in line]
    assert any('"/invites/{code}"' in line for line in lines)
    assert not [line for line in lines if code in line]


# Forms and their errors


async def test_list_forms_show_their_errors_next_to_their_fields(home: Household) -> None:
    blank = await post(home.owner, "/lists", name="   ")
    assert blank.status_code == 422
    assert Html(blank.text).texts["name-error"] == "The name cannot be empty."
    long = await post(home.owner, f"/lists/{home.list_id}/edit", name="x" * 101, version="1")
    assert long.status_code == 422
    assert "100" in Html(long.text).texts["name-error"]
    assert Html(long.text).value("name") == "x" * 101
    stale = await post(home.owner, f"/lists/{home.list_id}/edit", name="Food", version="999")
    assert stale.status_code == 409
    assert "Someone renamed this list" in stale.text
    assert "Groceries" in (await page(home.owner, home.list_id))


async def test_a_subtask_form_shows_its_error_beside_it(home: Household) -> None:
    response = await post(
        home.owner,
        "/tasks",
        title=" ",
        list_id=str(home.list_id),
        parent_id=str(home.task_id),
        next=f"/tasks?list={home.list_id}",
    )
    assert response.status_code == 422
    html = Html(response.text)
    assert html.texts[f"subtask-{home.task_id}-error"] == "The title cannot be empty."
    assert "title-error" not in html.texts
    assert f'id="subtask-{home.task_id}" name="title"' in response.text


async def test_broken_moves_are_refused_with_a_page(home: Household) -> None:
    other = await add(home.owner, home.list_id, "Milk")
    before = snapshot(home.store)
    for fields in ({"after": "abc"}, {"list_id": ""}, {"parent_id": "-1"}):
        response = await post(home.owner, f"/tasks/{home.task_id}/move", **fields)
        assert response.status_code == 400, fields
    not_sibling = await post(home.owner, f"/tasks/{other}/move", after=str(home.subtask_id))
    assert not_sibling.status_code == 422
    assert "after must name another task" in not_sibling.text
    too_deep = await post(home.owner, f"/tasks/{home.task_id}/move", parent_id=str(other))
    assert too_deep.status_code == 422
    assert "A task with subtasks cannot become a subtask." in too_deep.text
    assert snapshot(home.store) == before
    # Into a list where the mover is a viewer: refused.
    mine = await new_list(home.viewer, "Viewer's own")
    theirs = await post(home.viewer, "/tasks", title="t", list_id=str(mine))
    assert theirs.status_code == 303
    viewer_task = max(
        int(i) for i in re.findall(r'data-task-id="(\d+)"', await page(home.viewer, mine))
    )
    into = await post(home.viewer, f"/tasks/{viewer_task}/move", list_id=str(home.list_id))
    assert into.status_code == 403


async def test_a_list_page_with_subtasks_keeps_them_under_their_parent(home: Household) -> None:
    await add(home.owner, home.list_id, "Milk")
    html = await page(home.owner, home.list_id)
    nested = re.search(
        rf'id="task-{home.task_id}".*?<ul class="tasks subtasks"[^>]*>(.*?)</ul>', html, re.DOTALL
    )
    assert nested is not None
    assert f'id="task-{home.subtask_id}"' in nested.group(1)
    assert "Milk" not in nested.group(1)
    # Up and down send the neighbour a task goes after; the first has no "up", the last no "down".
    assert 'aria-label="Move “Bread” up"' not in html
    assert 'aria-label="Move “Milk” up"' in html
    assert 'aria-label="Move “Milk” down"' not in html
    moved = await post(home.owner, f"/tasks/{home.task_id}/move", after=str(await last(home)))
    assert moved.headers["location"] == "/tasks?notice=moved"
    assert await titles(home.owner, f"/tasks?list={home.list_id}") == ["Milk", "Bread", "Rye"]


async def last(home: Household) -> int:
    return max(
        int(i) for i in re.findall(r'data-task-id="(\d+)"', await page(home.owner, home.list_id))
    )


# Complete all, clear completed (SPEC §8): each one batch


def counts(html: str) -> str:
    """The list page's footer counts."""
    return Html(html).by_class("counts")[0]


async def test_complete_all_and_clear_completed_act_on_the_list_shown(home: Household) -> None:
    lid = home.list_id
    await add(home.owner, lid, "Milk")
    other = await add(home.owner, home.default_id, "Elsewhere")
    html = await page(home.editor, lid)
    assert counts(html) == "3 pending · 0 completed"
    assert "Clear completed" not in html
    done = await post(
        home.editor, "/tasks/complete-all", list_id=str(lid), next=f"/tasks?list={lid}"
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/tasks?list={lid}&notice=completed_all"
    html = (await home.editor.get(done.headers["location"])).text
    assert "All pending tasks completed." in html
    assert counts(html) == "0 pending · 3 completed"
    assert "/tasks/complete-all" not in html
    assert not home.store.state.tasks[TaskId(other)].completed
    # Clearing asks first, on a page of its own (no JavaScript needed).
    confirm = await home.editor.get(Html(html).link("Clear completed…"))
    assert confirm.status_code == 200
    text = " ".join(Html(confirm.text).by_class("consequences"))
    assert "3 completed tasks are deleted" in text
    assert set(forms(confirm.text)) == {"/sign-out", "/tasks/clear-completed"}
    assert await titles(home.editor, f"/tasks?list={lid}") == ["Bread", "Rye", "Milk"]
    cleared = await post(
        home.editor, "/tasks/clear-completed", list_id=str(lid), next=f"/tasks?list={lid}"
    )
    assert cleared.headers["location"] == f"/tasks?list={lid}&notice=cleared"
    html = (await home.editor.get(cleared.headers["location"])).text
    assert "Completed tasks cleared." in html
    assert counts(html) == "0 pending · 0 completed"
    assert set(home.store.state.tasks) == {other}


async def test_clear_completed_keeps_pending_tasks_and_a_pending_parents_subtasks(
    home: Household,
) -> None:
    lid = home.list_id
    milk = await add(home.owner, lid, "Milk")
    await post(home.owner, f"/tasks/{home.subtask_id}/complete", completed="true")
    await post(home.owner, f"/tasks/{milk}/complete", completed="true")
    cleared = await post(home.owner, "/tasks/clear-completed", list_id=str(lid))
    assert cleared.status_code == 303
    assert await titles(home.owner, f"/tasks?list={lid}") == ["Bread"]


async def test_more_than_a_batch_is_done_a_batch_a_press(home: Household) -> None:
    lid = home.list_id
    for n in range(BATCH_MAX):
        await post(home.owner, "/tasks", title=f"Task {n}", list_id=str(lid))
    # 102 pending: the first press completes the first 100 in the list's order, and says so.
    first = await post(home.owner, "/tasks/complete-all", list_id=str(lid))
    html = (await home.owner.get(first.headers["location"])).text
    assert f"The first {BATCH_MAX} pending tasks were completed." in html
    assert counts(await page(home.owner, lid)) == f"2 pending · {BATCH_MAX} completed"
    pending = [t.title for t in home.store.state.tasks.values() if not t.completed]
    assert sorted(pending) == [f"Task {BATCH_MAX - 2}", f"Task {BATCH_MAX - 1}"]
    second = await post(home.owner, "/tasks/complete-all", list_id=str(lid))
    assert second.headers["location"].endswith("notice=completed_all")
    confirm = (await home.owner.get(f"/tasks/clear-completed?list={lid}")).text
    assert f"the first {BATCH_MAX} now, the rest when you clear again" in confirm
    cleared = await post(home.owner, "/tasks/clear-completed", list_id=str(lid))
    assert cleared.headers["location"].endswith("notice=cleared_some")
    # The first 100 in the list's order went (Rye with Bread, in 99 operations): two are left.
    left = sorted(t.title for t in home.store.state.tasks.values())
    assert left == [f"Task {BATCH_MAX - 2}", f"Task {BATCH_MAX - 1}"]
    again = await post(home.owner, "/tasks/clear-completed", list_id=str(lid))
    assert again.headers["location"].endswith("notice=cleared")
    assert home.store.state.tasks == {}
