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
// Prints `oidc-provider listening on <issuer>` once it listens.

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
  async findAccount(_ctx, sub) {
    return { accountId: sub, claims: async () => person(sub) };
  },
});

provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
