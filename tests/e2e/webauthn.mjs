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

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = path.join(here, "screenshots");
mkdirSync(shots, { recursive: true });

const { GATEWAY, ADMIN, NURSE, PASSWORD, FIRST } = process.env;
for (const [k, v] of Object.entries({ GATEWAY, ADMIN, NURSE, PASSWORD, FIRST })) {
  if (!v) throw new Error(`${k} is not set`);
}

const fail = (msg) => {
  throw new Error(msg);
};
const expect = (cond, msg) => cond || fail(msg);

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
  ],
});
const summary = { steps: [] };
const problems = [];

async function newPage(locale) {
  const context = await browser.newContext({ locale, extraHTTPHeaders: { "accept-language": locale } });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable", { enableUI: false });
  return { context, page, cdp };
}

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

try {
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
    await page.screenshot({ path: path.join(shots, "security-keys-ja.png"), fullPage: true });
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
    await page.screenshot({ path: path.join(shots, "security-keys-en.png"), fullPage: true });

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
  expect(problems.length === 0, `browser problems:\n${problems.join("\n")}`);
  summary.ok = true;
} catch (e) {
  summary.ok = false;
  summary.error = String(e && e.stack ? e.stack : e);
  summary.problems = problems;
} finally {
  await browser.close();
}
console.log(JSON.stringify(summary));
process.exit(summary.ok ? 0 : 1);
