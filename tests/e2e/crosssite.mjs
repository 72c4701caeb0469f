// A cross-site page cannot change anything at the gateway. Run by the Rust test
// `browser::cross_site_in_chromium`:
//
//   ORIGIN=http://localhost:PORT USERNAME=… PASSWORD=… VICTIM=… node crosssite.mjs
//
// The administrator signs in on ORIGIN. In the same browser, a page on another site
// (http://127.0.0.1:…, served by this script) posts the console's disable form, the portal's
// sign-out form, and the JSON sign-out as a no-cors text/plain fetch, each with the session's
// cookies if the browser would send them. Each request reaches the gateway and is refused
// (403 cross_site_request: the browser marks each one cross-site); the session still works.

import { createServer } from "node:http";
import { env, expect, run } from "./harness.mjs";

const { ORIGIN, USERNAME, PASSWORD, VICTIM } = env(["ORIGIN", "USERNAME", "PASSWORD", "VICTIM"]);

const pages = {
  "/disable": `<form method="post" action="${ORIGIN}/admin/accounts/${VICTIM}/disable">
    <input name="csrf" value="guessed"><input name="reason" value="forged"><input name="lang" value="en"></form>
    <script>document.forms[0].submit()</script>`,
  "/logout": `<form method="post" action="${ORIGIN}/logout"><input name="csrf" value="guessed"></form>
    <script>document.forms[0].submit()</script>`,
  "/fetch": `<script>fetch(${JSON.stringify(`${ORIGIN}/api/v1/logout`)}, { method: "POST",
    mode: "no-cors", credentials: "include", headers: { "content-type": "text/plain" }, body: "{}" })
    .finally(() => { document.title = "sent"; });</script>`,
};

const server = createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
  res.end(`<!doctype html><html><body>${pages[req.url] || ""}</body></html>`);
});
await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
const evil = `http://127.0.0.1:${server.address().port}`;

await run(async (t) => {
  const { summary } = t;
  const { page, context } = await t.newPage("en-US");
  await page.goto(`${ORIGIN}/login?lang=en`);
  await page.fill("#username", USERNAME);
  await page.fill("#password", PASSWORD);
  await page.click('form[action="/login"] button[type="submit"]');
  await page.waitForLoadState();
  const before = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.status));
  expect(before === 200, `signed in: ${before}`);
  summary.steps.push({ step: "signed_in" });

  // Another site's page, in a tab of its own (its errors are not the gateway's pages').
  const other = await context.newPage();
  for (const [path, method, status, code] of [
    ["/disable", "POST", 403, "cross_site_request"],
    ["/logout", "POST", 403, "cross_site_request"],
    // An opaque answer: the status is seen, the body is not.
    ["/fetch", "POST", 403, null],
  ]) {
    const answered = other.waitForResponse(
      (r) => r.url().startsWith(ORIGIN) && r.request().method() === method,
    );
    await other.goto(`${evil}${path}`);
    const r = await answered;
    const site = (await r.request().allHeaders())["sec-fetch-site"];
    expect(r.status() === status, `${path}: answered ${r.status()}, wanted ${status}`);
    if (code) {
      // Navigations expose their request headers (a no-cors fetch's are not reported).
      expect(site === "cross-site", `${path}: the browser marked it ${site}`);
      const body = await r.text();
      expect(body.includes(code), `${path}: ${body}`);
    }
    summary.steps.push({ step: `refused ${path}`, status: r.status(), site });
  }
  await other.close();

  const after = await page.evaluate(() => fetch("/api/v1/session").then((r) => r.status));
  expect(after === 200, `the session survived: ${after}`);
  summary.steps.push({ step: "session_survived" });
});
server.close();
