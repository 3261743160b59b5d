// Datanets: browse and search, create (schema, curation policy, bond), and one datanet's page:
// contribute rows typed or from a JSONL / CSV / text file with a preview, review pending
// contributions (owner or curator), publish versions, and the versions with their Merkle roots,
// contributors and what each earned from attribution.

import { useMemo, useState } from "preact/hooks";
import { get, getOptional, page } from "../api";
import { b64ToHex, b64ToText, checkAddress, enumLabel, fmtCoin, fmtOpen, short, toMicro, DENOM } from "../format";
import { CurationMode, msgCreateDatanet, msgPublishVersion, msgReviewContribution, msgSubmitContribution, SchemaKind } from "../proto";
import { checkRows, formatOf, splitRows } from "../rows";
import { useStore } from "../store";
import { eventAttr, type TxMsg } from "../tx";
import { ErrorNote, Field, Link, navigate, NeedWallet, Pager, TxButton, useAsync, usePages } from "../ui";

const enc = new TextEncoder();

interface Datanet {
  id: string;
  owner: string;
  name: string;
  description: string;
  license: string;
  schema?: { kind: string; required_fields: string[] };
  policy?: { mode: string; curators: { address: string; weight: string }[]; contribution_bond?: { denom: string; amount: string }; reject_burn_bps: number; max_row_bytes: string };
  delisted: boolean;
  latest_version: string;
  accepted_rows: string;
  pending_contributions: string;
  next_row_id: string;
}

