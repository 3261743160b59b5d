// The OpenLedger web app in a real Chromium (Debian's, driven by playwright-core) against a real
// node: run by the e2e test `web_app` (tests/tests/e2e/web_app.rs), which starts CometBFT +
// openledgerd with `--web-dir web/dist --serve-dev-account` and a governance proposal in its
// voting period. Two runs of the same flows: one signs with the "local dev account" the node
// serves, one through a scripted `window.keplr` stand-in whose signer is CosmJS's
// DirectSecp256k1HdWallet (on the Node side, reached through exposed functions: lib.mjs's
// installKeplr). Every flow checks the chain state through REST, not only the page. Screenshots of
// every page go to $OPENLEDGER_WEB_ARTIFACTS; first load and time to interactive are printed and
// written to metrics.json there.
//
// Environment: OPENLEDGER_REST (http://127.0.0.1:PORT, serving /app), OPENLEDGER_VALIDATOR
// (valoper of the node), OPENLEDGER_PROPOSAL (id in voting period), OPENLEDGER_WEB_ARTIFACTS,
// CHROMIUM (default /usr/bin/chromium), OPENLEDGER_APP_PID (openledgerd's pid: the "node goes
// away" check pauses it with SIGSTOP and resumes it with SIGCONT).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { Secp256k1HdWallet } from "@cosmjs/amino";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { ARTIFACTS, b64hex, goto, installKeplr, launch, REST, rest, shot, TX_TIMEOUT, txFailed, txIncluded, until } from "./lib.mjs";

const VALIDATOR = process.env.OPENLEDGER_VALIDATOR;
const PROPOSAL = process.env.OPENLEDGER_PROPOSAL ?? "1";
let browser;
const metrics = {};
// The Keplr run's account: a fresh key, funded by the dev run through the page's Send form.
const keplrWallet = await DirectSecp256k1HdWallet.generate(24, { prefix: "open" });
const [keplrAccount] = await keplrWallet.getAccounts();
// The same key as an amino-only signer (what Keplr hands out for a Ledger).
const keplrAmino = await Secp256k1HdWallet.fromMnemonic(keplrWallet.mnemonic, { prefix: "open" });

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
  writeFileSync(join(ARTIFACTS, "metrics.json"), JSON.stringify(metrics, null, 2));
});

