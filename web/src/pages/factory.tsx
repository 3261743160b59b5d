// ModelFactory: fine-tune a base model on a published datanet version (MsgCreateFineTuneJob):
// defaults for everything with an "advanced" section, the fee before signing, then the job's
// progress (queued → running → attested, with the validators' reports, the eval loss and the
// registered adapter), with a live loss chart of the steps this node's executor streams while it
// trains the job (node-local: /openledger/node/v1/training/{job_id}). A chain without fine-tuning
// (no /openledger/model/v1/params route) shows that the page is unavailable.

import { useEffect, useState } from "preact/hooks";
import { ApiError, get, getOptional, page } from "../api";
import { LossChart, fmtLoss, type StepPoint } from "../chart";
import { b64ToHex, enumLabel, fmtCoin, fmtOpen, short, toMicro } from "../format";
import { msgCreateFineTuneJob, type TrainConfig } from "../proto";
import { useStore } from "../store";
import { eventAttr, type TxMsg } from "../tx";
import { ErrorNote, Field, Link, NeedWallet, TxButton, useAsync, useInterval } from "../ui";
import { f32 } from "./models";

const MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

export function FactoryPage() {
  const params = useAsync(async () => {
    try {
      return { available: true as const, params: (await get("/openledger/model/v1/params")).params };
    } catch (e) {
      if (e instanceof ApiError && (e.status === 501 || e.status === 404)) return { available: false as const, params: undefined };
      throw e;
    }
  }, []);
  return (
    <section>
      <h1>ModelFactory</h1>
      <p class="lead">Fine-tune a base model on a published datanet version. Validators' executors train it deterministically, agree on the adapter, and it is registered with its lineage.</p>
      <ErrorNote error={params.error} />
      {params.data && !params.data.available ? (
        <p class="card unavailable" data-testid="factory-unavailable">
          Fine-tuning is not available on this chain yet (its node has no fine-tune job messages). Until then, adapters trained elsewhere can be registered on the <Link to="/models">Models</Link> page.
        </p>
      ) : null}
      {params.data?.available ? (
        <FactoryBody params={params.data.params} />
      ) : null}
    </section>
  );
}

function FactoryBody({ params }: { params: any }) {
  const [tick, setTick] = useState(0);
  return (
    <>
      <NewJob params={params} onStarted={() => setTick((t) => t + 1)} />
      <Jobs tick={tick} />
    </>
  );
}

