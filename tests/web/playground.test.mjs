// The Playground in a real Chromium against a one-validator localnet whose open-executor serves
// a generated tiny Llama and an adapter trained (pinned) on a published datanet version, one of
// whose rows quotes the model's answer: run by the e2e test `web_playground`
// (tests/tests/e2e/web_app.rs). The page pays for a request on the adapter, polls until the
// validators' result lands, and shows the answer with its matched span highlighted, the matched
// row, the contributor's payout and the validator's vote; each is checked against REST. A second
// message continues the conversation (when the base model has a chat template: both turns in the
// stored request's `messages`), signed in amino JSON by a Keplr stand-in. A request to an adapter
// no executor holds is warned about before signing and, once expired, explained with the node's
// own view of it. Then ModelFactory starts a small fine-tune on the same version and the page
// follows the job, with its live loss chart, until the executor's training is attested and its
// adapter registered, with its lineage on Models.
//
// Environment (besides lib.mjs's): OPENLEDGER_PROMPT, OPENLEDGER_MAX_TOKENS, OPENLEDGER_EXPECTED
// (the answer the executor gives), OPENLEDGER_ADAPTER, OPENLEDGER_DATANET, OPENLEDGER_CONTRIBUTOR.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { Secp256k1HdWallet } from "@cosmjs/amino";
import { DirectSecp256k1HdWallet } from "@cosmjs/proto-signing";
import { ARTIFACTS, goto, installKeplr, launch, rest, shot, txIncluded, until } from "./lib.mjs";

const PROMPT = process.env.OPENLEDGER_PROMPT;
const MAX_TOKENS = process.env.OPENLEDGER_MAX_TOKENS ?? "24";
const EXPECTED = process.env.OPENLEDGER_EXPECTED;
const ADAPTER = process.env.OPENLEDGER_ADAPTER ?? "1";
const DATANET = process.env.OPENLEDGER_DATANET ?? "1";
const CONTRIBUTOR = process.env.OPENLEDGER_CONTRIBUTOR;

let browser;
let page;
let adapter;
let base;
/** Whether the base model has a chat template: the Playground then sends conversations. */
let chat;

before(async () => {
  browser = await launch();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The Keplr stand-in holds the dev account's key (the node serves its mnemonic), so the
  // conversation's second message can be signed in amino JSON without funding another account.
  const { mnemonic } = await rest("/openledger/dev/account");
  const direct = await DirectSecp256k1HdWallet.fromMnemonic(mnemonic, { prefix: "open" });
  const amino = await Secp256k1HdWallet.fromMnemonic(mnemonic, { prefix: "open" });
  await installKeplr(context, direct, amino);
  page = await context.newPage();
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
  adapter = (await rest(`/openledger/model/v1/adapters/${ADAPTER}`)).adapter;
  base = (await rest(`/openledger/model/v1/base_models/${adapter.base_model_id}`)).base_model;
  chat = Boolean(base.chat_template_hash);
  console.log(`base model #${base.id}: ${chat ? `chat template ${base.chat_template_hash}` : "no chat template (raw prompts)"}`);
});

after(async () => {
  await browser?.close();
});

/** Connects the dev account unless the page already restored it (each test stands alone). */
async function devWallet() {
  const badge = page.getByTestId("wallet-address");
  await badge.or(page.getByTestId("connect-dev")).first().waitFor();
  if (!(await badge.isVisible())) await page.getByTestId("connect-dev").click();
  await badge.waitFor();
}

/** The stored request's conversation as plain {role, content} pairs. */
const turnsOf = (request) => (request.messages ?? []).map((m) => ({ role: m.role, content: m.content ?? "" }));

/** Waits until request `id` is completed (REST) and its answer is on the page; returns the result. */
async function answered(turn, id) {
  await turn.getByTestId("answer").waitFor({ timeout: 120_000 });
  const done = await until("the stored result", async () => {
    const r = await rest(`/openledger/inference/v1/requests/${id}`);
    return r.request.status === "REQUEST_STATUS_COMPLETED" && r;
  });
  return done;
}

/** The turn article of the request the last click of "ask" sent. */
async function lastTurn() {
  const turn = page.locator("article.turn").last();
  const id = (await turn.getAttribute("data-testid")).replace("turn-", "");
  return { turn, id };
}

/** Every vote with an empty output hash is shown as absent; none is shown as "agreed: false". */
async function checkVotes(turn, result) {
  const votes = turn.getByTestId("votes");
  const text = await votes.textContent();
  assert.ok(!/agreed: ?false/i.test(text), text);
  for (const v of result.votes ?? []) {
    const row = votes.locator(`tr:has(code[title="${v.validator}"])`);
    const shown = await row.getAttribute("data-vote");
    assert.equal(shown, !v.output_hash ? "absent" : v.agreed ? "agreed" : "disagreed", `vote of ${v.validator}: ${JSON.stringify(v)}`);
  }
  return text;
}

