"""The routes of the web UI, ready to be added to the service's app."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount

from adapters.web.account_pages import AccountPages
from adapters.web.dependencies import WebDependencies
from adapters.web.kit import Kit
from adapters.web.list_pages import ListPages
from adapters.web.openid import OpenIdClient
from adapters.web.openid_pages import OpenIdPages
from adapters.web.rendering import STATIC_DIR
from adapters.web.settings_pages import SettingsPages
from adapters.web.share_pages import SharePages
from adapters.web.static_files import VersionedStaticFiles
from adapters.web.task_pages import TaskPages
from adapters.web.trash_pages import TrashPages


def web_routes(deps: WebDependencies) -> list[BaseRoute]:
    """Every page of the browser UI, and its stylesheet and script under /static."""
    kit = Kit.build(deps)
    use_cases = deps.use_cases
    openid: list[BaseRoute] = []
    if deps.openid is not None:
        client = OpenIdClient(deps.openid, deps.sealer)
        openid = [
            *OpenIdPages(
                kit=kit, client=client, accounts=use_cases.accounts, sessions=use_cases.sessions
            ).routes()
        ]
    return [
        *AccountPages(kit=kit, accounts=use_cases.accounts, sessions=use_cases.sessions).routes(),
        *openid,
        *SettingsPages(
            kit=kit,
            accounts=use_cases.accounts,
            personal_tokens=use_cases.personal_tokens,
            your_data=use_cases.your_data,
            sessions=use_cases.sessions,
        ).routes(),
        *TaskPages(
            kit=kit, tasks=use_cases.tasks, lists=use_cases.lists, trash=use_cases.trash
        ).routes(),
        *ListPages(kit=kit, lists=use_cases.lists).routes(),
        *TrashPages(kit=kit, trash=use_cases.trash, lists=use_cases.lists).routes(),
        *SharePages(kit=kit, lists=use_cases.lists).routes(),
        Mount("/static", VersionedStaticFiles(directory=STATIC_DIR), name="static"),
    ]
