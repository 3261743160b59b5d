// Playground: ask a base model or an adapter, paying per request (MsgRequestInference); the
// request is polled until its result lands, then the answer is shown with the spans that matched
// datanet rows highlighted, the rows, who was paid how much, and the validators' votes. For a base
// model with a chat template every message sends the whole conversation so far (`messages`, oldest
// first, with an optional system turn) and each agreed answer joins it as the assistant's turn; a
// model without one gets each prompt as a separate raw-prompt request. A request that expires is
// explained with this node's own view of it (/openledger/node/v1/inference/{id}).

import { useRef, useState } from "preact/hooks";
import { get, getOptional, page } from "../api";
import { b64ToHex, b64ToText, enumLabel, fmtCoin, fmtOpen, short } from "../format";
import type { ChatMessage } from "../proto";
import { useStore } from "../store";
import { eventAttr, requestInference, type TxMsg } from "../tx";
import { ErrorNote, Field, NeedWallet, TxButton, useAsync, useInterval } from "../ui";

/** The chain's limit on a conversation's turns (MAX_CHAT_MESSAGES). */
export const MAX_TURNS = 64;

/** One message sent: a raw prompt, or the user's turn of a conversation. */
interface Turn {
  prompt: string;
  requestId: string;
  model: string;
  /** Sent as a conversation (`messages`), and how many turns it carried. */
  chat: boolean;
  sent: number;
  /** Older answered exchanges left out to stay within the limits. */
  dropped: number;
  /** The agreed answer, once the result landed (undefined: pending, expired or failed). */
  answer?: string;
  decided?: boolean;
}

const utf8 = (s: string) => new TextEncoder().encode(s).length;

/**
 * The turns to send for `next`: the system turn (if any), then the answered user/assistant pairs
 * oldest first, then `next`; the oldest pairs are dropped to stay within `maxTurns` turns and
 * `maxBytes` bytes of content (the system turn is kept). A string when even that does not fit.
 */
