"""Real programs a test starts for itself: PgBouncer, HAProxy, an OpenID Provider, and the helper
that starts, awaits and stops them. The fixtures are in `tests.infra.fixtures`."""
