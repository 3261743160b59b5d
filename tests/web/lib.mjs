// Shared helpers of the browser tests (app.test.mjs, playground.test.mjs): REST reads, polling
// for state, the tx buttons' status lines, screenshots and page loads. Environment:
// OPENLEDGER_REST, OPENLEDGER_WEB_ARTIFACTS, CHROMIUM.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

export const REST = process.env.OPENLEDGER_REST ?? "http://127.0.0.1:1317";
export const ARTIFACTS = process.env.OPENLEDGER_WEB_ARTIFACTS ?? join(process.cwd(), "artifacts");
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const TX_TIMEOUT = 60_000;

mkdirSync(ARTIFACTS, { recursive: true });

export async function rest(path) {
  const r = await fetch(REST + path);
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${JSON.stringify(body)}`);
  return body;
}

/** Polls `f` until it returns a truthy value (state, never a fixed sleep). */
export async function until(what, f, timeout = TX_TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const b64hex = (b64) => Buffer.from(b64 ?? "", "base64").toString("hex");

/**
 * Clicks the tx button `id` (within `scope`; `double`: a double click) and waits until the status
 * line of that attempt settles (included or failed); returns its phase and text.
 */
export async function settled(scope, id, double = false) {
  const status = scope.getByTestId(`${id}-status`);
  const before = Number(await status.getAttribute("data-attempt"));
  const button = scope.getByTestId(`${id}-button`);
  await (double ? button.dblclick() : button.click());
  const deadline = Date.now() + TX_TIMEOUT;
  for (;;) {
    const [phase, attempt] = await Promise.all([status.getAttribute("data-phase").catch(() => null), status.getAttribute("data-attempt").catch(() => null)]);
    if (Number(attempt) > before && (phase === "included" || phase === "failed")) return { phase, text: await status.textContent() };
    if (Date.now() > deadline) {
      const page = scope.page ? scope.page() : scope;
      await page.screenshot({ path: join(ARTIFACTS, `timeout-${id}.png`), fullPage: true }).catch(() => undefined);
      throw new Error(`${id}: still "${phase}" after ${TX_TIMEOUT} ms: ${await status.textContent().catch(() => "(no status line)")}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Clicks the tx button `id` and asserts that its tx is included; returns the height. */
export async function txIncluded(scope, id, double = false) {
  const { phase, text } = await settled(scope, id, double);
  assert.equal(phase, "included", `${id}: ${text}`);
  return Number(await scope.getByTestId(`${id}-status`).getByTestId("tx-height").textContent());
}

/** Clicks the tx button `id` and asserts that it fails; returns the status text. */
export async function txFailed(scope, id) {
  const { phase, text } = await settled(scope, id);
  assert.equal(phase, "failed", `${id}: ${text}`);
  return text;
}

export async function shot(page, run, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${run}-${name}.png`), fullPage: true });
}

export async function goto(page, path) {
  await page.goto(`${REST}/app${path}`);
  await page.locator("html[data-ready='1']").waitFor();
}


/** Debian's Chromium, headless. */
export function launch() {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
}
