// An OpenID Connect provider for recipebox's tests: panva's oidc-provider
// (OpenID Certified) with its development login, where whatever is typed
// as the login name becomes the person's `sub`. Started by the test
// harness on a free port of 127.0.0.1; never for anything else.
//
//   node tests/oidc/provider.mjs PORT REDIRECT_URI [REDIRECT_URI ...]
//
// One client, `recipebox` with the secret `recipebox-test-secret`, which
// must use PKCE. The person's email is `<sub>@example.test`, verified,
// unless the login name says otherwise:
//   - a name with `@` in it is the email itself (`ann@example.com`);
//   - a name that starts with `unverified-` has an email that is not
//     verified.
// The email is in the ID token; `OIDC_EMAIL_IN_USERINFO_ONLY=1` keeps it
// out, as many providers do, so that the relying party must read it from
// the userinfo endpoint.
//
// `OIDC_FRESH_KEY=1` signs with a new RSA key under a new `kid` (a
// provider that rotated its keys), instead of the development key.
//
// `<issuer>/impostor` is a second discovery document: the same provider
// and endpoints, but naming `<issuer>/impostor` as its issuer and sending
// no `iss` with its answers, so a relying party configured with that
// issuer receives ID tokens from another issuer.
//
// Prints `oidc-provider listening on <issuer>` once it listens.

import { generateKeyPairSync, randomUUID } from "node:crypto";
import { Provider } from "oidc-provider";

const [port, ...redirects] = process.argv.slice(2);
if (!port || redirects.length === 0) {
  console.error("usage: node provider.mjs PORT REDIRECT_URI [REDIRECT_URI ...]");
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

function person(sub) {
  const email = sub.includes("@") ? sub : `${sub}@example.test`;
  return { sub, email, email_verified: !sub.startsWith("unverified-") };
}

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "recipebox",
      client_secret: "recipebox-test-secret",
      redirect_uris: redirects,
      token_endpoint_auth_method: "client_secret_basic",
    },
  ],
  pkce: { required: () => true },
  claims: { email: ["email", "email_verified"] },
  conformIdTokenClaims: process.env.OIDC_EMAIL_IN_USERINFO_ONLY === "1",
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["recipebox-test-provider-cookie-key"] },
  ...(process.env.OIDC_FRESH_KEY === "1" ? { jwks: { keys: [freshKey()] } } : {}),
  async findAccount(_ctx, sub) {
    return { accountId: sub, claims: async () => person(sub) };
  },
});

function freshKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return { ...privateKey.export({ format: "jwk" }), kid: randomUUID(), use: "sig", alg: "RS256" };
}

const IMPOSTOR = "/impostor/.well-known/openid-configuration";
provider.use(async (ctx, next) => {
  if (ctx.path !== IMPOSTOR) {
    return next();
  }
  ctx.path = "/.well-known/openid-configuration";
  await next();
  ctx.body = { ...ctx.body, issuer: `${issuer}/impostor`, authorization_response_iss_parameter_supported: false };
});

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