export function DatanetsPage() {
  const pages = usePages();
  const [search, setSearch] = useState("");
  const list = useAsync(() => page<Datanet>("/openledger/datanet/v1/datanets", "datanets", pages.key, 20), [pages.key]);
  const shown = (list.data?.items ?? []).filter((d) => {
    const q = search.trim().toLowerCase();
    return !q || d.name.toLowerCase().includes(q) || d.description.toLowerCase().includes(q) || d.id === q || d.owner === q;
  });
  return (
    <section>
      <h1>Datanets</h1>
      <p class="lead">Community datasets: contributors add rows, curators accept them, published versions train models, and every paid answer that uses a row pays its contributor.</p>
      <div class="toolbar">
        <label for="datanet-search" class="sr-only">
          Search datanets
        </label>
        <input id="datanet-search" type="search" placeholder="Search by name, description, id or owner" value={search} onInput={(e) => setSearch((e.target as HTMLInputElement).value)} />
        {list.data?.total !== undefined ? <span class="hint">{list.data.total} datanets</span> : null}
      </div>
      <ErrorNote error={list.error} />
      <table class="list" data-testid="datanet-list">
        <thead>
          <tr>
            <th>#</th>
            <th>Name</th>
            <th>Owner</th>
            <th>Accepted rows</th>
            <th>Pending</th>
            <th>Latest version</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((d) => (
            <tr key={d.id}>
              <td>{d.id}</td>
              <td>
                <Link to={`/datanets/${d.id}`}>{d.name}</Link>
                {d.delisted ? <span class="badge warn">delisted</span> : null}
                <div class="hint">{d.description}</div>
              </td>
              <td>
                <code title={d.owner}>{short(d.owner)}</code>
              </td>
              <td>{d.accepted_rows}</td>
              <td>{d.pending_contributions}</td>
              <td>{d.latest_version === "0" ? "none yet" : `v${d.latest_version}`}</td>
            </tr>
          ))}
          {!list.loading && shown.length === 0 ? (
            <tr>
              <td colSpan={6}>{search ? "No datanet on this page matches." : "No datanets yet: create the first one below."}</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <Pager hasPrev={pages.hasPrev} hasNext={!!list.data?.nextKey} onPrev={pages.prev} onNext={() => pages.next(list.data?.nextKey ?? null)} />
      <CreateDatanet onCreated={(id) => navigate(`/datanets/${id}`)} />
    </section>
  );
}

function CreateDatanet({ onCreated }: { onCreated: (id: string) => void }) {
  const { wallet } = useStore();
  const [f, setF] = useState({
    name: "",
    description: "",
    license: "CC-BY-4.0",
    schema: "text",
    required: "",
    mode: "owner",
    curators: "",
    bond: "1",
    burnBps: "1000",
    maxRowBytes: "4096",
  });
  const set = (k: keyof typeof f) => (e: Event) => setF({ ...f, [k]: (e.target as HTMLInputElement).value });
  const build = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    const name = f.name.trim();
    if (!name) return "A datanet needs a name.";
    if (enc.encode(name).length > 128) return "The name is too long (128 bytes at most).";
    let bond: string;
    try {
      bond = toMicro(f.bond || "0");
    } catch (e) {
      return `Contribution bond: ${(e as Error).message}`;
    }
    const burn = Number(f.burnBps);
    if (!Number.isInteger(burn) || burn < 0 || burn > 10000) return "Reject burn must be 0–10000 basis points.";
    const maxRow = Number(f.maxRowBytes);
    if (!Number.isInteger(maxRow) || maxRow < 1) return "Max row bytes must be a positive whole number.";
    const curators: { address: string; weight: number }[] = [];
    if (f.mode === "curators") {
      for (const line of f.curators.split("\n").map((l) => l.trim()).filter(Boolean)) {
        const [address, weight = "1"] = line.split(/[\s,:]+/);
        const bad = checkAddress(address);
        if (bad) return `Curator ${address}: ${bad}`;
        if (!/^\d+$/.test(weight) || Number(weight) < 1) return `Curator ${address}: the weight must be a positive whole number`;
        curators.push({ address, weight: Number(weight) });
      }
      if (curators.length === 0) return "Curator vote needs at least one curator (one address per line, optional weight).";
    }
    return [
      {
        any: msgCreateDatanet({
          owner: wallet.address,
          name,
          description: f.description.trim(),
          license: f.license.trim(),
          schemaKind: f.schema === "json" ? SchemaKind.JSON : SchemaKind.TEXT,
          requiredFields: f.schema === "json" ? f.required.split(",").map((s) => s.trim()).filter(Boolean) : [],
          curationMode: f.mode === "curators" ? CurationMode.CURATOR_VOTE : CurationMode.OWNER_REVIEW,
          curators,
          contributionBond: { denom: DENOM, amount: bond },
          rejectBurnBps: burn,
          maxRowBytes: maxRow,
        }),
        summary: `Create datanet “${name}”`,
      },
    ];
  };
  return (
    <section class="card" aria-labelledby="create-datanet">
      <h2 id="create-datanet">Create a datanet</h2>
      <NeedWallet what="create a datanet">
        <form class="grid" onSubmit={(e) => e.preventDefault()}>
          <Field label="Name" id="dn-name">
            <input id="dn-name" value={f.name} onInput={set("name")} maxLength={128} required />
          </Field>
          <Field label="License" id="dn-license">
            <input id="dn-license" value={f.license} onInput={set("license")} />
          </Field>
          <Field label="Description" id="dn-description">
            <textarea id="dn-description" rows={2} value={f.description} onInput={set("description")} />
          </Field>
          <Field label="Rows are" id="dn-schema">
            <select id="dn-schema" value={f.schema} onChange={set("schema")}>
              <option value="text">plain text</option>
              <option value="json">JSON objects</option>
            </select>
          </Field>
          {f.schema === "json" ? (
            <Field label="Required fields (comma separated)" id="dn-required">
              <input id="dn-required" value={f.required} onInput={set("required")} placeholder="question, answer" />
            </Field>
          ) : null}
          <Field label="Curation" id="dn-mode">
            <select id="dn-mode" value={f.mode} onChange={set("mode")}>
              <option value="owner">the owner reviews</option>
              <option value="curators">curators vote (weighted)</option>
            </select>
          </Field>
          {f.mode === "curators" ? (
            <Field label="Curators (address and weight, one per line)" id="dn-curators">
              <textarea id="dn-curators" rows={3} value={f.curators} onInput={set("curators")} placeholder="open1… 2" />
            </Field>
          ) : null}
          <Field label="Contribution bond (OPEN)" id="dn-bond" hint="Escrowed per contribution, returned when accepted.">
            <input id="dn-bond" inputMode="decimal" value={f.bond} onInput={set("bond")} />
          </Field>
          <Field label="Burned on reject (basis points)" id="dn-burn">
            <input id="dn-burn" inputMode="numeric" value={f.burnBps} onInput={set("burnBps")} />
          </Field>
          <Field label="Max row size (bytes)" id="dn-maxrow">
            <input id="dn-maxrow" inputMode="numeric" value={f.maxRowBytes} onInput={set("maxRowBytes")} />
          </Field>
          <TxButton id="create-datanet" label="Create datanet" build={build} onDone={(d) => onCreated(eventAttr(d.events, "datanet_created", "datanet_id") ?? "")} />
        </form>
      </NeedWallet>
    </section>
  );
}

