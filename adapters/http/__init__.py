"""The JSON API on Starlette: routes, request parsing, the response styles and error mapping."""

from adapters.http.app import ApiDependencies, create_app

__all__ = ["ApiDependencies", "create_app"]
