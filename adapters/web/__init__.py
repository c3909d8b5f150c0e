"""The server-rendered browser UI: templates, forms, the cookie session and CSRF protection."""

from adapters.web.app import web_routes
from adapters.web.dependencies import WebDependencies
from adapters.web.headers import WebSecurityHeaders
from adapters.web.openid import OpenIdConfig
from adapters.web.session import Cookies

__all__ = ["Cookies", "OpenIdConfig", "WebDependencies", "WebSecurityHeaders", "web_routes"]