export function DatanetPage({ id }: { id: string }) {
  const { height, wallet } = useStore();
  const dn = useAsync(() => get(`/openledger/datanet/v1/datanets/${id}`).then((r) => r.datanet as Datanet), [id, height]);
  const d = dn.data;
  if (!d) {
    return (
      <section>
        <p>
          <Link to="/datanets">← Datanets</Link>
        </p>
        {dn.error ? <ErrorNote error={dn.error} /> : <p>Loading datanet {id}…</p>}
      </section>
    );
  }
  const isOwner = wallet?.address === d.owner;
  const curator = d.policy?.curators.find((c) => c.address === wallet?.address);
  const canReview = d.policy?.mode === "CURATION_MODE_CURATOR_VOTE" ? !!curator : isOwner;
  return (
    <section>
      <p>
        <Link to="/datanets">← Datanets</Link>
      </p>
      <h1 data-testid="datanet-name">
        {d.name} <span class="hint">#{d.id}</span>
      </h1>
      {d.delisted ? <p class="error">Delisted by governance.</p> : null}
      <p>{d.description}</p>
      <dl class="facts">
        <dt>Owner</dt>
        <dd>
          <code>{d.owner}</code>
          {isOwner ? <span class="badge">you</span> : null}
        </dd>
        <dt>License</dt>
        <dd>{d.license || "—"}</dd>
        <dt>Rows</dt>
        <dd>
          {d.schema?.kind === "SCHEMA_KIND_JSON" ? `JSON objects${d.schema.required_fields.length ? " with " + d.schema.required_fields.join(", ") : ""}` : "plain text"}, at most {d.policy?.max_row_bytes} bytes each
        </dd>
        <dt>Curation</dt>
        <dd>
          {enumLabel(d.policy?.mode, "CURATION_MODE_")}
          {d.policy?.curators.length ? ` (${d.policy.curators.map((c) => `${short(c.address)}×${c.weight}`).join(", ")})` : ""}; bond {fmtCoin(d.policy?.contribution_bond)}, {(d.policy?.reject_burn_bps ?? 0) / 100} % burned on reject
        </dd>
        <dt>Accepted rows</dt>
        <dd data-testid="accepted-rows">{d.accepted_rows}</dd>
        <dt>Latest version</dt>
        <dd data-testid="latest-version">{d.latest_version === "0" ? "none yet" : `v${d.latest_version}`}</dd>
      </dl>
      <Contribute d={d} onDone={dn.reload} />
      <Contributions d={d} canReview={canReview} onDone={dn.reload} />
      {isOwner ? (
        <section class="card" aria-labelledby="publish">
          <h2 id="publish">Publish a version</h2>
          <p>Freezes every accepted row into version {Number(d.latest_version) + 1} with a Merkle root; models pin versions, attribution indexes them.</p>
          <TxButton id="publish" label="Publish version" build={() => (wallet ? [{ any: msgPublishVersion(wallet.address, d.id), summary: "Publish" }] : "Connect a wallet first.")} onDone={dn.reload} />
        </section>
      ) : null}
      <Versions d={d} />
    </section>
  );
}