test("ask an adapter in the Playground, see the answer, its attribution, payouts and votes", async () => {
  await goto(page, "/playground");
  await devWallet();
  await page.getByLabel("Model").selectOption(`a:${ADAPTER}`);
  assert.equal(await page.getByTestId("pg-mode").getAttribute("data-chat"), chat ? "1" : "0", "the page knows whether the model chats");
  await page.getByLabel("Max tokens").fill(MAX_TOKENS);
  await page.locator("#pg-prompt").fill(PROMPT);
  const price = BigInt(adapter.inference_price.amount) + BigInt(base.inference_price.amount);
  // This node's executor holds the adapter: no warning.
  assert.equal((await rest(`/openledger/node/v1/adapters/${adapter.adapter_hash}`)).held, true);
  await txIncluded(page, "ask");
  assert.equal(await page.getByTestId("adapter-warning").count(), 0, "no warning for an adapter the node holds");
  const { turn, id } = await lastTurn();
  const req = await rest(`/openledger/inference/v1/requests/${id}`);
  if (chat) {
    // One user turn, rendered by a template that concatenates the contents: the same text as the
    // raw prompt, so the same answer.
    assert.equal(req.request.prompt ?? "", "", "a conversation leaves the prompt empty");
    assert.deepEqual(turnsOf(req.request), [{ role: "user", content: PROMPT }]);
    assert.equal(req.request.chat_template_hash, base.chat_template_hash, "the request pins the model's template");
  } else {
    assert.equal(req.request.prompt, PROMPT);
    assert.equal(turnsOf(req.request).length, 0);
  }
  assert.equal(req.request.adapter_id, ADAPTER);
  assert.equal(req.request.fee.amount, price.toString(), "the page pays base + adapter price");

  const answer = turn.getByTestId("answer");
  const done = await answered(turn, id);
  assert.equal(done.result.text, EXPECTED, "the agreed answer is the executor's");
  assert.ok((await answer.textContent()).includes(EXPECTED.trim().slice(0, 20)), "the page shows the answer");
  const record = (await rest(`/openledger/attribution/v1/records/${id}`)).record;
  assert.ok(record.spans.length > 0, "a span of the answer matched a row");
  assert.ok((await answer.locator("mark").count()) > 0, "matched spans are highlighted");
  await turn.getByTestId("matched-rows").getByText(`datanet #${DATANET}`).first().waitFor();
  const payout = record.payouts.find((p) => p.contributor === CONTRIBUTOR);
  assert.ok(payout && BigInt(payout.amount) > 0n, `the contributor was paid: ${JSON.stringify(record.payouts)}`);
  const payouts = await turn.getByTestId("contributor-payouts").textContent();
  assert.match(payouts, new RegExp(`for ${payout.matched_tokens} matched tokens`));
  const votes = await checkVotes(turn, done.result);
  assert.match(votes, /agreed/);
  assert.ok(!/disagreed|absent/.test(votes), votes);
  await shot(page, "playground", "answer");

  // The datanet's version lists the contributor with what attribution paid them.
  await goto(page, `/datanets/${DATANET}`);
  await page.getByRole("button", { name: "Contributors" }).first().click();
  const earned = page.locator(".version-detail tr", { hasText: CONTRIBUTOR.slice(0, 10) });
  const micro = BigInt(payout.amount);
  const open = `${micro / 1_000_000n}${micro % 1_000_000n ? "." + (micro % 1_000_000n).toString().padStart(6, "0").replace(/0+$/, "") : ""} OPEN`;
  await earned.getByText(open).waitFor();
  await shot(page, "playground", "datanet-earnings");
});

