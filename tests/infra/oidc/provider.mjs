// A real OpenID Provider for tests: oidc-provider configured from the JSON file named by argv[2],
// listening on 127.0.0.1 only. See tests/infra/openid_provider.py, which writes that file.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const accounts = new Map(config.accounts.map((account) => [account.sub, account]));

const provider = new Provider(config.issuer, {
  clients: [config.client],
  jwks: { keys: [config.signing_key] },
  cookies: {
    keys: config.cookie_keys,
    // SameSite=None needs Secure, which plain-http loopback cookies cannot have.
    long: { httpOnly: true, sameSite: 'lax' },
  },
  scopes: ['openid'],
  responseTypes: ['code'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  // As most providers do: the claims of the granted scopes in the ID token, not only at userinfo.
  conformIdTokenClaims: false,
  pkce: { methods: ['S256'], required: () => true },
  ttl: {
    IdToken: config.id_token_ttl,
    AccessToken: 3600,
    Grant: 3600,
    Interaction: 600,
    Session: 3600,
  },
  features: { devInteractions: { enabled: true } },
  // Only the fixed test accounts exist; the dev login form takes one's subject as its login.
  async findAccount(ctx, sub) {
    const account = accounts.get(sub);
    if (!account) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, email: account.email, email_verified: true, name: account.name };
      },
    };
  },
});

createServer(provider.callback()).listen(config.port, '127.0.0.1', () => {
  console.log(`listening: ${config.issuer}`);
});
