"""The server-rendered browser UI: templates, forms, the cookie session and CSRF protection."""

from adapters.web.app import web_routes
from adapters.web.dependencies import WebDependencies
from adapters.web.headers import WebSecurityHeaders

__all__ = ["WebDependencies", "WebSecurityHeaders", "web_routes"]
