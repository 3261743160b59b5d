// Shared helpers of the browser tests (app.test.mjs, playground.test.mjs): REST reads, polling
// for state, the tx buttons' status lines, screenshots, page loads and the Keplr stand-in.
// Environment: OPENLEDGER_REST, OPENLEDGER_WEB_ARTIFACTS, CHROMIUM.

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

/**
 * Installs a scripted `window.keplr` in `context`: the page's Keplr calls CosmJS on the Node side
 * (`wallet`: a DirectSecp256k1HdWallet; `amino`: the same key as a Secp256k1HdWallet); `calls`
 * records them. sessionStorage "keplrReject" = "1" makes it reject signing, "keplrAminoOnly" =
 * "1" hands out an amino-only signer (as Keplr does for a Ledger).
 */
export async function installKeplr(context, wallet, amino, calls = []) {
  const [account] = await wallet.getAccounts();
  await context.exposeFunction("__keplrCall", async (method, arg) => {
    calls.push(method === "experimentalSuggestChain" ? { method, chainId: arg.chainId, rest: arg.rest, rpc: arg.rpc } : { method });
    switch (method) {
      case "experimentalSuggestChain":
      case "enable":
        return null;
      case "account":
        return { address: account.address, pubkey: Buffer.from(account.pubkey).toString("base64") };
      case "signDirect": {
        const doc = {
          bodyBytes: Buffer.from(arg.doc.bodyBytes, "base64"),
          authInfoBytes: Buffer.from(arg.doc.authInfoBytes, "base64"),
          chainId: arg.doc.chainId,
          accountNumber: BigInt(arg.doc.accountNumber),
        };
        const { signed, signature } = await wallet.signDirect(arg.signer, doc);
        return {
          signed: {
            bodyBytes: Buffer.from(signed.bodyBytes).toString("base64"),
            authInfoBytes: Buffer.from(signed.authInfoBytes).toString("base64"),
            chainId: signed.chainId,
            accountNumber: signed.accountNumber.toString(),
          },
          signature,
        };
      }
      case "signAmino":
        return amino.signAmino(arg.signer, arg.doc);
      default:
        throw new Error(`the Keplr stand-in has no ${method}`);
    }
  });
  await context.addInitScript(() => {
    const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const b64 = (u8) => btoa(String.fromCharCode(...u8));
    const call = (m, a) => window.__keplrCall(m, a);
    const signer = {
      async getAccounts() {
        const a = await call("account");
        return [{ address: a.address, algo: "secp256k1", pubkey: bytes(a.pubkey) }];
      },
      async signDirect(signerAddress, doc) {
        // sessionStorage "keplrReject": the user presses Reject in Keplr.
        if (sessionStorage.getItem("keplrReject") === "1") throw new Error("Request rejected");
        const r = await call("signDirect", {
          signer: signerAddress,
          doc: { bodyBytes: b64(doc.bodyBytes), authInfoBytes: b64(doc.authInfoBytes), chainId: doc.chainId, accountNumber: doc.accountNumber.toString() },
        });
        return {
          signed: { bodyBytes: bytes(r.signed.bodyBytes), authInfoBytes: bytes(r.signed.authInfoBytes), chainId: r.signed.chainId, accountNumber: BigInt(r.signed.accountNumber) },
          signature: r.signature,
        };
      },
    };
    // sessionStorage "keplrAminoOnly": the offline signer signs amino JSON only, like a Ledger's.
    const aminoOnly = () => sessionStorage.getItem("keplrAminoOnly") === "1";
    const aminoSigner = {
      getAccounts: signer.getAccounts,
      signAmino: (signerAddress, doc) => call("signAmino", { signer: signerAddress, doc }),
    };
    window.keplr = {
      version: "stand-in",
      experimentalSuggestChain: (info) => call("experimentalSuggestChain", info),
      enable: (chainId) => call("enable", chainId),
      async getKey() {
        const a = await call("account");
        return { name: "stand-in", algo: "secp256k1", bech32Address: a.address, pubKey: bytes(a.pubkey), isNanoLedger: false };
      },
      getOfflineSigner: () => (aminoOnly() ? aminoSigner : signer),
      getOfflineSignerAuto: async () => (aminoOnly() ? aminoSigner : signer),
    };
  });
}
