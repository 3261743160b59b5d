// Models: base models and adapters with their lineage drawn down to the datanet versions they
// were trained on, prices and owners; registering an adapter by hash.

import { useState } from "preact/hooks";
import { get, page } from "../api";
import { b64ToHex, fmtCoin, short, toMicro, DENOM } from "../format";
import { msgRegisterAdapter } from "../proto";
import { useStore } from "../store";
import { type TxMsg } from "../tx";
import { ErrorNote, Field, Link, NeedWallet, TxButton, useAsync } from "../ui";

/** An IEEE-754 f32 carried as its bits (the chain stores losses that way). */
export const f32 = (bits: number | string | undefined) => (bits === undefined || bits === null ? NaN : new Float32Array(new Uint32Array([Number(bits)]).buffer)[0]);

export function ModelsPage() {
  const data = useAsync(async () => {
    const [bases, adapters] = await Promise.all([page<any>("/openledger/model/v1/base_models", "base_models", null, 100), page<any>("/openledger/model/v1/adapters", "adapters", null, 100)]);
    return { bases: bases.items, adapters: adapters.items };
  }, []);
  const bases = data.data?.bases ?? [];
  const adapters = data.data?.adapters ?? [];
  return (
    <section>
      <h1>Models</h1>
      <p class="lead">Base models and the adapters fine-tuned on them, each pinned to the datanet versions it learned from.</p>
      <ErrorNote error={data.error} />
      {data.data && !bases.length ? <p>No base model is registered yet.</p> : null}
      <div class="models" data-testid="model-list">
        {bases.map((b) => (
          <article class="card model" key={b.id} data-testid={`base-model-${b.id}`}>
            <h2>
              {b.name} <span class="hint">base #{b.id}</span>
              {b.delisted ? <span class="badge warn">delisted</span> : null}
            </h2>
            <dl class="facts">
              <dt>Architecture</dt>
              <dd>{b.architecture}</dd>
              <dt>Weights</dt>
              <dd>
                <code class="hash">{b.weights_hash}</code>
              </dd>
              <dt>Owner</dt>
              <dd>
                <code title={b.owner}>{short(b.owner)}</code>
              </dd>
              <dt>Price per request</dt>
              <dd>{fmtCoin(b.inference_price)}</dd>
              <dt>License</dt>
              <dd>{b.license || "—"}</dd>
            </dl>
            <h3>Adapters</h3>
            <ul class="lineage">
              {adapters
                .filter((a) => a.base_model_id === b.id)
                .map((a) => (
                  <Lineage adapter={a} key={a.id} />
                ))}
              {!adapters.some((a) => a.base_model_id === b.id) ? <li class="hint">None yet: train one in ModelFactory.</li> : null}
            </ul>
          </article>
        ))}
      </div>
      <RegisterAdapter bases={bases} onDone={data.reload} />
    </section>
  );
}

function Lineage({ adapter: a }: { adapter: any }) {
  const loss = f32(a.eval_loss_bits);
  return (
    <li data-testid={`adapter-${a.id}`}>
      <div class="node adapter">
        <strong>adapter #{a.id}</strong> · {fmtCoin(a.inference_price)} · owner <code title={a.owner}>{short(a.owner)}</code>
        {a.delisted ? <span class="badge warn">delisted</span> : null}
        <div class="hint">
          hash <code>{short(a.adapter_hash, 12, 6)}</code>
          {a.fine_tune_job_id && a.fine_tune_job_id !== "0" ? <> · fine-tune job #{a.fine_tune_job_id}</> : null}
          {Number(a.eval_loss_bits) ? <> · eval loss {loss.toFixed(4)}</> : null}
        </div>
      </div>
      <ul class="versions">
        {(a.datanet_versions ?? []).map((v: any) => (
          <li class="node datanet">
            ↳ trained on <Link to={`/datanets/${v.datanet_id}`}>datanet #{v.datanet_id}</Link> v{v.version} ({v.row_count} rows, root <code>{short(b64ToHex(v.merkle_root), 10, 4)}</code>)
          </li>
        ))}
      </ul>
    </li>
  );
}

function RegisterAdapter({ bases, onDone }: { bases: any[]; onDone: () => void }) {
  const { wallet } = useStore();
  const [f, setF] = useState({ base: "", hash: "", datanet: "", version: "", config: "", price: "0.001" });
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const versions = useAsync(() => (f.datanet ? get(`/openledger/datanet/v1/datanets/${f.datanet}/versions`).then((r) => r.versions ?? []) : Promise.resolve([])), [f.datanet]);
  const build = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    const base = f.base || bases[0]?.id;
    if (!base) return "There is no base model to attach an adapter to.";
    if (!/^[0-9a-fA-F]{64}$/.test(f.hash.trim())) return "The adapter hash is the sha256 of its weights: 64 hex digits.";
    if (!/^[0-9a-fA-F]{64}$/.test(f.config.trim())) return "The training config hash is the sha256 of its training configuration: 64 hex digits.";
    let price: string;
    try {
      price = toMicro(f.price || "0");
    } catch (e) {
      return `Price: ${(e as Error).message}`;
    }
    // While another datanet's versions load, `versions.data` still holds the previous one's.
    if (f.datanet && versions.loading) return "Loading that datanet's versions; try again in a moment.";
    const pins = f.datanet ? [{ datanetId: f.datanet, version: f.version || String(versions.data?.[versions.data.length - 1]?.version ?? "") }] : [];
    if (pins.some((p) => !p.version)) return "Pick a published version of that datanet.";
    return [{ any: msgRegisterAdapter(wallet.address, base, f.hash.trim().toLowerCase(), pins, f.config.trim().toLowerCase(), { denom: DENOM, amount: price }), summary: "Register adapter" }];
  };
  return (
    <section class="card" aria-labelledby="register-adapter">
      <h2 id="register-adapter">Register an adapter</h2>
      <p class="hint">For adapters trained elsewhere; ModelFactory registers its own.</p>
      <NeedWallet what="register an adapter">
        <form class="grid" onSubmit={(e) => e.preventDefault()}>
          <Field label="Base model" id="ad-base">
            <select id="ad-base" value={f.base || bases[0]?.id} onChange={set("base")}>
              {bases.map((b) => (
                <option value={b.id}>
                  {b.name} (#{b.id})
                </option>
              ))}
            </select>
          </Field>
          <Field label="Adapter weights hash (sha256, hex)" id="ad-hash">
            <input id="ad-hash" value={f.hash} onInput={set("hash")} spellcheck={false} />
          </Field>
          <Field label="Training config hash (sha256, hex)" id="ad-config">
            <input id="ad-config" value={f.config} onInput={set("config")} spellcheck={false} />
          </Field>
          <Field label="Trained on datanet (id)" id="ad-datanet">
            <input id="ad-datanet" inputMode="numeric" value={f.datanet} onInput={set("datanet")} />
          </Field>
          {f.datanet ? (
            <Field label="Version" id="ad-version">
              <select id="ad-version" value={f.version} onChange={set("version")}>
                <option value="">latest</option>
                {(versions.data ?? []).map((v: any) => (
                  <option value={v.version}>v{v.version}</option>
                ))}
              </select>
            </Field>
          ) : null}
          <Field label="Price per request (OPEN)" id="ad-price">
            <input id="ad-price" inputMode="decimal" value={f.price} onInput={set("price")} />
          </Field>
          <TxButton id="register-adapter" label="Register adapter" build={build} onDone={onDone} />
        </form>
      </NeedWallet>
    </section>
  );
}
