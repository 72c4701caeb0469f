// WebAuthn in a real browser: Debian chromium driven by playwright-core, with Chrome's
// virtual authenticators (DevTools WebAuthn domain). Run by the Rust test
// `browser::webauthn_in_chromium`, which starts the gateway and creates the accounts:
//
//   GATEWAY=http://localhost:PORT ADMIN=… NURSE=… PASSWORD=… FIRST=… node webauthn.mjs
//
// 1. An administrator's first sign-in: one-time password → new password → enrolment_required
//    → registers a CTAP2 roaming security key inside the flow → a session with two factors.
//    Signs out, signs in again: password → second_factor_required → the key → a session.
// 2. A nurse registers a passkey on an internal platform authenticator with user
//    verification from the security-key page, signs out, and signs in with the passkey
//    alone (discoverable credential, no username, no password).
// Screenshots of the page in Japanese and English go to screenshots/. Any console error or
// page error fails the run. The last line printed is a JSON summary for the Rust side.

import { env, expect, run } from "./harness.mjs";

const { GATEWAY, ADMIN, NURSE, PASSWORD, FIRST } = env(["GATEWAY", "ADMIN", "NURSE", "PASSWORD", "FIRST"]);

async function authenticator(cdp, options) {
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      automaticPresenceSimulation: true,
      isUserVerified: true,
      hasUserVerification: true,
      ...options,
    },
  });
  return authenticatorId;
}

const call = (page, fn, ...args) => page.evaluate(([fn, args]) => window.Sekimori[fn](...args), [fn, args]);
const api = (page, p, body) => call(page, "api", p, body);

await run(async (t) => {
  const { summary } = t;
  const newPage = (locale) => t.newPage(locale);
  // 1. Administrator: enrol a roaming security key before the first session.
  {
    const { page, cdp, context } = await newPage("ja-JP");
    const key = await authenticator(cdp, { protocol: "ctap2", transport: "usb", hasResidentKey: false });
    await page.goto(`${GATEWAY}/factors/security-keys`);
    let r = await api(page, "/api/v1/login", { username: ADMIN, password: FIRST });
    expect(r.body.outcome === "password_change_required", `first sign-in: ${JSON.stringify(r)}`);
    r = await api(page, "/api/v1/login", { flow_id: r.body.flow_id, new_password: PASSWORD });
    expect(r.body.outcome === "enrolment_required", `after the change: ${JSON.stringify(r)}`);
    r = await call(page, "register", "security_key", "管理用キー", r.body.flow_id);
    expect(r.body.outcome === "authenticated", `enrolment: ${JSON.stringify(r)}`);
    expect(r.body.amr.includes("hwk") && r.body.acr === "aal2", `amr: ${JSON.stringify(r.body)}`);
    summary.steps.push({ step: "admin_enrolled", amr: r.body.amr });

    let s = await page.evaluate(() => fetch("/api/v1/session").then((x) => x.json()));
    expect(s.username === ADMIN, `session: ${JSON.stringify(s)}`);
    await api(page, "/api/v1/logout", {});
    r = await api(page, "/api/v1/login", { username: ADMIN, password: PASSWORD });
    expect(r.body.outcome === "second_factor_required", `second sign-in: ${JSON.stringify(r)}`);
    expect(r.body.methods.includes("webauthn"), `methods: ${JSON.stringify(r.body)}`);
    r = await call(page, "secondFactor", r.body.flow_id);
    expect(r.body.outcome === "authenticated", `key step: ${JSON.stringify(r)}`);
    summary.steps.push({ step: "admin_signed_in_with_key", amr: r.body.amr });
    const creds = await cdp.send("WebAuthn.getCredentials", { authenticatorId: key });
    expect(creds.credentials.length === 1 && creds.credentials[0].signCount >= 1, "one key, used");
    await t.shot(page, "security-keys");
    await context.close();
  }

  // 2. Nurse: a passkey on the platform authenticator, then passwordless sign-in.
  {
    const { page, cdp, context } = await newPage("en-US");
    await authenticator(cdp, { protocol: "ctap2", transport: "internal", hasResidentKey: true });
    await page.goto(`${GATEWAY}/factors/security-keys`);
    expect((await page.locator("h1").textContent()).includes("Security keys"), "English page");
    let r = await api(page, "/api/v1/login", { username: NURSE, password: PASSWORD });
    expect(r.body.outcome === "authenticated", `nurse password: ${JSON.stringify(r)}`);
    await page.fill("#label", "ward tablet");
    await page.click("#register-passkey");
    await page.waitForFunction(() => document.getElementById("status").dataset.outcome);
    const registered = await page.locator("#status").getAttribute("data-outcome");
    expect(registered === "registered", `passkey registration: ${registered} ${await page.locator("#status").textContent()}`);
    const list = await page.evaluate(() => fetch("/api/v1/factors").then((x) => x.json()));
    expect(list.factors.length === 1 && list.factors[0].label === "ward tablet", `factors: ${JSON.stringify(list)}`);
    summary.steps.push({ step: "nurse_registered_passkey" });
    await t.shot(page, "security-keys");

    await api(page, "/api/v1/logout", {});
    await page.evaluate(() => {
      document.getElementById("status").textContent = "";
      delete document.getElementById("status").dataset.outcome;
    });
    await page.click("#passkey-sign-in");
    await page.waitForFunction(() => document.getElementById("status").dataset.outcome);
    const outcome = await page.locator("#status").getAttribute("data-outcome");
    expect(outcome === "authenticated", `passkey sign-in: ${outcome} ${await page.locator("#status").textContent()}`);
    const s = await page.evaluate(() => fetch("/api/v1/session").then((x) => x.json()));
    expect(s.username === NURSE && !s.amr.includes("pwd") && s.amr.includes("pin"), `session: ${JSON.stringify(s)}`);
    summary.steps.push({ step: "nurse_passwordless", amr: s.amr });
    await context.close();
  }
});