function Contribute({ d, onDone }: { d: Datanet; onDone: () => void }) {
  const { wallet } = useStore();
  const [text, setText] = useState("");
  const [fileName, setFileName] = useState("");
  const [fileKey, setFileKey] = useState(0); // remounts the file input after a contribution
  const [format, setFormat] = useState<"jsonl" | "csv" | "text">("text");
  const params = useAsync(() => Promise.all([get("/openledger/datanet/v1/params"), get("/openledger/auth/v1/fee_params").catch(() => undefined)]), []);
  const json = d.schema?.kind === "SCHEMA_KIND_JSON";
  const maxRowBytes = Math.min(Number(d.policy?.max_row_bytes ?? 0) || 1 << 20, Number(params.data?.[0]?.params?.max_row_bytes_cap ?? 1 << 20));
  const maxRows = Number(params.data?.[0]?.params?.max_rows_per_contribution ?? 10000);
  // The REST body is at most 1 MiB, base64 grows by 4/3, and the chain has its own max tx size.
  const maxTotalBytes = Math.min(Number(params.data?.[1]?.params?.max_tx_bytes ?? 700_000), 700_000) - 4096;
  const check = useMemo(() => {
    const split = splitRows(text, format, json);
    const c = checkRows(split.rows, { json, requiredFields: d.schema?.required_fields ?? [], maxRowBytes, maxRows, maxTotalBytes });
    return { ...c, errors: [...split.errors, ...c.errors] };
  }, [text, format, json, maxRowBytes, maxRows, maxTotalBytes]);
  const onFile = async (e: Event) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    if (file.size > 2 * 1024 * 1024) {
      setFileName(`${file.name} is ${(file.size / 1048576).toFixed(1)} MiB: at most 2 MiB per upload`);
      return;
    }
    setFileName(file.name);
    setFormat(formatOf(file.name));
    setText(await file.text());
  };
  const bond = d.policy?.contribution_bond;
  const build = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    if (check.errors.length) return `Fix the rows first: ${check.errors[0]}`;
    return [{ any: msgSubmitContribution(wallet.address, d.id, check.rows.map((r) => enc.encode(r)), bond && bond.amount !== "0" ? bond : undefined), summary: "Contribute" }];
  };
  return (
    <section class="card" aria-labelledby="contribute">
      <h2 id="contribute">Contribute rows</h2>
      <NeedWallet what="contribute">
        <div class="grid">
          <Field label="Upload a file (.jsonl, .csv or .txt)" id="rows-file" hint={fileName || "One row per line; CSV: a header line, then one row per line."}>
            <input key={fileKey} id="rows-file" type="file" accept=".jsonl,.ndjson,.json,.csv,.txt,text/plain,text/csv,application/json" onChange={onFile} data-testid="rows-file" />
          </Field>
          <Field label="Format" id="rows-format">
            <select id="rows-format" value={format} onChange={(e) => setFormat((e.target as HTMLSelectElement).value as any)}>
              <option value="text">plain text: one row per line</option>
              <option value="jsonl">JSONL: one JSON object per line</option>
              <option value="csv">CSV with a header</option>
            </select>
          </Field>
          <Field label="Rows" id="rows-text">
            <textarea id="rows-text" rows={5} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)} placeholder={json ? '{"question": "…", "answer": "…"}' : "One row per line"} />
          </Field>
        </div>
        <div class="preview" data-testid="rows-preview" aria-live="polite">
          <p>
            <strong data-testid="row-count">{check.rows.length}</strong> rows, {check.totalBytes.toLocaleString()} bytes · bond {fmtCoin(bond)}
          </p>
          {check.errors.length && text ? (
            <ul class="error" role="alert" data-testid="row-errors">
              {check.errors.map((e) => (
                <li>{e}</li>
              ))}
            </ul>
          ) : null}
          {check.rows.length ? (
            <ol class="rows">
              {check.rows.slice(0, 10).map((r) => (
                <li>
                  <code>{r.length > 160 ? r.slice(0, 160) + "…" : r}</code>
                </li>
              ))}
              {check.rows.length > 10 ? <li class="hint">… {check.rows.length - 10} more</li> : null}
            </ol>
          ) : null}
        </div>
        <TxButton
          id="contribute"
          label={`Sign and contribute ${check.rows.length} rows`}
          build={build}
          disabled={!check.rows.length || check.errors.length > 0}
          onDone={() => {
            setText("");
            setFileName("");
            setFileKey((k) => k + 1);
            onDone();
          }}
        />
      </NeedWallet>
    </section>
  );
}

