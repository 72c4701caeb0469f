// The login portal in a real browser (Debian chromium + playwright-core). Run by the Rust test
// `browser::portal_in_chromium`, which starts the gateway with a clinic policy that asks
// every session for two factor kinds, and creates the accounts:
//
//   GATEWAY=http://localhost:PORT NURSE=… KEYUSER=… LOCKED=… PASSWORD=… FIRST=… node portal.mjs
//
// 1. A nurse's first sign-in through the pages: one-time password → new password (the
//    strength meter answers) → enrolment → TOTP with the QR code's key → signed in, back on
//    the page asked for. Signs out; signs in with password + a code from this script's own
//    RFC 6238 computation.
// 2. A second clinician enrols a security key (virtual CTAP2 key) from the enrolment page and
//    signs in with it.
// 3. Wrong passwords lock an account: the locked page shows when it ends (JST).
// 4. An auditor filters the lockout events and downloads the CSV (Japanese headers).
// 5. An administrator unlocks the account with a reason (the Rust side checks the audit).
// Screenshots of every page in Japanese and English go to screenshots/; any console error
// other than the status of a page that is meant to be an error fails the run.

import { readFileSync } from "node:fs";
import { env, expect, run, totp } from "./harness.mjs";

const { GATEWAY, NURSE, KEYUSER, LOCKED, AUDITOR, ADMIN, PASSWORD, FIRST, ENGLISH_USER } = env([
  "GATEWAY", "NURSE", "KEYUSER", "LOCKED", "AUDITOR", "ADMIN", "PASSWORD", "FIRST", "ENGLISH_USER",
]);
const NEW_PASSWORD = "river-lantern-8-maple-quiet";

/** A first sign-in through the pages: new password, TOTP enrolment; the TOTP key. */
async function firstSignIn(page, user, shot = null) {
  await page.goto(`${GATEWAY}/login`);
  await page.fill("#username", user);
  await page.fill("#password", FIRST);
  await page.click('form[action="/login"] button[type="submit"]');
  const h = await heading(page);
  expect(["パスワードの変更", "Change your password"].includes(h), `first sign-in of ${user}: ${h}`);
  if (shot) await shot(page, "change-password");
  await page.fill("#new_password", NEW_PASSWORD);
  await page.fill("#new_password_again", NEW_PASSWORD);
  await page.click('form[action="/login/step"] button[type="submit"]');
  await page.click('form[action="/login/enrol/totp"] button[type="submit"]');
  const secret = (await page.locator("#totp-secret").textContent()).trim();
  if (shot) await shot(page, "enrol-totp");
  await page.fill("#code", totp(secret, Math.floor(Date.now() / 1000)));
  await page.click('form[action="/login/enrol/totp"] button[type="submit"]');
  await page.waitForLoadState();
  if (shot) await shot(page, "signed-in");
  return secret;
}

const heading = async (page) => {
  const h = await page.locator("h1").textContent();
  const err = await page.locator(".error").allTextContents();
  return err.length ? `${h} [${err.join(" / ")}]` : h;
};

