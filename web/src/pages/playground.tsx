// Playground: ask a base model or an adapter, paying per request (MsgRequestInference); the
// request is polled until its result lands, then the answer is shown with the spans that matched
// datanet rows highlighted, the rows, who was paid how much, and the validators' votes. The
// conversation's turns stay on the page.

import { useState } from "preact/hooks";
import { get, getOptional, page } from "../api";
import { b64ToHex, b64ToText, enumLabel, fmtCoin, fmtOpen, short } from "../format";
import { msgRequestInference } from "../proto";
import { useStore } from "../store";
import { eventAttr, type TxMsg } from "../tx";
import { ErrorNote, Field, NeedWallet, TxButton, useAsync, useInterval } from "../ui";

interface Turn {
  prompt: string;
  requestId: string;
  model: string;
}

export function PlaygroundPage() {
  const { wallet } = useStore();
  const models = useAsync(async () => {
    const [bases, adapters, params] = await Promise.all([
      page<any>("/openledger/model/v1/base_models", "base_models", null, 100),
      page<any>("/openledger/model/v1/adapters", "adapters", null, 100),
      get("/openledger/inference/v1/params").catch(() => undefined),
    ]);
    return { bases: bases.items.filter((b) => !b.delisted), adapters: adapters.items.filter((a) => !a.delisted), params: params?.params };
  }, []);
  const [choice, setChoice] = useState("");
  const [prompt, setPrompt] = useState("");
  const [maxTokens, setMaxTokens] = useState("48");
  const [turns, setTurns] = useState<Turn[]>([]);
  const bases = models.data?.bases ?? [];
  const adapters = models.data?.adapters ?? [];
  const selected = choice || (bases[0] ? `b:${bases[0].id}` : "");
  const [kind, id] = selected.split(":");
  const base = kind === "b" ? bases.find((b) => b.id === id) : bases.find((b) => b.id === adapters.find((a) => a.id === id)?.base_model_id);
  const adapter = kind === "a" ? adapters.find((a) => a.id === id) : undefined;
  const price = BigInt(base?.inference_price?.amount ?? "0") + BigInt(adapter?.inference_price?.amount ?? "0");
  const maxPrompt = Number(models.data?.params?.max_prompt_bytes ?? 4096);
  const cap = Number(models.data?.params?.max_tokens_cap ?? 256);
  const build = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    if (!base) return "There is no model to ask on this chain yet.";
    const text = prompt.trim();
    if (!text) return "Write a prompt first.";
    if (new TextEncoder().encode(text).length > maxPrompt) return `The prompt is longer than ${maxPrompt} bytes.`;
    const n = Number(maxTokens);
    if (!Number.isInteger(n) || n < 1 || n > cap) return `Max tokens must be 1–${cap}.`;
    return [{ any: msgRequestInference(wallet.address, base.id, adapter?.id ?? "0", text, n, { denom: "uopen", amount: price.toString() }), summary: "Ask" }];
  };
  return (
    <section>
      <h1>Playground</h1>
      <p class="lead">Every answer is computed by the validators' executors, agreed on chain, and pays the contributors whose rows it used.</p>
      <ErrorNote error={models.error} />
      {models.data && bases.length === 0 ? (
        <p class="hint" data-testid="no-models">
          No base model is registered on this chain yet. <code>make run</code> registers SmolLM2 with the node's own executor; on other chains, register one with <code>openledgerd tx model register-base-model</code>.
        </p>
      ) : null}
      <div class="conversation" aria-live="polite">
        {turns.map((t) => (
          <TurnView turn={t} key={t.requestId} />
        ))}
      </div>
      <NeedWallet what="ask a model">
        <form class="grid" onSubmit={(e) => e.preventDefault()}>
          <Field label="Model" id="pg-model">
            <select id="pg-model" value={selected} onChange={(e) => setChoice((e.target as HTMLSelectElement).value)}>
              {bases.map((b) => (
                <option value={`b:${b.id}`}>
                  {b.name} (base #{b.id}) · {fmtCoin(b.inference_price)}
                </option>
              ))}
              {adapters.map((a) => (
                <option value={`a:${a.id}`}>
                  adapter #{a.id} on base #{a.base_model_id} · {fmtCoin(a.inference_price)} + base
                </option>
              ))}
            </select>
          </Field>
          <Field label="Max tokens" id="pg-max">
            <input id="pg-max" inputMode="numeric" value={maxTokens} onInput={(e) => setMaxTokens((e.target as HTMLInputElement).value)} />
          </Field>
          <Field label="Prompt" id="pg-prompt" hint={`Costs ${fmtOpen(price)} plus the tx fee; paid into escrow, refunded if no answer comes.`}>
            <textarea id="pg-prompt" rows={3} value={prompt} onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
          </Field>
          <TxButton
            id="ask"
            label={`Ask (${fmtOpen(price)})`}
            build={build}
            onDone={(d) => {
              const rid = eventAttr(d.events, "inference_request", "request_id");
              if (rid) setTurns((ts) => [...ts, { prompt: prompt.trim(), requestId: rid, model: adapter ? `adapter #${adapter.id}` : base?.name ?? "" }]);
              setPrompt("");
            }}
          />
        </form>
      </NeedWallet>
    </section>
  );
}

