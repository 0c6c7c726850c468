// A real OpenID Connect provider (panva/oidc-provider) on loopback, standing for a partner institution's login
// in the tests (tests/integration/test_institution_login.py). Its login page is oidc-provider's development
// interaction: any password is accepted for the accounts below; their claims are what the test says.
//
//   node provider.mjs '<json>'   with {"port": 9000, "clients": [...], "accounts": {"login": {claims}}}
import Provider from "oidc-provider";

const conf = JSON.parse(process.argv[2]);
const issuer = `http://127.0.0.1:${conf.port}`;
const provider = new Provider(issuer, {
  clients: conf.clients,
  claims: { openid: ["sub"], profile: ["name", "preferred_username"], email: ["email"], groups: ["groups"] },
  scopes: ["openid", "profile", "email", "groups"],
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ["tremplin-test-only"] },
  findAccount: async (ctx, id) => {
    const claims = conf.accounts[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, ...claims }) };
  },
});
provider.listen(conf.port, "127.0.0.1", () => console.log(`oidc-provider ready at ${issuer}`));