test("a second message continues the conversation (chat template) and signs in amino JSON with an amino-only Keplr", async () => {
  await goto(page, "/playground");
  await devWallet();
  await page.getByLabel("Model").selectOption(`a:${ADAPTER}`);
  await page.getByLabel("Max tokens").fill(MAX_TOKENS);
  // First message: the dev account, direct signing.
  await page.locator("#pg-prompt").fill(PROMPT);
  await txIncluded(page, "ask");
  const first = await lastTurn();
  const firstDone = await answered(first.turn, first.id);
  assert.equal(firstDone.result.text, EXPECTED);
  // Then the same key through Keplr, as a Ledger signs: amino JSON only.
  await page.getByRole("button", { name: "Disconnect" }).click();
  await page.evaluate(() => sessionStorage.setItem("keplrAminoOnly", "1"));
  try {
    await page.getByTestId("connect-keplr").click();
    await page.getByTestId("wallet-address").waitFor();
    const SYSTEM = "Answer in one sentence.";
    const SECOND = "And who pays the people who share it?";
    if (chat) {
      assert.equal(await page.getByTestId("pg-mode").getAttribute("data-chat"), "1");
      await page.getByLabel("System prompt (optional)").fill(SYSTEM);
    } else {
      assert.equal(await page.getByLabel("System prompt (optional)").count(), 0, "no system prompt without a chat template");
    }
    await page.locator("#pg-prompt").fill(SECOND);
    await txIncluded(page, "ask");
    const hash = await page.getByTestId("ask-status").getByTestId("tx-hash").getAttribute("title");
    const tx = await rest(`/cosmos/tx/v1beta1/txs/${hash}`);
    assert.equal(tx.tx.auth_info.signer_infos[0].mode_info.single.mode, "SIGN_MODE_LEGACY_AMINO_JSON");
    const second = await lastTurn();
    assert.notEqual(second.id, first.id);
    const req = (await rest(`/openledger/inference/v1/requests/${second.id}`)).request;
    if (chat) {
      // Both turns (and the agreed answer between them) are in the stored request.
      assert.equal(req.prompt ?? "", "");
      assert.deepEqual(turnsOf(req), [
        { role: "system", content: SYSTEM },
        { role: "user", content: PROMPT },
        { role: "assistant", content: EXPECTED },
        { role: "user", content: SECOND },
      ]);
      assert.equal(req.chat_template_hash, base.chat_template_hash);
    } else {
      assert.equal(req.prompt, SECOND, "a model without a chat template gets the raw prompt");
      assert.equal(turnsOf(req).length, 0);
    }
    const done = await answered(second.turn, second.id);
    await checkVotes(second.turn, done.result);
    // The transcript shows both messages and both answers.
    const transcript = page.getByTestId("transcript");
    assert.equal(await transcript.locator("article.turn").count(), 2);
    const text = await transcript.textContent();
    assert.ok(text.includes(PROMPT) && text.includes(SECOND), text);
    assert.ok(text.includes(EXPECTED.trim().slice(0, 20)), text);
    await shot(page, "playground", "conversation");
    await page.getByTestId("new-conversation").click();
    assert.equal(await transcript.locator("article.turn").count(), 0, "New conversation clears the transcript");
  } finally {
    await page.evaluate(() => sessionStorage.removeItem("keplrAminoOnly"));
    await page.getByRole("button", { name: "Disconnect" }).click().catch(() => undefined);
    await devWallet().catch(() => undefined);
  }
});

test("an adapter no executor holds: warned before signing; expired, the page says why from the node's view", async () => {
  // Registered on the Models page with weights nobody has.
  const hash = createHash("sha256").update(`unheld adapter ${Date.now()}`).digest("hex");
  await goto(page, "/models");
  await devWallet();
  await page.getByLabel("Adapter weights hash (sha256, hex)").fill(hash);
  await page.getByLabel("Training config hash (sha256, hex)").fill(createHash("sha256").update("unheld").digest("hex"));
  // An adapter pins the datanet version it was trained on: any published one will do.
  const { datanets } = await rest("/openledger/datanet/v1/datanets?pagination.limit=200");
  const published = datanets.find((d) => Number(d.latest_version) > 0);
  assert.ok(published, "the test chain has a published datanet version");
  await page.getByLabel("Trained on datanet (id)").fill(String(published.id));
  // The form loads that datanet's versions: waits until the published one can be picked.
  await page.getByLabel("Version").selectOption(String(published.latest_version));
  await txIncluded(page, "register-adapter");
  const all = (await rest("/openledger/model/v1/adapters?pagination.limit=200")).adapters;
  const unheld = all.find((a) => a.adapter_hash === hash);
  assert.ok(unheld, "the adapter is registered");
  assert.equal((await rest(`/openledger/node/v1/adapters/${hash}`)).held, false);

  await goto(page, "/playground");
  await devWallet();
  await page.getByLabel("Model").selectOption(`a:${unheld.id}`);
  const warning = page.getByTestId("adapter-warning");
  await warning.waitFor({ timeout: 15_000 });
  assert.match(await warning.textContent(), /does not hold this adapter yet.*fee is refunded/);
  await page.getByLabel("Max tokens").fill("4");
  await page.locator("#pg-prompt").fill("Hello?");
  await txIncluded(page, "ask");
  const { turn, id } = await lastTurn();
  const expired = turn.getByTestId("expired");
  await expired.waitFor({ timeout: 120_000 });
  const req = (await rest(`/openledger/inference/v1/requests/${id}`)).request;
  assert.equal(req.status, "REQUEST_STATUS_EXPIRED");
  const why = {
    failed: /this node's executor could not run it: \S/,
    no_executor: /this node runs no executor/,
    answered: /this node answered but two thirds of the executors' power did not agree in time/,
    running: /still running it/,
    unknown: /never ran it/,
  };
  // The page follows the node's view while its executor still runs the request: compare the two
  // until they agree.
  let local;
  let text;
  await until("the page to explain the expiry as the node sees it", async () => {
    local = await rest(`/openledger/node/v1/inference/${id}`);
    text = await expired.textContent();
    return why[local.state]?.test(text);
  }).catch((e) => assert.fail(`${e.message}; page: ${text}; node: ${JSON.stringify(local)}`));
  assert.match(text, /expired unanswered.*fee refunded/);
  if (local.state === "failed") assert.ok(text.includes(local.error.slice(0, 40)), `the executor's error is shown: ${text}`);
  await shot(page, "playground", "expired");
});