await run(async (t) => {
  const { summary } = t;
  const newPage = (locale) => t.newPage(locale);
  const shotBoth = (page, name) => t.shot(page, name);
  const wanted = `${GATEWAY}/factors/security-keys`;
  // 1. The nurse: first sign-in with enrolment, then password + TOTP.
  {
    const { page, context } = await newPage("ja-JP");
    await page.goto(`${GATEWAY}/login?rd=${encodeURIComponent(wanted)}`);
    expect((await heading(page)) === "サインイン", `login heading: ${await heading(page)}`);
    await shotBoth(page, "login");
    await page.click('a[hreflang="en"]');
    expect((await heading(page)) === "Sign in", "English switch");
    await shotBoth(page, "login");
    await page.click('a[hreflang="ja"]');

    await page.fill("#username", NURSE);
    await page.fill("#password", FIRST);
    await page.click('form[action="/login"] button[type="submit"]');
    expect((await heading(page)) === "パスワードの変更", `change page: ${await heading(page)}`);
    await page.fill("#new_password", "password");
    await page.waitForFunction(() => document.querySelectorAll("#strength li").length > 0);
    const weak = await page.locator("#strength li").allTextContents();
    summary.steps.push({ step: "strength_meter", reasons: weak.length });
    await shotBoth(page, "change-password");
    await page.fill("#new_password", NEW_PASSWORD);
    await page.fill("#new_password_again", NEW_PASSWORD);
    await page.click('form[action="/login/step"] button[type="submit"]');
    expect((await heading(page)) === "二要素の登録", `enrol page: ${await heading(page)}`);
    await shotBoth(page, "enrol");
    await page.click('form[action="/login/enrol/totp"] button[type="submit"]');
    const secret = (await page.locator("#totp-secret").textContent()).trim();
    expect(await page.locator("figure.qr svg").count() === 1, "QR code shown");
    await shotBoth(page, "enrol-totp");
    const t0 = Math.floor(Date.now() / 1000);
    await page.fill("#code", totp(secret, t0));
    await page.click('form[action="/login/enrol/totp"] button[type="submit"]');
    await page.waitForLoadState();
    // Enrolled and signed in: back on the page that was asked for.
    expect(page.url() === wanted, `returned to ${page.url()}`);
    summary.steps.push({ step: "nurse_enrolled_totp" });

    await page.goto(`${GATEWAY}/login`);
    expect((await heading(page)) === "サインイン済み", `signed-in page: ${await heading(page)}`);
    await shotBoth(page, "signed-in");
    await page.click('form[action="/logout"] button[type="submit"]');
    await page.fill("#username", NURSE);
    await page.fill("#password", NEW_PASSWORD);
    await page.click('form[action="/login"] button[type="submit"]');
    expect((await heading(page)) === "二要素認証", `second factor: ${await heading(page)}`);
    const code = page.locator("#code");
    expect((await code.getAttribute("autocomplete")) === "one-time-code", "one-time-code");
    expect((await code.getAttribute("inputmode")) === "numeric", "numeric keypad");
    await shotBoth(page, "second-factor");
    // The enrolment's code is spent: the next step's code.
    await code.fill(totp(secret, t0 + 30));
    await page.click('form[action="/login/step"] button[type="submit"]');
    expect((await heading(page)) === "サインイン済み", `after the code: ${await heading(page)}`);
    const session = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.json()));
    expect(session.amr.join(",") === "pwd,otp", `amr: ${JSON.stringify(session.amr)}`);
    summary.steps.push({ step: "nurse_signed_in_with_totp" });
    await page.goto(`${GATEWAY}/account`);
    expect((await heading(page)) === "マイアカウント", `account page: ${await heading(page)}`);
    await shotBoth(page, "account");
    await page.click('a[hreflang="en"]');
    expect((await heading(page)) === "My account", "account page in English");
    await shotBoth(page, "account");
    await context.close();
  }

  // 2. A security key from the enrolment page, then signing in with it (English pages).
  {
    const { page, cdp, context } = await newPage("en-US");
    await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: { protocol: "ctap2", transport: "usb", hasResidentKey: false, hasUserVerification: true,
        isUserVerified: true, automaticPresenceSimulation: true },
    });
    await page.goto(`${GATEWAY}/login`);
    await page.fill("#username", KEYUSER);
    await page.fill("#password", PASSWORD);
    await page.click('form[action="/login"] button[type="submit"]');
    expect((await heading(page)) === "Set up a second factor", `enrol: ${await heading(page)}`);
    await shotBoth(page, "enrol");
    await Promise.all([page.waitForURL(/\/login/), page.click('[data-action="webauthn-enrol"][data-kind="security_key"]')]);
    await page.waitForFunction(() => document.querySelector("h1").textContent === "Signed in");
    summary.steps.push({ step: "key_enrolled" });
    await page.click('form[action="/logout"] button[type="submit"]');
    await page.fill("#username", KEYUSER);
    await page.fill("#password", PASSWORD);
    await page.click('form[action="/login"] button[type="submit"]');
    expect((await heading(page)) === "Two-factor authentication", `2fa: ${await heading(page)}`);
    await shotBoth(page, "second-factor");
    await page.click('[data-action="webauthn-second-factor"]');
    await page.waitForFunction(() => document.querySelector("h1").textContent === "Signed in");
    summary.steps.push({ step: "key_signed_in" });
    await context.close();
  }

  // 3. Locked: five wrong passwords, then the locked page with its end time.
  for (const locale of ["ja-JP", "en-US"]) {
    const { page, context } = await newPage(locale);
    await page.goto(`${GATEWAY}/login`);
    if (locale === "ja-JP") {
      for (let i = 0; i < 6; i++) {
        await page.fill("#username", LOCKED);
        await page.fill("#password", "wrong-password-x");
        await page.click('form[action="/login"] button[type="submit"]');
      }
    } else {
      // Keyboard only: Tab to the username, type, Tab, type, Enter.
      for (let i = 0; i < 6; i++) {
        if ((await page.evaluate(() => document.activeElement && document.activeElement.id)) === "username") break;
        await page.keyboard.press("Tab");
      }
      expect((await page.evaluate(() => document.activeElement.id)) === "username", "Tab reaches the username");
      await page.keyboard.type(LOCKED);
      await page.keyboard.press("Tab");
      await page.keyboard.type("wrong-password-x");
      await page.keyboard.press("Enter");
      await page.waitForLoadState();
    }
    const title = await heading(page);
    expect(["一時的にロックされています", "Temporarily locked"].includes(title), `locked: ${title}`);
    const until = await page.locator("time").getAttribute("datetime");
    expect(/\+09:00$/.test(until), `JST end time: ${until}`);
    await shotBoth(page, "locked");
    summary.steps.push({ step: "locked_page", until });
    await context.close();
  }
  // The first-sign-in pages in English.
  {
    const { page, context } = await newPage("en-US");
    await firstSignIn(page, ENGLISH_USER, shotBoth);
    expect((await heading(page)) === "Signed in", `English first sign-in: ${await heading(page)}`);
    await context.close();
  }

  // 4. The auditor: lockout events of the locked account, then the CSV of that view.
  {
    const { page, context } = await newPage("ja-JP");
    await firstSignIn(page, AUDITOR);
    await page.goto(`${GATEWAY}/audit`);
    expect((await heading(page)) === "監査ログ", `console: ${await heading(page)}`);
    expect((await page.locator("#chain").textContent()).includes("正常"), "chain intact");
    await page.fill("#f-user", LOCKED);
    await page.selectOption("#f-kind", "account_locked");
    await page.click('form.filters button[type="submit"]');
    const rows = await page.locator("tbody tr").count();
    expect(rows >= 1, `lockout rows: ${rows}`);
    await shotBoth(page, "audit");
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export")]);
    const file = await download.path();
    const csv = readFileSync(file, "utf8").replace(/^\uFEFF/, "");
    expect(csv.startsWith("連番,日時,施設,種別,結果"), `CSV header: ${csv.slice(0, 60)}`);
    expect(csv.includes("アカウントロック") && csv.includes(LOCKED), "the locked account in the CSV");
    summary.steps.push({ step: "auditor_filtered_and_exported", rows });
    await page.click('a[hreflang="en"]');
    await shotBoth(page, "audit");
    await context.close();
  }

  // 5. The administrator unlocks it with a reason.
  {
    const { page, context } = await newPage("ja-JP");
    await firstSignIn(page, ADMIN);
    await page.goto(`${GATEWAY}/admin`);
    expect((await heading(page)) === "アカウント管理", `admin: ${await heading(page)}`);
    await shotBoth(page, "admin");
    await page.click('a[hreflang="en"]');
    await shotBoth(page, "admin");
    await page.click('a[hreflang="ja"]');
    await page.click(`a[href^="/admin/accounts/${LOCKED}"]`);
    expect((await page.locator("#lock-state").textContent()) !== "-", "shown as locked");
    await shotBoth(page, "admin-account");
    await page.fill("#unlock-reason", "本人確認のうえ解除（内線で確認）");
    await page.click('form[action$="/unlock"] button[type="submit"]');
    await page.waitForLoadState();
    expect((await page.locator("#lock-state").textContent()) === "-", "unlocked");
    await page.click('a[hreflang="en"]');
    await shotBoth(page, "admin-account");
    summary.steps.push({ step: "admin_unlocked" });
    await context.close();
  }
});
