// The guideline report in a real browser (Debian chromium + playwright-core). Run by the Rust
// test `report::the_report_in_chromium_on_screen_and_on_paper` against a gateway over a
// seeded clinic:
//
//   GATEWAY=http://localhost:PORT AUDITOR=… PASSWORD=… TOTP_SECRET=… node report.mjs
//
// An auditor signs in with password and TOTP and opens /report: the navigation bar shows the
// pages an auditor may open, the checklist shows its statuses, the charts are inline SVG. The
// page is screenshotted and printed to PDF (A4) in Japanese and English; the audit console is
// screenshotted with its labelled fields. The Rust side turns the PDFs into PNG pages.

import path from "node:path";
import { fileURLToPath } from "node:url";
import { env, expect, run, totp } from "./harness.mjs";

const { GATEWAY, AUDITOR, PASSWORD, TOTP_SECRET } = env(["GATEWAY", "AUDITOR", "PASSWORD", "TOTP_SECRET"]);
const shots = path.join(path.dirname(fileURLToPath(import.meta.url)), "screenshots");

const texts = (page, sel) => page.locator(sel).allTextContents();

await run(async (t) => {
  const { summary } = t;
  const { page, context } = await t.newPage("ja-JP");
  await page.goto(`${GATEWAY}/login?rd=${encodeURIComponent(`${GATEWAY}/report`)}`);
  await page.fill("#username", AUDITOR);
  await page.fill("#password", PASSWORD);
  await page.click('form[action="/login"] button[type="submit"]');
  // The seed spent the enrolment's step: the next one.
  await page.fill("#code", totp(TOTP_SECRET, Math.floor(Date.now() / 1000) + 30));
  await page.click('form[action="/login/step"] button[type="submit"]');
  await page.waitForLoadState();
  if (!page.url().endsWith("/report")) await page.goto(`${GATEWAY}/report`);
  expect((await page.locator("h1").textContent()) === "ガイドライン対応状況報告書", `heading: ${await page.locator("h1").textContent()}`);
  const nav = await texts(page, "nav.site a");
  expect(JSON.stringify(nav) === JSON.stringify(["マイアカウント", "監査ログ", "ガイドライン対応状況報告書"]), `nav: ${nav}`);
  expect((await page.locator('nav.site a[aria-current="page"]').textContent()) === "ガイドライン対応状況報告書", "current page marked");
  expect((await page.locator("#checklist-2-1 .badge").textContent()) === "要対応", "2-① needs action");
  expect((await page.locator("#checklist-2-7 .badge").textContent()) === "適合", "2-⑦ is met");
  expect(await page.locator("svg#chart-coverage polyline").count() === 1, "coverage chart");
  expect(await page.locator("svg#chart-failures rect").count() > 2, "failures chart");
  const facility = await page.locator(".report-head .facility").textContent();
  expect(facility === "さくら診療所", `facility: ${facility}`);
  summary.steps.push({ step: "report_ja" });
  await t.shot(page, "report");
  await page.screenshot({ path: path.join(shots, "report-top-ja.png") });
  await page.pdf({ path: path.join(shots, "report-ja.pdf"), format: "A4", printBackground: true, preferCSSPageSize: true });

  await page.click('a[hreflang="en"]');
  expect((await page.locator("h1").textContent()) === "Guideline compliance report", "English heading");
  expect((await page.locator("#checklist-2-1 .badge").textContent()) === "Action required", "English status");
  summary.steps.push({ step: "report_en" });
  await t.shot(page, "report");
  await page.pdf({ path: path.join(shots, "report-en.pdf"), format: "A4", printBackground: true, preferCSSPageSize: true });

  // The audit console: zones and fields in the page's language, times in JST.
  await page.goto(`${GATEWAY}/audit?lang=ja&kind=login_attempt&outcome=failure`);
  const zones = await texts(page, "tbody tr td:nth-child(7)");
  expect(zones.includes("院外") && zones.includes("院内"), `zones: ${zones}`);
  const time = await page.locator("tbody tr td:nth-child(2)").first().textContent();
  expect(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d JST$/.test(time), `time: ${time}`);
  const navAudit = await page.locator('nav.site a[aria-current="page"]').textContent();
  expect(navAudit === "監査ログ", `current: ${navAudit}`);
  summary.steps.push({ step: "audit_console" });
  await t.shot(page, "audit-console");
  await context.close();
});