function NewJob({ params, onStarted }: { params: any; onStarted: () => void }) {
  const { wallet } = useStore();
  const choices = useAsync(async () => {
    const [bases, datanets] = await Promise.all([page<any>("/openledger/model/v1/base_models", "base_models", null, 100), page<any>("/openledger/datanet/v1/datanets", "datanets", null, 100)]);
    return { bases: bases.items.filter((b) => !b.delisted), datanets: datanets.items.filter((d) => d.latest_version !== "0" && !d.delisted) };
  }, []);
  const [base, setBase] = useState("");
  const [datanet, setDatanet] = useState("");
  const [version, setVersion] = useState("");
  const minFee = params?.min_fee;
  const [fee, setFee] = useState("");
  const [cfg, setCfg] = useState<TrainConfig>({ rank: 8, alpha: 16, targetModules: ["q_proj", "v_proj"], learningRateMicro: 1000, epochs: 1, maxSteps: 0, batchSize: 4, seed: 42, evalSplitBps: 1000, maxSeqLen: 128 });
  const bases = choices.data?.bases ?? [];
  const datanets = choices.data?.datanets ?? [];
  const dn = datanets.find((d) => d.id === (datanet || datanets[0]?.id));
  const num = (k: keyof TrainConfig) => (e: Event) => setCfg({ ...cfg, [k]: Number((e.target as HTMLInputElement).value) });
  const feeMicro = (() => {
    try {
      return fee ? toMicro(fee) : minFee?.amount ?? "0";
    } catch {
      return "";
    }
  })();
  const build = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    const b = base || bases[0]?.id;
    if (!b) return "There is no base model to fine-tune.";
    if (!dn) return "Publish a datanet version first: jobs train on a published version.";
    if (!feeMicro) return "The fee is not an amount.";
    if (minFee && BigInt(feeMicro) < BigInt(minFee.amount)) return `The fee is below the minimum of ${fmtCoin(minFee)}.`;
    if (params?.max_rank && cfg.rank > Number(params.max_rank)) return `Rank at most ${params.max_rank}.`;
    if (params?.max_epochs && cfg.epochs > Number(params.max_epochs)) return `Epochs at most ${params.max_epochs}.`;
    if (params?.max_batch_size && cfg.batchSize > Number(params.max_batch_size)) return `Batch size at most ${params.max_batch_size}.`;
    if (params?.max_seq_len && cfg.maxSeqLen > Number(params.max_seq_len)) return `Sequence length at most ${params.max_seq_len}.`;
    if (!cfg.targetModules.length) return "Pick at least one projection to adapt.";
    return [{ any: msgCreateFineTuneJob(wallet.address, b, dn.id, version || dn.latest_version, cfg, { denom: "uopen", amount: feeMicro }), summary: "Start fine-tune" }];
  };
  const [jobId, setJobId] = useState("");
  return (
    <section class="card" aria-labelledby="new-job">
      <h2 id="new-job">New fine-tune</h2>
      <NeedWallet what="start a fine-tune">
        <form class="grid" onSubmit={(e) => e.preventDefault()}>
          <Field label="Base model" id="ft-base">
            <select id="ft-base" value={base || bases[0]?.id} onChange={(e) => setBase((e.target as HTMLSelectElement).value)}>
              {bases.map((b) => (
                <option value={b.id}>
                  {b.name} (#{b.id})
                </option>
              ))}
            </select>
          </Field>
          <Field label="Datanet" id="ft-datanet">
            <select id="ft-datanet" value={datanet || dn?.id} onChange={(e) => setDatanet((e.target as HTMLSelectElement).value)}>
              {datanets.map((d) => (
                <option value={d.id}>
                  {d.name} (#{d.id}, {d.accepted_rows} rows)
                </option>
              ))}
            </select>
          </Field>
          <Field label="Version" id="ft-version">
            <select id="ft-version" value={version} onChange={(e) => setVersion((e.target as HTMLSelectElement).value)}>
              <option value="">latest (v{dn?.latest_version ?? "—"})</option>
              {Array.from({ length: Number(dn?.latest_version ?? 0) }, (_, i) => String(i + 1)).map((v) => (
                <option value={v}>v{v}</option>
              ))}
            </select>
          </Field>
          <Field label="Fee (OPEN)" id="ft-fee" hint={`Minimum ${fmtCoin(minFee)}; paid to the executors that train it and the datanet's contributors. You will pay ${fmtOpen(feeMicro || "0")} plus the tx fee.`}>
            <input id="ft-fee" inputMode="decimal" value={fee} placeholder={minFee ? fmtOpen(minFee.amount, "") : ""} onInput={(e) => setFee((e.target as HTMLInputElement).value)} />
          </Field>
          <details class="advanced">
            <summary>Advanced training settings</summary>
            <div class="grid">
              <Field label="LoRA rank" id="ft-rank">
                <input id="ft-rank" type="number" min={1} value={cfg.rank} onInput={num("rank")} />
              </Field>
              <Field label="LoRA alpha" id="ft-alpha">
                <input id="ft-alpha" type="number" min={1} value={cfg.alpha} onInput={num("alpha")} />
              </Field>
              <Field label="Learning rate × 10⁶" id="ft-lr">
                <input id="ft-lr" type="number" min={1} value={cfg.learningRateMicro} onInput={num("learningRateMicro")} />
              </Field>
              <Field label="Epochs" id="ft-epochs">
                <input id="ft-epochs" type="number" min={1} value={cfg.epochs} onInput={num("epochs")} />
              </Field>
              <Field label="Max steps (0: epochs decide)" id="ft-steps">
                <input id="ft-steps" type="number" min={0} value={cfg.maxSteps} onInput={num("maxSteps")} />
              </Field>
              <Field label="Batch size" id="ft-batch">
                <input id="ft-batch" type="number" min={1} value={cfg.batchSize} onInput={num("batchSize")} />
              </Field>
              <Field label="Max tokens per row" id="ft-seq">
                <input id="ft-seq" type="number" min={1} value={cfg.maxSeqLen} onInput={num("maxSeqLen")} />
              </Field>
              <Field label="Eval split (basis points)" id="ft-eval">
                <input id="ft-eval" type="number" min={0} max={5000} value={cfg.evalSplitBps} onInput={num("evalSplitBps")} />
              </Field>
              <Field label="Seed" id="ft-seed">
                <input id="ft-seed" type="number" min={0} value={cfg.seed} onInput={num("seed")} />
              </Field>
              <fieldset>
                <legend>Projections to adapt</legend>
                {MODULES.map((m) => (
                  <label class="check">
                    <input
                      type="checkbox"
                      checked={cfg.targetModules.includes(m)}
                      onChange={(e) => setCfg({ ...cfg, targetModules: (e.target as HTMLInputElement).checked ? [...cfg.targetModules, m] : cfg.targetModules.filter((x) => x !== m) })}
                    />{" "}
                    {m}
                  </label>
                ))}
              </fieldset>
            </div>
          </details>
          <TxButton id="start-job" label="Start fine-tune" build={build} onDone={(d) => {
              setJobId(eventAttr(d.events, "fine_tune_job_created", "job_id") ?? "");
              onStarted();
            }} />
        </form>
        {jobId ? <Job id={jobId} /> : null}
      </NeedWallet>
    </section>
  );
}

function Jobs({ tick }: { tick: number }) {
  const { height } = useStore();
  const jobs = useAsync(() => page<any>("/openledger/model/v1/fine_tune_jobs", "jobs", null, 20), [Math.floor(height / 3), tick]);
  return (
    <section class="card" aria-labelledby="jobs">
      <h2 id="jobs">Fine-tune jobs</h2>
      <ErrorNote error={jobs.error} />
      {(jobs.data?.items ?? []).map((j) => (
        <JobView job={j} key={j.id} />
      ))}
      {!jobs.loading && !(jobs.data?.items ?? []).length ? <p>No jobs yet.</p> : null}
    </section>
  );
}

function Job({ id }: { id: string }) {
  const { height } = useStore();
  const job = useAsync(() => get(`/openledger/model/v1/fine_tune_jobs/${id}`).then((r) => r.job), [id, height]);
  return job.data ? <JobView job={job.data} /> : <ErrorNote error={job.error} />;
}

const STEPS = ["JOB_STATUS_QUEUED", "JOB_STATUS_RUNNING", "JOB_STATUS_ATTESTED"];

function JobView({ job: j }: { job: any }) {
  const at = STEPS.indexOf(j.status);
  const loss = f32(j.eval_loss_bits);
  return (
    <article class="job" data-testid={`job-${j.id}`}>
      <h3>
        Job #{j.id}: base #{j.base_model_id} on datanet #{j.datanet_id} v{j.datanet_version} <span class="badge" data-testid={`job-${j.id}-status`}>{enumLabel(j.status, "JOB_STATUS_")}</span>
      </h3>
      <ol class="steps" aria-label="progress">
        {STEPS.map((s, i) => (
          <li class={i <= at ? "done" : ""} aria-current={i === at ? "step" : undefined}>
            {enumLabel(s, "JOB_STATUS_")}
          </li>
        ))}
      </ol>
      <p class="hint">
        created at {j.created_height}, deadline {j.deadline_height}
        {j.running_height !== "0" ? `, running since ${j.running_height}` : ""}
        {j.attested_height !== "0" ? `, attested at ${j.attested_height}` : ""} · fee {fmtCoin(j.fee)} · {j.row_count} rows, root <code>{short(b64ToHex(j.merkle_root), 10, 4)}</code>
      </p>
      {j.failure_reason ? <p class="error">{j.failure_reason}</p> : null}
      <TrainingProgress job={j} evalLoss={j.status === "JOB_STATUS_ATTESTED" && Number.isFinite(loss) ? loss : undefined} />
      {j.status === "JOB_STATUS_ATTESTED" ? (
        <p data-testid={`job-${j.id}-adapter`}>
          Adapter #{j.adapter_id} registered (hash <code>{short(j.adapter_hash, 12, 6)}</code>), eval loss {Number.isNaN(loss) ? "—" : loss.toFixed(4)}; {j.agreeing_power}/{j.eligible_power} executor power agreed. Paid: executors {fmtOpen(j.paid_executors)}, contributors {fmtOpen(j.paid_contributors)}, community {fmtOpen(j.paid_community)}.
        </p>
      ) : null}
      {(j.votes ?? []).length ? (
        <ul class="hint">
          {j.votes.map((v: any) => (
            <li>
              <code>{short(v.validator, 14, 6)}</code>: {!v.reported ? "absent" : v.failed ? "reported a failure" : `${v.agreed ? "agreed" : "disagreed"}, loss ${f32(v.eval_loss_bits).toFixed(4)}`}
            </li>
          ))}
        </ul>
      ) : null}
    </article>
  );
}

/** What this node's executor streamed for a job (node-local; see docs/WEBAPP.md). */
interface Progress {
  job_id: string;
  trains: boolean;
  state: "none" | "queued" | "training" | "trained" | "failed";
  steps: StepPoint[];
  error?: string;
  eval_loss?: number | null;
}

const secs = (s: number) => (s >= 90 ? `${Math.round(s / 60)} min` : `${Math.max(0, Math.round(s))} s`);

/**
 * The job's live loss curve from this node's executor: polled every second while the job is not
 * decided (then once more, and every 5 s while this node is still training it).
 */
function TrainingProgress({ job: j, evalLoss }: { job: any; evalLoss?: number }) {
  const open = j.status === "JOB_STATUS_QUEUED" || j.status === "JOB_STATUS_RUNNING";
  const [p, setP] = useState<Progress | undefined>();
  // An older node without the route: no chart, no polling.
  const [unrouted, setUnrouted] = useState(false);
  const poll = async () => {
    try {
      const r = await getOptional<Progress>(`/openledger/node/v1/training/${j.id}`);
      if (r) setP(r);
      else setUnrouted(true);
    } catch (e) {
      if (e instanceof ApiError && (e.status === 501 || e.status === 400)) setUnrouted(true);
    }
  };
  useEffect(() => {
    poll();
  }, [j.id, j.status]);
  const local = p?.state === "queued" || p?.state === "training";
  useInterval(poll, unrouted ? null : open ? 1000 : local ? 5000 : null);
  if (!p || unrouted) return null;
  const steps = p.steps ?? [];
  const last = steps[steps.length - 1];
  const finalEval = evalLoss ?? (typeof p.eval_loss === "number" ? p.eval_loss : undefined);
  if (!steps.length) {
    if (!open) return null;
    return (
      <p class="hint" data-testid={`job-${j.id}-training`} data-state={p.state}>
        {!p.trains ? "This node runs no executor: its loss curve shows on a node that trains it." : p.state === "queued" ? "Queued on this node's executor; the loss curve starts with its first step." : "This node's executor has not started this job yet."}
      </p>
    );
  }
  return (
    <div class="training" data-testid={`job-${j.id}-training`} data-state={p.state}>
      <LossChart steps={steps} evalLoss={finalEval} />
      <p class="hint" data-testid={`job-${j.id}-stats`}>
        {p.state === "training" ? "Training on this node" : p.state === "trained" ? "Trained on this node" : p.state === "failed" ? "Failed on this node" : "This node"}: step {last.step}/{last.total_steps}
        {typeof last.loss === "number" ? ` · loss ${fmtLoss(last.loss)}` : ""} · {Math.round(last.tokens_per_second).toLocaleString()} tokens/s
        {p.state === "training" ? ` · ETA ${secs(last.eta_seconds)}` : ""}
        {finalEval !== undefined ? ` · final eval loss ${finalEval.toFixed(4)}` : ""}
      </p>
      {p.state === "failed" && p.error ? <p class="error">{p.error}</p> : null}
    </div>
  );
}