function Contributions({ d, canReview, onDone }: { d: Datanet; canReview: boolean; onDone: () => void }) {
  const { wallet, height } = useStore();
  const pages = usePages();
  const list = useAsync(() => page<any>(`/openledger/datanet/v1/datanets/${d.id}/contributions`, "contributions", pages.key, 20), [d.id, pages.key, d.pending_contributions, d.accepted_rows, Math.floor(height / 5)]);
  const [reasons, setReasons] = useState<Record<string, string>>({});
  // Contributions reviewed from this page keep their buttons (disabled) and tx status.
  const [reviewed, setReviewed] = useState<Record<string, true>>({});
  return (
    <section class="card" aria-labelledby="contributions">
      <h2 id="contributions">Contributions</h2>
      <ErrorNote error={list.error} />
      <table class="list" data-testid="contribution-list">
        <thead>
          <tr>
            <th>#</th>
            <th>Contributor</th>
            <th>Rows</th>
            <th>Bond</th>
            <th>Status</th>
            {canReview ? <th>Review</th> : null}
          </tr>
        </thead>
        <tbody>
          {(list.data?.items ?? []).map((c) => (
            <tr key={c.id} data-testid={`contribution-${c.id}`}>
              <td>{c.id}</td>
              <td>
                <code title={c.contributor}>{short(c.contributor)}</code>
              </td>
              <td>
                {c.row_count} <span class="hint">({c.total_bytes} B)</span>
              </td>
              <td>{fmtCoin(c.bond)}</td>
              <td data-testid={`contribution-${c.id}-status`}>
                {enumLabel(c.status, "CONTRIBUTION_STATUS_")}
                {c.reason ? <div class="hint">{c.reason}</div> : null}
              </td>
              {canReview ? (
                <td>
                  {(c.status === "CONTRIBUTION_STATUS_PENDING" || reviewed[c.id]) && wallet ? (
                    <div class="review">
                      <label class="sr-only" for={`reason-${c.id}`}>
                        Reason for contribution {c.id}
                      </label>
                      <input id={`reason-${c.id}`} placeholder="reason (optional)" value={reasons[c.id] ?? ""} onInput={(e) => setReasons({ ...reasons, [c.id]: (e.target as HTMLInputElement).value })} />
                      <TxButton id={`accept-${c.id}`} label="Accept" disabled={c.status !== "CONTRIBUTION_STATUS_PENDING"} onStart={() => setReviewed((r) => ({ ...r, [c.id]: true }))} build={() => [{ any: msgReviewContribution(wallet.address, d.id, c.id, true, reasons[c.id] ?? ""), summary: "Accept" }]} onDone={onDone} />
                      <TxButton id={`reject-${c.id}`} class="danger" label="Reject" disabled={c.status !== "CONTRIBUTION_STATUS_PENDING"} onStart={() => setReviewed((r) => ({ ...r, [c.id]: true }))} build={() => [{ any: msgReviewContribution(wallet.address, d.id, c.id, false, reasons[c.id] ?? ""), summary: "Reject" }]} onDone={onDone} />
                    </div>
                  ) : null}
                </td>
              ) : null}
            </tr>
          ))}
          {!list.loading && !(list.data?.items ?? []).length ? (
            <tr>
              <td colSpan={canReview ? 6 : 5}>No contributions yet.</td>
            </tr>
          ) : null}
        </tbody>
      </table>
      <Pager hasPrev={pages.hasPrev} hasNext={!!list.data?.nextKey} onPrev={pages.prev} onNext={() => pages.next(list.data?.nextKey ?? null)} />
    </section>
  );
}

