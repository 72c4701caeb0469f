// What the browser scripts share: Debian chromium launched headless through playwright-core,
// pages that record console errors and page errors (a page answered with an error status on
// purpose does not count), Chrome's DevTools WebAuthn domain enabled, screenshots, and the
// JSON summary the Rust side reads from the last line of output.

import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";

const shots = path.join(path.dirname(fileURLToPath(import.meta.url)), "screenshots");

export const expect = (cond, msg) => {
  if (!cond) throw new Error(msg);
};

/** RFC 6238 (SHA-1, 6 digits, 30 s) from a base32 key: this script's own computation. */
export function totp(base32, unixSeconds) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "").toUpperCase()) {
    bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const off = mac[mac.length - 1] & 0xf;
  const n = (mac.readUInt32BE(off) & 0x7fffffff) % 1_000_000;
  return String(n).padStart(6, "0");
}

/** Fail early when an environment variable the script needs is missing. */
export function env(names) {
  const out = {};
  for (const n of names) {
    if (!process.env[n]) throw new Error(`${n} is not set`);
    out[n] = process.env[n];
  }
  return out;
}

/** Run `body(t)` with a browser; print the summary and exit with its outcome. */
export async function run(body) {
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
      "--disable-default-apps", "--disable-sync", "--no-first-run"],
  });
  const summary = { steps: [], screenshots: [] };
  const problems = [];
  const t = {
    summary,
    async newPage(locale) {
      const context = await browser.newContext({ locale, extraHTTPHeaders: { "accept-language": locale } });
      const page = await context.newPage();
      page.on("console", (m) => {
        if (m.type() !== "error") return;
        const own = m.location().url && m.location().url.split("?")[0] === page.url().split("?")[0];
        if (own && /status of (401|403|404|422|429)/.test(m.text())) return;
        problems.push(`console: ${m.text()} at ${m.location().url}`);
      });
      page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
      const cdp = await context.newCDPSession(page);
      await cdp.send("WebAuthn.enable", { enableUI: false });
      return { context, page, cdp };
    },
    /** A screenshot named after the page and its language. */
    async shot(page, name) {
      const lang = await page.evaluate(() => document.documentElement.lang);
      await page.screenshot({ path: path.join(shots, `${name}-${lang}.png`), fullPage: true });
      summary.screenshots.push(`${name}-${lang}`);
    },
  };
  try {
    await body(t);
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
}
