// Step-up at the gate in a real browser. Run by the Rust test `browser::step_up_in_chromium`,
// which puts a real nginx on ORIGIN in front of an echoing upstream and of the gateway's own
// pages (one origin), with the rule "/admin: it_admin, two factors":
//
//   ORIGIN=http://localhost:PORT USERNAME=… PASSWORD=… node stepup.mjs
//
// 1. The person signs in with the password alone and enrols an authenticator app on the
//    account page: the session keeps its one factor.
// 2. They open /admin/: the gate sends them to the portal, which asks only for the code.
// 3. With the code, the session is upgraded (a new cookie, amr pwd+otp) and the browser is
//    back on /admin/, where the upstream sees the identity and an assertion with both.

import { env, expect, run, totp } from "./harness.mjs";

const { ORIGIN, USERNAME, PASSWORD } = env(["ORIGIN", "USERNAME", "PASSWORD"]);

const heading = async (page) => (await page.locator("h1").textContent()).trim();

await run(async (t) => {
  const { summary } = t;
  const { page, context } = await t.newPage("ja-JP");

  // 1. Password only, then an authenticator app from the account page.
  await page.goto(`${ORIGIN}/login`);
  await page.fill("#username", USERNAME);
  await page.fill("#password", PASSWORD);
  await page.click('form[action="/login"] button[type="submit"]');
  await page.waitForLoadState();
  const first = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.json()));
  expect(first.amr.join(",") === "pwd", `first session: ${JSON.stringify(first.amr)}`);
  await page.goto(`${ORIGIN}/account`);
  await page.click('form[action="/account"] input[name="op"][value="totp"] ~ button');
  const secret = (await page.locator("#totp-secret").textContent()).trim();
  const t0 = Math.floor(Date.now() / 1000);
  await page.fill("#code", totp(secret, t0));
  await page.click('form[action="/account"] button[type="submit"]');
  await page.waitForLoadState();
  const still = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.json()));
  expect(still.amr.join(",") === "pwd", "enrolling does not change the session's factors");
  summary.steps.push({ step: "signed_in_with_one_factor" });

  // 2. The admin pages: the gate sends the browser to the portal's step-up.
  const wanted = `${ORIGIN}/admin/`;
  const res = await page.goto(wanted);
  const url = new URL(page.url());
  expect(url.pathname === "/login", `sent to ${page.url()} (${res.status()})`);
  expect(url.searchParams.get("step_up") === "1", `step_up in ${page.url()}`);
  expect(url.searchParams.get("rd") === wanted, `rd in ${page.url()}`);
  expect((await heading(page)) === "二要素認証", `step-up page: ${await heading(page)}`);
  expect((await page.locator("#username").count()) === 0, "no password asked again");
  await t.shot(page, "step-up");
  await page.click('a[hreflang="en"]');
  expect((await heading(page)) === "Two-factor authentication", "English step-up page");
  await t.shot(page, "step-up");
  summary.steps.push({ step: "asked_for_the_code" });

  // 3. The code (the next step's: the enrolment spent this one); back on /admin/.
  await page.fill("#code", totp(secret, t0 + 30));
  await page.click('form[action="/login/step"] button[type="submit"]');
  await page.waitForLoadState();
  expect(page.url() === wanted, `returned to ${page.url()}`);
  const echoed = await page.locator("body").textContent();
  expect(echoed.includes(`Remote-User: ${USERNAME}`), `the upstream saw: ${echoed}`);
  const jwt = echoed.split("\n").find((l) => l.startsWith("Sekimori-Assertion: "));
  expect(jwt, "an assertion reached the upstream");
  const claims = JSON.parse(Buffer.from(jwt.trim().split(" ")[1].split(".")[1], "base64url"));
  expect(claims.amr.join(",") === "pwd,otp" && claims.acr === "aal2", `claims: ${JSON.stringify(claims)}`);
  const after = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.json()));
  expect(after.sid !== first.sid, "a new session id");
  expect(after.expires_at === first.expires_at, "the old session's end is kept");
  summary.steps.push({ step: "upgraded_and_returned", sid: after.sid, previous: first.sid });
  await context.close();
});
