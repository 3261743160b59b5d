// The Playground in a real Chromium against a one-validator localnet whose open-executor serves
// a generated tiny Llama and an adapter trained (pinned) on a published datanet version, one of
// whose rows quotes the model's answer: run by the e2e test `web_playground`
// (tests/tests/e2e/web_app.rs). The page pays for a request on the adapter, polls until the
// validators' result lands, and shows the answer with its matched span highlighted, the matched
// row, the contributor's payout and the validator's vote; each is checked against REST. Then
// ModelFactory starts a small fine-tune on the same version and the page follows the job until
// the executor's training is attested and its adapter registered, with its lineage on Models.
//
// Environment (besides lib.mjs's): OPENLEDGER_PROMPT, OPENLEDGER_MAX_TOKENS, OPENLEDGER_EXPECTED
// (the answer the executor gives), OPENLEDGER_ADAPTER, OPENLEDGER_DATANET, OPENLEDGER_CONTRIBUTOR.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { goto, launch, rest, shot, txIncluded, until } from "./lib.mjs";

const PROMPT = process.env.OPENLEDGER_PROMPT;
const MAX_TOKENS = process.env.OPENLEDGER_MAX_TOKENS ?? "24";
const EXPECTED = process.env.OPENLEDGER_EXPECTED;
const ADAPTER = process.env.OPENLEDGER_ADAPTER ?? "1";
const DATANET = process.env.OPENLEDGER_DATANET ?? "1";
const CONTRIBUTOR = process.env.OPENLEDGER_CONTRIBUTOR;

let browser;
let page;

before(async () => {
  browser = await launch();
  page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  page.on("pageerror", (e) => console.error(`[page error] ${e.message}`));
});

after(async () => {
  await browser?.close();
});

test("ask an adapter in the Playground, see the answer, its attribution, payouts and votes", async () => {
  await goto(page, "/playground");
  await page.getByTestId("connect-dev").click();
  await page.getByTestId("wallet-address").waitFor();
  await page.getByLabel("Model").selectOption(`a:${ADAPTER}`);
  await page.getByLabel("Max tokens").fill(MAX_TOKENS);
  await page.getByLabel("Prompt").fill(PROMPT);
  const adapter = (await rest(`/openledger/model/v1/adapters/${ADAPTER}`)).adapter;
  const base = (await rest(`/openledger/model/v1/base_models/${adapter.base_model_id}`)).base_model;
  const price = BigInt(adapter.inference_price.amount) + BigInt(base.inference_price.amount);
  await txIncluded(page, "ask");
  const turn = page.locator("article.turn").last();
  const id = (await turn.getAttribute("data-testid")).replace("turn-", "");
  const req = await rest(`/openledger/inference/v1/requests/${id}`);
  assert.equal(req.request.prompt, PROMPT);
  assert.equal(req.request.adapter_id, ADAPTER);
  assert.equal(req.request.fee.amount, price.toString(), "the page pays base + adapter price");

  const answer = turn.getByTestId("answer");
  await answer.waitFor({ timeout: 120_000 });
  const done = await until("the stored result", async () => {
    const r = await rest(`/openledger/inference/v1/requests/${id}`);
    return r.request.status === "REQUEST_STATUS_COMPLETED" && r;
  });
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
  const votes = await turn.getByTestId("votes").textContent();
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

test("fine-tune in ModelFactory, followed until attested; the adapter is registered with its lineage", async () => {
  await goto(page, "/factory");
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
  await shot(page, "factory", "attested");
  const { lineage } = await rest(`/openledger/model/v1/adapters/${decided.adapter_id}/lineage`);
  assert.equal(lineage.adapter.fine_tune_job_id, job.id);
  assert.equal(lineage.datanet_versions[0].datanet_id, DATANET);
  await goto(page, "/models");
  await page.getByTestId(`adapter-${decided.adapter_id}`).getByText(`fine-tune job #${job.id}`).waitFor();
  await shot(page, "factory", "models-lineage");
});
