// The PAM device flow end to end: a server without a security key of its own asks the
// gateway (pam_sekimori.so loaded by pamtester), shows a short code, and the person approves
// on the portal's /device page with their security key (Chrome's virtual authenticator).
// Run by the Rust test `browser::device_flow_in_chromium`, which starts the gateway, creates
// the account, registers the server and writes the PAM service file:
//
//   GATEWAY=http://localhost:PORT USERNAME=… PASSWORD=… SERVICE=… node device.mjs
//
// 0. The browser opens a terminal's one-time enrolment link and registers itself as that
//    terminal (the HttpOnly device cookie); every later sign-in here is from the terminal.
// 1. The person signs in on the portal and registers a CTAP2 security key.
// 2. pamtester starts; the module's prompt carries the code; /device?code=… shows who, where
//    and from where (screenshots in Japanese and English); approving with the key lets
//    pamtester in.
// 3. A second attempt is refused on the page ("this was not me"): pamtester is refused.

import { spawn } from "node:child_process";
import { env, expect, run } from "./harness.mjs";

const { GATEWAY, USERNAME, PASSWORD, SERVICE, TERMINAL_LINK } =
  env(["GATEWAY", "USERNAME", "PASSWORD", "SERVICE", "TERMINAL_LINK"]);

const call = (page, fn, ...args) => page.evaluate(([fn, args]) => window.Sekimori[fn](...args), [fn, args]);

/** pamtester in the background: resolves the code once the module prompts, and the end. */
function pamtester() {
  const child = spawn("pamtester", ["-v", SERVICE, USERNAME, "authenticate"]);
  let out = "";
  let sent = false;
  const code = new Promise((resolve, reject) => {
    const seen = (chunk) => {
      out += chunk;
      const m = out.match(/Code: ([A-Z]{4}-[A-Z]{4})/);
      if (m && !sent) {
        sent = true;
        child.stdin.write("\n"); // "Press Enter once approved": the module polls regardless.
        resolve(m[1]);
      }
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    setTimeout(() => reject(new Error(`no code from pamtester: ${out}`)), 20000);
  });
  const done = new Promise((resolve) => child.on("close", (status) => resolve({ status, out })));
  return { code, done };
}

await run(async (t) => {
  const { summary } = t;
  const { page, cdp } = await t.newPage("ja-JP");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "usb", hasResidentKey: false, hasUserVerification: true,
      isUserVerified: true, automaticPresenceSimulation: true },
  });
  // 0. This browser becomes the registered terminal.
  await page.goto(`${GATEWAY}${TERMINAL_LINK}&lang=en`);
  await t.shot(page, "terminal-enrol");
  await page.goto(`${GATEWAY}${TERMINAL_LINK}`);
  await t.shot(page, "terminal-enrol");
  await page.getByRole("button", { name: "この端末として登録" }).click();
  await page.waitForLoadState();
  expect((await page.content()).includes("この端末を登録しました"), "terminal registered");
  const cookies = await page.context().cookies();
  const device = cookies.find((c) => c.name === "sekimori_device");
  expect(device && device.httpOnly && device.expires > Date.now() / 1000 + 300 * 86400,
    `device cookie: ${JSON.stringify(device)}`);
  summary.steps.push({ step: "terminal_registered" });

  await page.goto(`${GATEWAY}/factors/security-keys`);
  let r = await call(page, "api", "/api/v1/login", { username: USERNAME, password: PASSWORD });
  expect(r.body.outcome === "authenticated", `sign-in: ${JSON.stringify(r)}`);
  r = await call(page, "register", "security_key", "サーバー用キー");
  expect(r.status === 200, `registration: ${JSON.stringify(r)}`);
  summary.steps.push({ step: "key_registered" });

  // 2. Approve.
  let pam = pamtester();
  let code = await pam.code;
  await page.goto(`${GATEWAY}/device?code=${code.toLowerCase()}`);
  const table = await page.locator("#pending").innerText();
  expect(table.includes(USERNAME) && table.includes("srv-no-key"), `pending: ${table}`);
  await t.shot(page, "device");
  await page.goto(`${GATEWAY}/device?code=${code}&lang=en`);
  await t.shot(page, "device");
  await page.getByRole("button", { name: "Approve with my security key" }).click();
  await page.waitForFunction(() => document.getElementById("status").dataset.outcome);
  const outcome = await page.locator("#status").getAttribute("data-outcome");
  expect(outcome === "allow", `approval: ${outcome} ${await page.locator("#status").innerText()}`);
  let end = await pam.done;
  expect(end.status === 0 && end.out.includes("successfully authenticated"), `pamtester: ${end.out}`);
  summary.steps.push({ step: "approved", code });

  // 3. Refuse.
  pam = pamtester();
  code = await pam.code;
  await page.goto(`${GATEWAY}/device?lang=en`);
  await page.getByLabel("Code (e.g. BCDF-GHJK)").fill(code);
  await page.getByRole("button", { name: "Look up" }).click();
  await page.getByRole("button", { name: "This was not me (refuse)" }).click();
  await page.waitForFunction(() => document.getElementById("status").dataset.outcome);
  expect(await page.locator("#status").getAttribute("data-outcome") === "denied", "refusal shown");
  end = await pam.done;
  expect(end.status !== 0 && end.out.includes("Refused on the portal"), `pamtester: ${end.out}`);
  summary.steps.push({ step: "refused" });

  // An unknown code: the page says so, tied to the field.
  await page.goto(`${GATEWAY}/device?code=BCDF-GHJK&lang=en`);
  expect((await page.locator("#code-error").innerText()).includes("unknown"), "unknown code");
  summary.steps.push({ step: "unknown_code" });
});