export function conversationFor(system: string, turns: Turn[], next: string, maxBytes: number, maxTurns = MAX_TURNS): { messages: ChatMessage[]; dropped: number } | string {
  const head: ChatMessage[] = system ? [{ role: "system", content: system }] : [];
  // Only answered turns with a non-empty answer (the chain refuses empty turns, and two user
  // turns in a row would misrepresent the conversation).
  const pairs: ChatMessage[][] = turns
    .filter((t) => t.chat && t.answer)
    .map((t) => [
      { role: "user", content: t.prompt },
      { role: "assistant", content: t.answer! },
    ]);
  const fixed = utf8(system) + utf8(next);
  if (fixed > maxBytes) return `The ${system ? "system prompt and message are" : "message is"} longer than ${maxBytes} bytes.`;
  let bytes = fixed + pairs.reduce((n, p) => n + utf8(p[0].content) + utf8(p[1].content), 0);
  let start = 0;
  while (start < pairs.length && (head.length + 2 * (pairs.length - start) + 1 > maxTurns || bytes > maxBytes)) {
    bytes -= utf8(pairs[start][0].content) + utf8(pairs[start][1].content);
    start++;
  }
  return { messages: [...head, ...pairs.slice(start).flat(), { role: "user", content: next }], dropped: start };
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
  const [system, setSystem] = useState("");
  const [maxTokens, setMaxTokens] = useState("48");
  const [turns, setTurns] = useState<Turn[]>([]);
  // What the last build() sent, for onDone (the prompt box may have changed since).
  const sending = useRef<Omit<Turn, "requestId">>();
  const bases = models.data?.bases ?? [];
  const adapters = models.data?.adapters ?? [];
  const selected = choice || (bases[0] ? `b:${bases[0].id}` : "");
  const [kind, id] = selected.split(":");
  const base = kind === "b" ? bases.find((b) => b.id === id) : bases.find((b) => b.id === adapters.find((a) => a.id === id)?.base_model_id);
  const adapter = kind === "a" ? adapters.find((a) => a.id === id) : undefined;
  const chat = !!base?.chat_template_hash;
  const price = BigInt(base?.inference_price?.amount ?? "0") + BigInt(adapter?.inference_price?.amount ?? "0");
  const maxPrompt = Number(models.data?.params?.max_prompt_bytes ?? 4096);
  const cap = Number(models.data?.params?.max_tokens_cap ?? 256);
  // Whether this node's executor holds the adapter (node-local; null: it runs none or did not say).
  const held = useAsync(async () => (adapter?.adapter_hash ? getOptional(`/openledger/node/v1/adapters/${adapter.adapter_hash}`).catch(() => undefined) : undefined), [adapter?.adapter_hash]);
  const answered = turns.filter((t) => t.chat && t.answer).length;
  const build = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    if (!base) return "There is no model to ask on this chain yet.";
    const text = prompt.trim();
    if (!text) return chat ? "Write a message first." : "Write a prompt first.";
    const n = Number(maxTokens);
    if (!Number.isInteger(n) || n < 1 || n > cap) return `Max tokens must be 1–${cap}.`;
    const model = adapter ? `adapter #${adapter.id}` : base.name ?? "";
    const fee = price.toString();
    if (!chat) {
      if (utf8(text) > maxPrompt) return `The prompt is longer than ${maxPrompt} bytes.`;
      sending.current = { prompt: text, model, chat: false, sent: 0, dropped: 0 };
      return [requestInference(wallet.address, base.id, adapter?.id ?? "0", text, n, fee)];
    }
    if (turns.some((t) => t.chat && !t.decided)) return "Wait for the answer to your last message: it is part of the conversation.";
    const conv = conversationFor(system.trim(), turns, text, maxPrompt);
    if (typeof conv === "string") return conv;
    sending.current = { prompt: text, model, chat: true, sent: conv.messages.length, dropped: conv.dropped };
    return [requestInference(wallet.address, base.id, adapter?.id ?? "0", "", n, fee, conv.messages)];
  };
  const decided = (requestId: string, answer: string | undefined) => setTurns((ts) => ts.map((t) => (t.requestId === requestId ? { ...t, answer, decided: true } : t)));
  const label = chat ? "Message" : "Prompt";
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
      {turns.length ? (
        <div class="toolbar">
          <span class="hint" data-testid="conversation-size">
            {turns.length} message{turns.length === 1 ? "" : "s"} sent{answered ? `, ${answered} answered in the conversation` : ""}
          </span>
          <button type="button" onClick={() => setTurns([])} data-testid="new-conversation">
            New conversation
          </button>
        </div>
      ) : null}
      <div class="conversation" aria-live="polite" data-testid="transcript">
        {turns.map((t, i) => (
          <TurnView turn={t} key={t.requestId} onDecided={decided} latest={i === turns.length - 1} />
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
          {chat ? (
            <Field label="System prompt (optional)" id="pg-system" hint="Sent first in every message of this conversation.">
              <input id="pg-system" value={system} onInput={(e) => setSystem((e.target as HTMLInputElement).value)} />
            </Field>
          ) : null}
          <Field label={label} id="pg-prompt" hint={`Costs ${fmtOpen(price)} plus the tx fee; paid into escrow, refunded if no answer comes.`}>
            <textarea id="pg-prompt" rows={3} value={prompt} onInput={(e) => setPrompt((e.target as HTMLTextAreaElement).value)} />
          </Field>
          <p class="hint" data-testid="pg-mode" data-chat={chat ? "1" : "0"}>
            {!base ? null : chat ? (
              <>
                A chat model: each message sends the whole conversation (up to {MAX_TURNS} turns, the oldest dropped first), rendered by its chat template <code title={base.chat_template_hash}>{short(base.chat_template_hash, 8, 4)}</code>.
              </>
            ) : (
              "This model has no chat template: each prompt is a separate request, sent as raw text."
            )}
          </p>
          {held.data?.held === false ? (
            <p class="warn" role="status" data-testid="adapter-warning">
              This node's executor does not hold this adapter yet; executors fetch it from their peers when the request arrives; if none holds it the request expires and the fee is refunded.
            </p>
          ) : null}
          <TxButton
            id="ask"
            label={`${chat ? "Send" : "Ask"} (${fmtOpen(price)})`}
            build={build}
            onDone={(d) => {
              const rid = eventAttr(d.events, "inference_request", "request_id");
              const s = sending.current;
              if (rid && s) setTurns((ts) => [...ts, { ...s, requestId: rid }]);
              setPrompt("");
            }}
          />
        </form>
      </NeedWallet>
    </section>
  );
}

/** Why a request expired, from this node's own view of it (null: the node does not say). */
function expiredReason(local: any): string {
  switch (local?.state) {
    case "failed":
      return `this node's executor could not run it: ${local.error ?? "no reason given"}`;
    case "no_executor":
      return "this node runs no executor";
    case "answered":
      return "this node answered but two thirds of the executors' power did not agree in time";
    case "running":
      return "this node's executor was still running it at the deadline";
    case "unknown":
      return "this node's executor never ran it (it may not serve this model, or the node restarted)";
    default:
      return "no two thirds of the model's executors agreed in time";
  }
}

function TurnView({ turn, onDecided, latest }: { turn: Turn; onDecided: (requestId: string, answer: string | undefined) => void; latest: boolean }) {
  const [state, setState] = useState<{ request?: any; result?: any; record?: any; local?: any; error?: string }>({});
  const status = state.request?.status;
  const expired = status === "REQUEST_STATUS_EXPIRED";
  // Decided (an answer with its result, or expired); an expired request is followed a little
  // longer while this node's executor is still running it, until the node says how it ended.
  const done = (status === "REQUEST_STATUS_COMPLETED" && state.result) || (expired && state.local?.state !== "running");
  const poll = async () => {
    if (done) return;
    try {
      if (expired) {
        const local = await getOptional(`/openledger/node/v1/inference/${turn.requestId}`).catch(() => undefined);
        setState((s) => ({ ...s, local }));
        return;
      }
      const r = await get(`/openledger/inference/v1/requests/${turn.requestId}`);
      const st = r.request?.status;
      const record = r.result ? await getOptional(`/openledger/attribution/v1/records/${turn.requestId}`).catch(() => undefined) : undefined;
      // An expired request: this node's own view says why (an older node does not route it).
      const local = st === "REQUEST_STATUS_EXPIRED" ? await getOptional(`/openledger/node/v1/inference/${turn.requestId}`).catch(() => undefined) : undefined;
      if (st === "REQUEST_STATUS_EXPIRED" || (st === "REQUEST_STATUS_COMPLETED" && r.result)) onDecided(turn.requestId, r.result?.text);
      setState({ request: r.request, result: r.result, record: record?.record, local });
    } catch (e) {
      setState((s) => ({ ...s, error: (e as Error).message }));
    }
  };
  useInterval(poll, done ? null : 1000);
  const req = state.request;
  return (
    <article class={turn.chat ? "turn chat" : "turn"} data-testid={`turn-${turn.requestId}`}>
      <p class="you">
        <strong>You</strong> → {turn.model}: {turn.prompt}
        {turn.chat ? (
          <span class="hint">
            {" "}
            · {turn.sent} turn{turn.sent === 1 ? "" : "s"} sent{turn.dropped ? `, the ${turn.dropped} oldest exchange${turn.dropped === 1 ? "" : "s"} left out (limits)` : ""}
          </span>
        ) : null}
      </p>
      {!req || req.status === "REQUEST_STATUS_PENDING" ? (
        <p class="hint" role="status">
          Request #{turn.requestId}: waiting for the validators' executors{req ? ` (deadline height ${req.deadline})` : ""}…
        </p>
      ) : req.status === "REQUEST_STATUS_EXPIRED" ? (
        <p class="error" data-testid="expired">
          Request #{turn.requestId} expired unanswered at height {req.deadline}, fee refunded: {expiredReason(state.local)}.
        </p>
      ) : (
        <Answer result={state.result} record={state.record} request={req} open={!turn.chat || latest} />
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

function Answer({ result, record, request, open }: { result: any; record: any; request: any; open: boolean }) {
  if (!result) return <p class="hint">Answered; loading the result…</p>;
  return (
    <div class="answer">
      <p class="model-text" data-testid="answer">
        <strong>Model</strong>: {highlight(result.text, record?.spans ?? [])}
      </p>
      <details open={open}>
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
              // An empty output hash: the validator reported nothing in time (not a disagreement).
              const absent = !v.output_hash;
              return (
                <tr data-vote={absent ? "absent" : v.agreed ? "agreed" : "disagreed"}>
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