for (const run of ["dev", "keplr"]) {
  describe(`web app signing with the ${run === "dev" ? "local dev account" : "Keplr stand-in"}`, () => {
    let context;
    let page;
    let address;
    const keplrCalls = [];

    before(async () => {
      context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      if (run === "keplr") {
        // Funded by the dev run's Send (it runs first).
        const funded = await rest(`/cosmos/bank/v1beta1/balances/${keplrAccount.address}/by_denom?denom=uopen`);
        assert.ok(BigInt(funded.balance.amount) > 0n, "the dev run funded the Keplr account");
        await installKeplr(context, keplrWallet, keplrAmino, keplrCalls);
      }
      page = await context.newPage();
      page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
    });

    after(async () => {
      await context?.close();
    });

    test("first load, time to interactive, wallet connect", async () => {
      await page.goto(`${REST}/app/`);
      await page.locator("html[data-ready='1']").waitFor();
      const timing = await page.evaluate(() => {
        const nav = performance.getEntriesByType("navigation")[0];
        const ready = performance.getEntriesByName("openledger-interactive")[0];
        const fcp = performance.getEntriesByName("first-contentful-paint")[0];
        return { domContentLoaded: nav.domContentLoadedEventEnd, load: nav.loadEventEnd, firstContentfulPaint: fcp?.startTime, interactive: ready?.startTime, transferBytes: performance.getEntriesByType("resource").reduce((s, r) => s + (r.transferSize || 0), nav.transferSize || 0) };
      });
      metrics[run] = timing;
      console.log(`[${run}] first page load ${timing.load.toFixed(0)} ms (DOMContentLoaded ${timing.domContentLoaded.toFixed(0)} ms, first paint ${timing.firstContentfulPaint?.toFixed(0)} ms), time to interactive ${timing.interactive.toFixed(0)} ms, ${timing.transferBytes} bytes transferred`);
      assert.ok(timing.interactive < 5000, `time to interactive ${timing.interactive} ms`);
      await shot(page, run, "0-home");
      if (run === "dev") {
        await page.getByTestId("connect-dev").click();
      } else {
        await page.getByTestId("connect-keplr").click();
      }
      const badge = page.getByTestId("wallet-address");
      await badge.waitFor();
      address = await badge.getAttribute("data-address");
      if (run === "dev") {
        const served = await rest("/openledger/dev/account");
        assert.equal(address, served.address);
        await page.getByText("local dev account", { exact: true }).first().waitFor();
      } else {
        assert.equal(address, keplrAccount.address);
        const info = await rest("/openledger/keplr/chain-info.json");
        const suggested = keplrCalls.find((c) => c.method === "experimentalSuggestChain");
        assert.ok(suggested, "the app suggested the chain to Keplr");
        assert.equal(suggested.chainId, info.chainId);
        assert.equal(suggested.rest, info.rest);
      }
    });

    let datanetId;
    const name = `web ${run} ${Date.now()}`;

    test("create a datanet (double click sends one tx)", async () => {
      await goto(page, "/datanets");
      await page.getByLabel("Name", { exact: true }).fill(name);
      await page.getByLabel("Description").fill(`made in the ${run} run`);
      await page.getByLabel("Rows are").selectOption("json");
      await page.getByLabel("Required fields (comma separated)").fill("question, answer");
      await page.getByLabel("Contribution bond (OPEN)").fill("2");
      await page.getByTestId("create-datanet-button").dblclick();
      await page.getByTestId("datanet-name").waitFor({ timeout: TX_TIMEOUT });
      const url = new URL(page.url());
      datanetId = url.pathname.split("/").pop();
      const { datanet } = await rest(`/openledger/datanet/v1/datanets/${datanetId}`);
      assert.equal(datanet.name, name);
      assert.equal(datanet.owner, address);
      assert.equal(datanet.schema.kind, "SCHEMA_KIND_JSON");
      assert.deepEqual(datanet.schema.required_fields, ["question", "answer"]);
      assert.equal(datanet.policy.contribution_bond.amount, "2000000");
      const all = await rest("/openledger/datanet/v1/datanets?pagination.limit=200");
      assert.equal(all.datanets.filter((d) => d.name === name).length, 1, "one datanet despite the double click");
    });

    test("contribute from a file, with bad rows refused before signing", async () => {
      // A CSV with an empty row (skipped) and a JSON schema: the preview shows the JSON objects.
      await page.getByTestId("rows-file").setInputFiles({ name: "bad.jsonl", mimeType: "application/json", buffer: Buffer.from('{"question": "no answer"}\nnot json\n') });
      await page.getByTestId("row-errors").waitFor();
      const errors = await page.getByTestId("row-errors").textContent();
      assert.match(errors, /misses the required field "answer"/);
      assert.match(errors, /not valid JSON/);
      assert.equal(await page.getByTestId("contribute-button").isDisabled(), true);
      const huge = JSON.stringify({ question: "q", answer: "x".repeat(5000) });
      await page.getByTestId("rows-file").setInputFiles({ name: "huge.jsonl", mimeType: "application/json", buffer: Buffer.from(huge + "\n") });
      await page.getByText(/this datanet takes at most 4096 bytes per row/).waitFor();

      const csv = 'question,answer\n"What is OpenLedger?","A chain that pays data contributors"\n\nWhat pays gas?,The OPEN token\nWho curates?,"The owner, or weighted curators"\n';
      await page.getByTestId("rows-file").setInputFiles({ name: "rows.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
      await until("the CSV preview", async () => (await page.getByTestId("row-count").textContent()) === "3");
      await shot(page, run, "1-datanet-preview");
      await txIncluded(page, "contribute");
      const { contributions } = await rest(`/openledger/datanet/v1/datanets/${datanetId}/contributions`);
      assert.equal(contributions.length, 1);
      assert.equal(contributions[0].row_count, "3");
      assert.equal(contributions[0].contributor, address);
      assert.equal(contributions[0].status, "CONTRIBUTION_STATUS_PENDING");
      const row = await rest(`/openledger/datanet/v1/datanets/${datanetId}/rows/${contributions[0].first_row_id}`);
      assert.deepEqual(JSON.parse(Buffer.from(row.row.data, "base64").toString()), { question: "What is OpenLedger?", answer: "A chain that pays data contributors" });
    });

    test("review (accept) and publish a version", async () => {
      const { contributions } = await rest(`/openledger/datanet/v1/datanets/${datanetId}/contributions`);
      const cid = contributions[0].id;
      await txIncluded(page, `accept-${cid}`);
      const after = await rest(`/openledger/datanet/v1/datanets/${datanetId}/contributions/${cid}`);
      assert.equal(after.contribution.status, "CONTRIBUTION_STATUS_ACCEPTED");
      await txIncluded(page, "publish");
      const { versions } = await rest(`/openledger/datanet/v1/datanets/${datanetId}/versions`);
      assert.equal(versions.length, 1);
      assert.equal(versions[0].row_count, "3");
      const root = b64hex(versions[0].merkle_root);
      assert.equal(root.length, 64);
      const shown = await page.getByTestId("version-1-root").textContent({ timeout: TX_TIMEOUT });
      assert.equal(shown, root, "the page shows the chain's Merkle root");
      await page.getByRole("button", { name: "Contributors" }).click();
      await page.getByText(/Rows in v1/).waitFor();
      await shot(page, run, "2-datanet");
    });

    test("start a fine-tune in ModelFactory (or see that this chain has none)", async () => {
      await goto(page, "/factory");
      const params = await fetch(`${REST}/openledger/model/v1/params`);
      if (params.status === 501 || params.status === 404) {
        await page.getByTestId("factory-unavailable").waitFor();
        return;
      }
      const minFee = (await params.json()).params.min_fee.amount;
      await page.getByLabel("Datanet").selectOption(datanetId);
      await page.getByText("Advanced training settings").click();
      await page.getByLabel("LoRA rank").fill("16");
      await page.getByLabel("Fee (OPEN)").fill("0.0001");
      assert.match(await txFailed(page, "start-job"), /below the minimum/);
      await page.getByLabel("Fee (OPEN)").fill("");
      await txIncluded(page, "start-job", true);
      const { jobs } = await rest("/openledger/model/v1/fine_tune_jobs?pagination.limit=200");
      const mine = jobs.filter((j) => j.creator === address && j.datanet_id === datanetId);
      assert.equal(mine.length, 1, "one job despite the double click");
      assert.equal(mine[0].datanet_version, "1");
      assert.equal(mine[0].config.rank, 16);
      assert.equal(mine[0].fee.amount, minFee);
      await page.getByTestId(`job-${mine[0].id}`).first().waitFor();
      await shot(page, run, "2b-factory-job");
    });

    test("register an adapter trained on the version; its lineage reaches the datanet", async () => {
      await goto(page, "/models");
      const hash = createHash("sha256").update(`adapter ${run} ${datanetId}`).digest("hex");
      await page.getByLabel("Adapter weights hash (sha256, hex)").fill("not a hash");
      assert.match(await txFailed(page, "register-adapter"), /64 hex digits/);
      await page.getByLabel("Adapter weights hash (sha256, hex)").fill(hash);
      await page.getByLabel("Training config hash (sha256, hex)").fill(createHash("sha256").update("lora r8").digest("hex"));
      await page.getByLabel("Trained on datanet (id)").fill(datanetId);
      await page.getByLabel("Version").selectOption("1");
      await txIncluded(page, "register-adapter");
      const { adapters } = await rest(`/openledger/model/v1/datanets/${datanetId}/adapters`);
      assert.equal(adapters.length, 1);
      assert.equal(adapters[0].adapter_hash, hash);
      assert.equal(adapters[0].owner, address);
      const { lineage } = await rest(`/openledger/model/v1/adapters/${adapters[0].id}/lineage`);
      assert.equal(lineage.datanet_versions[0].datanet_id, datanetId);
      assert.equal(lineage.datanet_versions[0].version, "1");
      await page.getByTestId(`adapter-${adapters[0].id}`).getByText(`datanet #${datanetId}`).waitFor({ timeout: TX_TIMEOUT });
      await shot(page, run, "2c-models-lineage");
    });

    if (run === "dev") {
      test("send funds to the Keplr run's account; an amount above the balance is refused", async () => {
        await goto(page, "/network");
        await page.getByLabel("Recipient").fill("open1notanaddress");
        await page.getByLabel("Amount (OPEN)").fill("1");
        assert.match(await txFailed(page, "send"), /not a valid address|starts with/);
        await page.getByLabel("Recipient").fill(keplrAccount.address);
        await page.getByLabel("Amount (OPEN)").fill("999999999999");
        assert.match(await txFailed(page, "send"), /more than your balance/);
        await page.getByLabel("Amount (OPEN)").fill("1000");
        await txIncluded(page, "send");
        const { balance } = await rest(`/cosmos/bank/v1beta1/balances/${keplrAccount.address}/by_denom?denom=uopen`);
        assert.equal(balance.amount, "1000000000");
      });
    }

    test("delegate, with an over-balance amount refused by the chain before signing", async () => {
      await goto(page, "/network");
      const row = page.getByTestId(`validator-${VALIDATOR}`);
      await row.waitFor();
      const before = await rest(`/cosmos/staking/v1beta1/validators/${VALIDATOR}/delegations/${address}`).catch(() => undefined);
      const beforeAmount = BigInt(before?.delegation_response?.balance?.amount ?? "0");
      // Leaving the field checks the amount against the balance and shows (or clears) a warning
      // beside the buttons. Wait for that before clicking: a warning appearing between the
      // button's mousedown and mouseup moves the button and the click is lost.
      const warning = row.locator(".stake .error");
      await row.getByTestId("stake-amount").fill("900000000000");
      await row.getByTestId("stake-amount").press("Tab");
      await warning.waitFor({ state: "visible" });
      assert.match(await warning.textContent(), /more than your balance/);
      assert.match(await txFailed(row, "delegate"), /before signing.*(insufficient|Not enough funds)/i);
      await row.getByTestId("stake-amount").fill("10");
      await row.getByTestId("stake-amount").press("Tab");
      await warning.waitFor({ state: "detached" });
      await txIncluded(row, "delegate", true);
      const afterDel = await rest(`/cosmos/staking/v1beta1/validators/${VALIDATOR}/delegations/${address}`);
      assert.equal(BigInt(afterDel.delegation_response.balance.amount) - beforeAmount, 10_000_000n, "10 OPEN more, once");
      await shot(page, run, "3-network");
    });

    if (run === "keplr") {
      test("a signature rejected in the wallet is reported and sends nothing", async () => {
        const row = page.getByTestId(`validator-${VALIDATOR}`);
        const before = (await rest(`/cosmos/staking/v1beta1/validators/${VALIDATOR}/delegations/${address}`)).delegation_response.balance.amount;
        const seq = (await rest(`/cosmos/auth/v1beta1/accounts/${address}`)).account.sequence;
        await page.evaluate(() => sessionStorage.setItem("keplrReject", "1"));
        try {
          await row.getByTestId("stake-amount").fill("3");
          assert.match(await txFailed(row, "delegate"), /Signing was declined in the wallet/);
        } finally {
          await page.evaluate(() => sessionStorage.removeItem("keplrReject"));
        }
        assert.equal((await rest(`/cosmos/staking/v1beta1/validators/${VALIDATOR}/delegations/${address}`)).delegation_response.balance.amount, before);
        assert.equal((await rest(`/cosmos/auth/v1beta1/accounts/${address}`)).account.sequence, seq, "no tx was sent");
      });
    }

    test("vote on the proposal", async () => {
      const option = run === "dev" ? "yes" : "no";
      await txIncluded(page, `vote-${PROPOSAL}-${option}`);
      const v = await until("the vote", async () => (await rest(`/cosmos/gov/v1/proposals/${PROPOSAL}/votes/${address}`)).vote);
      assert.equal(v.options[0].option, option === "yes" ? "VOTE_OPTION_YES" : "VOTE_OPTION_NO");
    });

    if (run === "keplr") {
      test("an amino-only Keplr signer (as with a Ledger): delegating signs amino JSON, an OpenLedger message is refused", async () => {
        // The page reconnects Keplr on load (the wallet it used last), now getting the amino signer.
        await page.evaluate(() => sessionStorage.setItem("keplrAminoOnly", "1"));
        await goto(page, "/network");
        await page.getByTestId("wallet-address").waitFor();
        const row = page.getByTestId(`validator-${VALIDATOR}`);
        await row.getByTestId("stake-amount").fill("1");
        const before = BigInt((await rest(`/cosmos/staking/v1beta1/validators/${VALIDATOR}/delegations/${address}`)).delegation_response.balance.amount);
        await txIncluded(row, "delegate");
        const hash = await row.getByTestId("tx-hash").getAttribute("title");
        const tx = await rest(`/cosmos/tx/v1beta1/txs/${hash}`);
        assert.equal(tx.tx.auth_info.signer_infos[0].mode_info.single.mode, "SIGN_MODE_LEGACY_AMINO_JSON");
        const afterDel = BigInt((await rest(`/cosmos/staking/v1beta1/validators/${VALIDATOR}/delegations/${address}`)).delegation_response.balance.amount);
        assert.equal(afterDel - before, 1_000_000n);
        await goto(page, `/datanets/${datanetId}`);
        assert.match(await txFailed(page, "publish"), /amino mode only/);
        await page.evaluate(() => sessionStorage.removeItem("keplrAminoOnly"));
      });
    }

    if (run === "dev" && process.env.OPENLEDGER_APP_PID) {
      test("a node that goes away shows a banner, and the page recovers when it returns", async () => {
        const pid = Number(process.env.OPENLEDGER_APP_PID);
        const banner = page.getByTestId("node-banner");
        process.kill(pid, "SIGSTOP");
        try {
          await banner.waitFor({ timeout: 30_000 });
          assert.match(await banner.textContent(), /Node unreachable/);
          await shot(page, run, "node-down");
        } finally {
          process.kill(pid, "SIGCONT");
        }
        await banner.waitFor({ state: "detached", timeout: 30_000 });
        const h0 = Number(await page.getByTestId("height").textContent());
        await until("blocks after the node came back", async () => Number(await page.getByTestId("height").textContent()) > h0);
      });
    }

    test("screenshots of every page", async () => {
      for (const [path, name] of [
        ["/datanets", "4-datanets"],
        ["/playground", "5-playground"],
        ["/models", "6-models"],
        ["/factory", "7-factory"],
        ["/network", "8-network"],
      ]) {
        await goto(page, path);
        await page.locator("main h1").first().waitFor();
        await shot(page, run, name);
      }
      await page.setViewportSize({ width: 390, height: 844 });
      await goto(page, `/datanets/${datanetId}`);
      await shot(page, run, "9-phone-datanet");
    });
  });
}