test("fine-tune in ModelFactory, followed with its loss chart until attested; the adapter is registered with its lineage", async () => {
  await goto(page, "/factory");
  await devWallet();
  await page.getByLabel("Datanet").selectOption(DATANET);
  await page.getByText("Advanced training settings").click();
  for (const [label, value] of [
    ["LoRA rank", "4"],
    ["LoRA alpha", "8"],
    ["Max steps (0: epochs decide)", "3"],
    ["Batch size", "2"],
    ["Max tokens per row", "32"],
    ["Eval split (basis points)", "2000"],
    ["Learning rate × 10⁶", "10000"],
  ]) {
    await page.getByLabel(label, { exact: true }).fill(value);
  }
  await txIncluded(page, "start-job");
  const { jobs } = await rest("/openledger/model/v1/fine_tune_jobs");
  const job = jobs[jobs.length - 1];
  assert.equal(job.datanet_id, DATANET);
  assert.deepEqual([job.config.rank, job.config.max_steps, job.config.batch_size, job.config.eval_split_bps], [4, 3, 2, 2000]);
  const decided = await until(
    "the job to be decided",
    async () => {
      const j = (await rest(`/openledger/model/v1/fine_tune_jobs/${job.id}`)).job;
      return j.status !== "JOB_STATUS_QUEUED" && j.status !== "JOB_STATUS_RUNNING" && j;
    },
    300_000,
  );
  assert.equal(decided.status, "JOB_STATUS_ATTESTED", JSON.stringify(decided));
  await page.getByTestId(`job-${job.id}-adapter`).first().waitFor({ timeout: 60_000 });
  assert.match(await page.getByTestId(`job-${job.id}-adapter`).first().textContent(), new RegExp(`Adapter #${decided.adapter_id} registered`));

  // The loss chart: this node's executor trained it, so the node's own record has its steps.
  const progress = await rest(`/openledger/node/v1/training/${job.id}`);
  assert.equal(progress.state, "trained", JSON.stringify(progress));
  assert.ok(progress.steps.length >= 1, JSON.stringify(progress));
  const lastStep = progress.steps[progress.steps.length - 1];
  const chart = page.getByTestId(`job-${job.id}`).first().getByTestId("loss-chart");
  await chart.waitFor({ timeout: 30_000 });
  const points = await until("the chart's last step", async () => {
    const n = Number(await chart.getAttribute("data-points"));
    return n === progress.steps.filter((s) => typeof s.loss === "number").length && n;
  });
  assert.ok(points >= 1, `${points} data points`);
  assert.ok((await chart.locator("circle.pt").count()) >= 1, "the points are drawn");
  assert.equal(await chart.getAttribute("role"), "img");
  assert.match(await chart.getAttribute("aria-label"), new RegExp(`step ${lastStep.step} of ${lastStep.total_steps}, loss \\d`));
  const stats = await page.getByTestId(`job-${job.id}-stats`).first().textContent();
  assert.match(stats, new RegExp(`step ${lastStep.step}/${lastStep.total_steps}`));
  assert.match(stats, /tokens\/s/);
  const evalLoss = new Float32Array(new Uint32Array([Number(decided.eval_loss_bits ?? 0)]).buffer)[0];
  if (Number.isFinite(evalLoss)) assert.match(stats, new RegExp(`final eval loss ${evalLoss.toFixed(4)}`));
  await chart.screenshot({ path: join(ARTIFACTS, "factory-loss-chart.png") });
  await shot(page, "factory", "attested");

  const { lineage } = await rest(`/openledger/model/v1/adapters/${decided.adapter_id}/lineage`);
  assert.equal(lineage.adapter.fine_tune_job_id, job.id);
  assert.equal(lineage.datanet_versions[0].datanet_id, DATANET);
  await goto(page, "/models");
  await page.getByTestId(`adapter-${decided.adapter_id}`).getByText(`fine-tune job #${job.id}`).waitFor();
  await shot(page, "factory", "models-lineage");
});