function TurnView({ turn }: { turn: Turn }) {
  const [state, setState] = useState<{ request?: any; result?: any; record?: any; error?: string }>({});
  const done = state.request && state.request.status !== "REQUEST_STATUS_PENDING";
  const poll = async () => {
    if (done) return;
    try {
      const r = await get(`/openledger/inference/v1/requests/${turn.requestId}`);
      const record = r.result ? await getOptional(`/openledger/attribution/v1/records/${turn.requestId}`).catch(() => undefined) : undefined;
      setState({ request: r.request, result: r.result, record: record?.record });
    } catch (e) {
      setState((s) => ({ ...s, error: (e as Error).message }));
    }
  };
  useInterval(poll, done ? null : 1000);
  const req = state.request;
  return (
    <article class="turn" data-testid={`turn-${turn.requestId}`}>
      <p class="you">
        <strong>You</strong> → {turn.model}: {turn.prompt}
      </p>
      {!req || req.status === "REQUEST_STATUS_PENDING" ? (
        <p class="hint" role="status">
          Request #{turn.requestId}: waiting for the validators' executors{req ? ` (deadline height ${req.deadline})` : ""}…
        </p>
      ) : req.status === "REQUEST_STATUS_EXPIRED" ? (
        <p class="error">Request #{turn.requestId} expired unanswered: no two-thirds of the model's executors agreed before height {req.deadline}. The fee was refunded.</p>
      ) : (
        <Answer result={state.result} record={state.record} request={req} />
      )}
      <ErrorNote error={state.error ?? ""} />
    </article>
  );
}

/** The answer with matched spans highlighted (span offsets count attribution's tokens). */
function highlight(text: string, spans: any[]): preact.ComponentChildren {
  if (!spans?.length) return text;
  // Attribution tokens: words and punctuation, as the chain's canonical tokenizer splits them.
  const tokens: { start: number; end: number }[] = [];
  const re = /[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu;
  for (let m; (m = re.exec(text)); ) tokens.push({ start: m.index, end: m.index + m[0].length });
  const marked = new Array(text.length).fill(false);
  for (const s of spans) {
    const a = tokens[Number(s.output_start)];
    const b = tokens[Number(s.output_start) + Number(s.length) - 1];
    if (a && b) for (let i = a.start; i < b.end; i++) marked[i] = true;
  }
  const out: preact.ComponentChildren[] = [];
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && marked[j] === marked[i]) j++;
    out.push(marked[i] ? <mark>{text.slice(i, j)}</mark> : text.slice(i, j));
    i = j;
  }
  return out;
}

function Answer({ result, record, request }: { result: any; record: any; request: any }) {
  if (!result) return <p class="hint">Answered; loading the result…</p>;
  return (
    <div class="answer">
      <p class="model-text" data-testid="answer">
        <strong>Model</strong>: {highlight(result.text, record?.spans ?? [])}
      </p>
      <details open>
        <summary>Attribution and payouts</summary>
        <dl class="facts">
          <dt>Paid</dt>
          <dd data-testid="payouts">
            {fmtCoin(request.fee)}: contributors {fmtOpen(result.paid_contributors)}, model owner {fmtOpen(result.paid_owner)}, executors {fmtOpen(result.paid_executors)}, community pool {fmtOpen(result.paid_community)}
          </dd>
          <dt>Agreement</dt>
          <dd>
            {result.agreeing_power} of {result.eligible_power} executor power at height {result.height}; output hash <code>{short(b64ToHex(result.output_hash), 12, 6)}</code>
          </dd>
        </dl>
        {record ? (
          <>
            <h4>Matched rows ({record.rows?.length ?? 0})</h4>
            <ul class="rows" data-testid="matched-rows">
              {(record.rows ?? []).map((r: any) => (
                <MatchedRow row={r} />
              ))}
            </ul>
            <h4>Contributors paid</h4>
            <ul data-testid="contributor-payouts">
              {(record.payouts ?? []).map((p: any) => (
                <li>
                  <code title={p.contributor}>{short(p.contributor)}</code>: {fmtOpen(p.amount)} for {p.matched_tokens} matched tokens
                </li>
              ))}
              {!(record.payouts ?? []).length ? <li class="hint">No datanet row matched a span of {record.min_span_tokens}+ tokens; the contributors' share went to the community pool.</li> : null}
            </ul>
          </>
        ) : (
          <p class="hint">No attribution record (a base model without datanets, or none pinned).</p>
        )}
        <h4>Validators' votes</h4>
        <table class="list" data-testid="votes">
          <thead>
            <tr>
              <th>Validator</th>
              <th>Power</th>
              <th>Vote</th>
            </tr>
          </thead>
          <tbody>
            {(result.votes ?? []).map((v: any) => {
              const absent = !v.output_hash && Number(v.token_count ?? 0) === 0;
              return (
                <tr>
                  <td>
                    <code title={v.validator}>{short(v.validator, 14, 6)}</code>
                  </td>
                  <td>{v.power}</td>
                  <td>{absent ? "absent (no report in time)" : v.agreed ? "agreed" : `disagreed (${short(b64ToHex(v.output_hash), 8, 4)})`}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {(result.slashed ?? []).length ? <p class="error">Slashed for a wrong result: {result.slashed.join(", ")}</p> : null}
        <p class="hint">Request status: {enumLabel(request.status, "REQUEST_STATUS_")}</p>
      </details>
    </div>
  );
}

function MatchedRow({ row }: { row: any }) {
  const r = useAsync(() => getOptional(`/openledger/datanet/v1/datanets/${row.datanet_id}/rows/${row.row_id}`), [row.datanet_id, row.row_id]);
  return (
    <li>
      datanet #{row.datanet_id} row {row.row_id} by <code>{short(row.contributor)}</code>, {row.matched_tokens} tokens: <code>{b64ToText(r.data?.row?.data).slice(0, 200)}</code>
    </li>
  );
}