/** What contributors earned from attribution in the latest paid inference requests. */
async function recentEarnings(datanetId: string, limit = 30): Promise<{ byContributor: Map<string, bigint>; requests: number }> {
  const byContributor = new Map<string, bigint>();
  const txs = await get("/cosmos/tx/v1beta1/txs", {
    events: "message.action='/openledger.inference.v1.MsgRequestInference'",
    order_by: "ORDER_BY_DESC",
    limit,
    page: 1,
  }).catch(() => undefined);
  const ids = new Set<string>();
  for (const t of txs?.tx_responses ?? []) for (const e of t.events ?? []) if (e.type === "inference_request") for (const a of e.attributes) if (a.key === "request_id") ids.add(a.value);
  const records = await Promise.all([...ids].map((rid) => getOptional(`/openledger/attribution/v1/records/${rid}`).catch(() => undefined)));
  for (const r of records) {
    const rec = r?.record;
    if (!rec || !(rec.versions ?? []).some((v: any) => v.datanet_id === datanetId)) continue;
    const inDatanet = new Set((rec.rows ?? []).filter((row: any) => row.datanet_id === datanetId).map((row: any) => row.contributor));
    for (const p of rec.payouts ?? []) if (inDatanet.has(p.contributor)) byContributor.set(p.contributor, (byContributor.get(p.contributor) ?? 0n) + BigInt(p.amount || "0"));
  }
  return { byContributor, requests: ids.size };
}

function Versions({ d }: { d: Datanet }) {
  const versions = useAsync(() => page<any>(`/openledger/datanet/v1/datanets/${d.id}/versions`, "versions", null, 50), [d.id, d.latest_version]);
  const [open, setOpen] = useState<string | null>(null);
  return (
    <section class="card" aria-labelledby="versions">
      <h2 id="versions">Versions</h2>
      <ErrorNote error={versions.error} />
      <table class="list" data-testid="version-list">
        <thead>
          <tr>
            <th>Version</th>
            <th>Merkle root</th>
            <th>Rows</th>
            <th>Contributions</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(versions.data?.items ?? []).map((v) => (
            <>
              <tr key={v.version} data-testid={`version-${v.version}`}>
                <td>v{v.version}</td>
                <td>
                  <code class="hash" data-testid={`version-${v.version}-root`}>
                    {b64ToHex(v.merkle_root)}
                  </code>
                </td>
                <td>{v.row_count}</td>
                <td>{v.contribution_count}</td>
                <td>
                  <button type="button" aria-expanded={open === v.version} onClick={() => setOpen(open === v.version ? null : v.version)}>
                    {open === v.version ? "Hide" : "Contributors"}
                  </button>
                </td>
              </tr>
              {open === v.version ? (
                <tr>
                  <td colSpan={5}>
                    <VersionDetail datanetId={d.id} version={v.version} />
                  </td>
                </tr>
              ) : null}
            </>
          ))}
          {!versions.loading && !(versions.data?.items ?? []).length ? (
            <tr>
              <td colSpan={5}>No published version yet.</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </section>
  );
}

function VersionDetail({ datanetId, version }: { datanetId: string; version: string }) {
  const rows = useAsync(() => page<any>(`/openledger/datanet/v1/datanets/${datanetId}/versions/${version}/rows`, "rows", null, 200), [datanetId, version]);
  const earnings = useAsync(() => recentEarnings(datanetId), [datanetId]);
  const contributors = new Map<string, number>();
  for (const r of rows.data?.items ?? []) contributors.set(r.contributor, (contributors.get(r.contributor) ?? 0) + 1);
  return (
    <div class="version-detail">
      <ErrorNote error={rows.error} />
      <table class="list">
        <thead>
          <tr>
            <th>Contributor</th>
            <th>Rows in v{version}</th>
            <th>Earned from attribution{earnings.data ? ` (latest ${earnings.data.requests} requests)` : ""}</th>
          </tr>
        </thead>
        <tbody>
          {[...contributors].map(([addr, n]) => (
            <tr>
              <td>
                <code title={addr}>{short(addr)}</code>
              </td>
              <td>{n}</td>
              <td>{earnings.data ? fmtOpen(earnings.data.byContributor.get(addr) ?? 0n) : "…"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <details>
        <summary>Rows ({rows.data?.items.length ?? 0}{rows.data?.nextKey ? "+" : ""})</summary>
        <ol class="rows">
          {(rows.data?.items ?? []).slice(0, 50).map((r) => (
            <li>
              <code>{b64ToText(r.data).slice(0, 200)}</code>
              {r.delisted ? <span class="badge warn">delisted</span> : null}
            </li>
          ))}
        </ol>
      </details>
    </div>
  );
}
