"""Real programs a test starts for itself on free loopback ports, and always stops.

- `processes`: start a program, wait until a port or an HTTP path answers, stop its whole process
  group (SIGTERM, then SIGKILL); a missing program skips the test, and fails it in CI.
- `pgbouncer`: PgBouncer in transaction mode, and what that does to asyncpg and SQLAlchemy.
- `haproxy`: HAProxy with `/readyz` health checks; `echo_server`: a tiny backend to put behind it.
- `openid_provider`: a real OpenID Provider (oidc-provider on node), with a client and accounts.
- `service`: the service itself (`taskservice serve`), its JSON log lines, and which of its
  worker processes answered a connection.

The fixtures (`tests.infra.fixtures`, loaded for every test module):

    async def test_through_the_pooler(pgbouncer_url: str) -> None:
        connection = await asyncpg.connect(pgbouncer_url, statement_cache_size=0)

    async def test_behind_the_balancer(start_haproxy: StartHaproxy) -> None:
        balancer = await start_haproxy(["127.0.0.1:8001", "127.0.0.1:8002"])
        await balancer.wait_until(up={"127.0.0.1:8001", "127.0.0.1:8002"})
        httpx.get(f"{balancer.url}/api/…")

    async def test_sign_in(start_openid_provider: StartOpenIDProvider) -> None:
        provider = await start_openid_provider(redirect_uris=["http://127.0.0.1:8000/auth/callback"])
        settings = {"oidc_issuer": provider.issuer, "oidc_client_id": provider.client_id, …}

Or the context managers themselves, for a database of one's own or other options:
`async with pgbouncer(url, pool_size=2) as bouncer: … bouncer.url`, and

    async with service(service_environment(url, WEB_CONCURRENCY="2"), tmp_path) as served:
        async with served.clients_per_worker(2, per_worker=1) as clients: …
"""
