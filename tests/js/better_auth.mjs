// The real better-auth package, for the Python tests: `node better_auth.mjs <command>`, with a
// JSON document on stdin and the answer as JSON on stdout. Each run is a fresh Better Auth on an
// in-memory database, with no network.
import { betterAuth } from "better-auth";
import { memoryAdapter } from "better-auth/adapters/memory";
import { jwtVerify } from "jose";

const BASE_URL = "http://localhost:3000";

/** A Better Auth instance with e-mail and password accounts, and the mail it would send. */
function betterAuthFor(secret, options = {}) {
  const database = { user: [], session: [], account: [], verification: [] };
  const mail = [];
  const auth = betterAuth({
    secret,
    baseURL: BASE_URL,
    database: memoryAdapter(database),
    emailAndPassword: { enabled: true },
    emailVerification: {
      sendVerificationEmail: async ({ token }) => {
        mail.push(token);
      },
    },
    telemetry: { enabled: false },
    logger: { disabled: true },
    ...options,
  });
  return { auth, database, mail };
}

/** Exactly the check of Better Auth's GET /verify-email (api/routes/email-verification). */
async function jwtVerifyAsVerifyEmail(token, secret) {
  try {
    await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ["HS256"] });
    return "valid";
  } catch (error) {
    return error.code ?? error.name;
  }
}

/** What Better Auth's verify-email route does with `token`, for an unverified `email`. */
async function verifyEmail({ secret, email, password }, token) {
  const { auth, database, mail } = betterAuthFor(secret);
  await auth.api.signUpEmail({ body: { email, password, name: "Holder" } });
  const control = token === undefined;
  if (control) {
    // The control: the verification token Better Auth itself signs and would mail.
    await auth.api.sendVerificationEmail({ body: { email } });
    token = mail.at(-1);
  }
  const url = `${BASE_URL}/api/auth/verify-email?token=${encodeURIComponent(token)}`;
  const response = await auth.handler(new Request(url));
  const body = await response.text();
  return {
    status: response.status,
    code: body ? (JSON.parse(body).code ?? null) : null,
    emailVerified: database.user.find((u) => u.email === email.toLowerCase()).emailVerified,
    jwtVerify: await jwtVerifyAsVerifyEmail(token, secret),
    ...(control ? { token } : {}),
  };
}

const commands = {
  /** Each given token, and Better Auth's own verification token, through GET /verify-email. */
  async "verify-email"(input) {
    const results = { "better-auth": await verifyEmail(input, undefined) };
    for (const [label, token] of Object.entries(input.tokens)) {
      results[label] = await verifyEmail(input, token);
    }
    return results;
  },

  /** Sign each user up with the JWT cookie cache, and return the cookie a frontend forwards. */
  async "session-cookie"({ secret, users }) {
    const { auth } = betterAuthFor(secret, {
      session: { cookieCache: { enabled: true, strategy: "jwt" } },
    });
    const signedUp = [];
    for (const { email, password, name } of users) {
      const response = await auth.api.signUpEmail({
        body: { email, password, name },
        asResponse: true,
      });
      if (!response.ok) throw new Error(`sign-up answered ${response.status}`);
      const { user } = await response.json();
      const cookies = Object.fromEntries(
        response.headers.getSetCookie().map((line) => {
          const [pair] = line.split(";");
          const at = pair.indexOf("=");
          return [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))];
        }),
      );
      signedUp.push({ userId: user.id, email: user.email, cookies });
    }
    return signedUp;
  },
};

const command = commands[process.argv[2]];
if (command === undefined) {
  console.error(`usage: node better_auth.mjs (${Object.keys(commands).join("|")}) < input.json`);
  process.exit(2);
}
let input = "";
for await (const chunk of process.stdin) input += chunk;
process.stdout.write(JSON.stringify(await command(JSON.parse(input))));
