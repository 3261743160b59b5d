// Network: latest blocks, validators with delegate / undelegate / claim rewards, governance
// proposals with voting, and the connected account's balances, delegations and txs.

import { useState } from "preact/hooks";
import { get, page } from "../api";
import { checkAddress, enumLabel, fmtCoin, fmtOpen, short, toMicro } from "../format";
import { useStore } from "../store";
import { balanceOf, delegate, send, undelegate, vote, withdrawRewards, type TxMsg } from "../tx";
import { ErrorNote, Field, NeedWallet, Pager, TxButton, useAsync, usePages } from "../ui";

export function NetworkPage() {
  return (
    <section>
      <h1>Network</h1>
      <Account />
      <Validators />
      <Proposals />
      <Blocks />
    </section>
  );
}

function Blocks() {
  const { height } = useStore();
  const blocks = useAsync(async () => {
    if (!height) return [];
    const hs = Array.from({ length: Math.min(8, height) }, (_, i) => height - i);
    return Promise.all(hs.map((h) => get(`/cosmos/base/tendermint/v1beta1/blocks/${h}`).then((b) => b.sdk_block?.header ?? b.block?.header)));
  }, [height]);
  return (
    <section class="card" aria-labelledby="blocks">
      <h2 id="blocks">Latest blocks</h2>
      <ErrorNote error={blocks.error} />
      <table class="list" data-testid="block-list">
        <thead>
          <tr>
            <th>Height</th>
            <th>Time</th>
            <th>Proposer</th>
          </tr>
        </thead>
        <tbody>
          {(blocks.data ?? []).map((h: any) => (
            <tr key={h.height}>
              <td>{h.height}</td>
              <td>{new Date(h.time).toLocaleTimeString()}</td>
              <td>
                <code title={h.proposer_address}>{short(h.proposer_address, 14, 6)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Account() {
  const { wallet, height } = useStore();
  const [to, setTo] = useState("");
  const [amount, setAmount] = useState("");
  const data = useAsync(async () => {
    if (!wallet) return undefined;
    const a = wallet.address;
    const [balances, delegations, rewards, unbonding, txs] = await Promise.all([
      get(`/cosmos/bank/v1beta1/balances/${a}`),
      get(`/cosmos/staking/v1beta1/delegations/${a}`).catch(() => ({ delegation_responses: [] })),
      get(`/cosmos/distribution/v1beta1/delegators/${a}/rewards`).catch(() => ({ total: [] })),
      get(`/cosmos/staking/v1beta1/delegators/${a}/unbonding_delegations`).catch(() => ({ unbonding_responses: [] })),
      get("/cosmos/tx/v1beta1/txs", { events: `message.sender='${a}'`, order_by: "ORDER_BY_DESC", limit: 10, page: 1 }).catch(() => ({ tx_responses: [] })),
    ]);
    return { balances, delegations, rewards, unbonding, txs };
  }, [wallet?.address, Math.floor(height / 3)]);
  const buildSend = (): TxMsg[] | string => {
    if (!wallet) return "Connect a wallet first.";
    const bad = checkAddress(to);
    if (bad) return `Recipient: ${bad}`;
    let micro: string;
    try {
      micro = toMicro(amount);
    } catch (e) {
      return `Amount: ${(e as Error).message}`;
    }
    if (micro === "0") return "Amount: send more than 0.";
    const bal = data.data?.balances?.balances?.find((b: any) => b.denom === "uopen")?.amount ?? "0";
    if (BigInt(micro) > BigInt(bal)) return `Amount: ${fmtOpen(micro)} is more than your balance of ${fmtOpen(bal)}.`;
    return [send(wallet.address, to.trim(), micro)];
  };
  return (
    <section class="card" aria-labelledby="account">
      <h2 id="account">Your account</h2>
      <NeedWallet what="see your balances and txs">
        <ErrorNote error={data.error} />
        <dl class="facts">
          <dt>Address</dt>
          <dd>
            <code>{wallet?.address}</code>
          </dd>
          <dt>Balances</dt>
          <dd data-testid="balances">{(data.data?.balances?.balances ?? []).map((b: any) => fmtCoin(b)).join(", ") || "none"}</dd>
          <dt>Delegated</dt>
          <dd data-testid="delegations">
            {(data.data?.delegations?.delegation_responses ?? []).map((d: any) => `${fmtCoin(d.balance)} to ${short(d.delegation.validator_address, 14, 6)}`).join("; ") || "nothing"}
          </dd>
          <dt>Unbonding</dt>
          <dd data-testid="unbonding">
            {(data.data?.unbonding?.unbonding_responses ?? [])
              .flatMap((u: any) => u.entries.map((e: any) => `${fmtOpen(e.balance)} from ${short(u.validator_address, 14, 6)} until ${new Date(e.completion_time).toLocaleString()}`))
              .join("; ") || "nothing"}
          </dd>
          <dt>Rewards</dt>
          <dd>{(data.data?.rewards?.total ?? []).map((c: any) => fmtOpen(String(c.amount).split(".")[0])).join(", ") || "none"}</dd>
        </dl>
        <h3>Send</h3>
        <form class="grid" onSubmit={(e) => e.preventDefault()}>
          <Field label="Recipient" id="send-to">
            <input id="send-to" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} placeholder="open1…" autoComplete="off" />
          </Field>
          <Field label="Amount (OPEN)" id="send-amount">
            <input id="send-amount" inputMode="decimal" value={amount} onInput={(e) => setAmount((e.target as HTMLInputElement).value)} />
          </Field>
          <TxButton id="send" label="Send" build={buildSend} onDone={data.reload} />
        </form>
        <h3>Recent txs</h3>
        <table class="list" data-testid="tx-list">
          <thead>
            <tr>
              <th>Height</th>
              <th>Hash</th>
              <th>Messages</th>
              <th>Result</th>
            </tr>
          </thead>
          <tbody>
            {(data.data?.txs?.tx_responses ?? []).map((t: any) => (
              <tr key={t.txhash}>
                <td>{t.height}</td>
                <td>
                  <code title={t.txhash}>{short(t.txhash, 8, 8)}</code>
                </td>
                <td>{(t.tx?.body?.messages ?? []).map((m: any) => String(m["@type"]).split(".").pop()).join(", ")}</td>
                <td>{Number(t.code) === 0 ? "ok" : `failed (${t.codespace} ${t.code})`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </NeedWallet>
    </section>
  );
}

function Validators() {
  const { wallet, height } = useStore();
  const pages = usePages();
  const vals = useAsync(() => page<any>("/cosmos/staking/v1beta1/validators", "validators", pages.key, 50), [pages.key, Math.floor(height / 5)]);
  const [amounts, setAmounts] = useState<Record<string, string>>({});
  const amountFor = (v: string) => amounts[v] ?? "";
  const make = (val: string, kind: "delegate" | "undelegate"): (() => TxMsg[] | string) => () => {
    if (!wallet) return "Connect a wallet first.";
    let micro: string;
    try {
      micro = toMicro(amountFor(val));
    } catch (e) {
      return `Amount: ${(e as Error).message}`;
    }
    if (micro === "0") return "Amount: more than 0, please.";
    return [kind === "delegate" ? delegate(wallet.address, val, micro) : undelegate(wallet.address, val, micro)];
  };
  const checkBalance = async (val: string) => {
    if (!wallet) return;
    try {
      const micro = BigInt(toMicro(amountFor(val)));
      const bal = await balanceOf(wallet.address);
      return micro > bal ? `${fmtOpen(micro)} is more than your balance of ${fmtOpen(bal)}` : "";
    } catch {
      return "";
    }
  };
  const [warn, setWarn] = useState<Record<string, string>>({});
  return (
    <section class="card" aria-labelledby="validators">
      <h2 id="validators">Validators</h2>
      <ErrorNote error={vals.error} />
      <table class="list" data-testid="validator-list">
        <thead>
          <tr>
            <th>Moniker</th>
            <th>Operator</th>
            <th>Status</th>
            <th>Stake</th>
            <th>Commission</th>
            {wallet ? <th>Stake with it</th> : null}
          </tr>
        </thead>
        <tbody>
          {(vals.data?.items ?? []).map((v) => (
            <tr key={v.operator_address} data-testid={`validator-${v.operator_address}`}>
              <td>
                {v.description?.moniker || "—"}
                {v.jailed ? <span class="badge warn">jailed</span> : null}
              </td>
              <td>
                <code title={v.operator_address}>{short(v.operator_address, 14, 6)}</code>
              </td>
              <td>{enumLabel(v.status, "BOND_STATUS_")}</td>
              <td data-testid="validator-tokens">{fmtOpen(v.tokens)}</td>
              <td>{(Number(v.commission?.commission_rates?.rate ?? 0) * 100).toFixed(1)} %</td>
              {wallet ? (
                <td>
                  <div class="stake">
                    <label class="sr-only" for={`amount-${v.operator_address}`}>
                      Amount in OPEN for {v.description?.moniker}
                    </label>
                    <input
                      id={`amount-${v.operator_address}`}
                      inputMode="decimal"
                      placeholder="OPEN"
                      value={amountFor(v.operator_address)}
                      data-testid="stake-amount"
                      onInput={async (e) => {
                        setAmounts({ ...amounts, [v.operator_address]: (e.target as HTMLInputElement).value });
                      }}
                      onBlur={async () => setWarn({ ...warn, [v.operator_address]: (await checkBalance(v.operator_address)) ?? "" })}
                    />
                    <TxButton id="delegate" label="Delegate" build={make(v.operator_address, "delegate")} onDone={vals.reload} />
                    <TxButton id="undelegate" class="secondary" label="Undelegate" build={make(v.operator_address, "undelegate")} onDone={vals.reload} />
                    <TxButton id="claim" class="secondary" label="Claim rewards" build={() => (wallet ? [withdrawRewards(wallet.address, v.operator_address)] : "Connect a wallet first.")} />
                    {warn[v.operator_address] ? <span class="error">{warn[v.operator_address]}</span> : null}
                  </div>
                </td>
              ) : null}
            </tr>
          ))}
        </tbody>
      </table>
      <Pager hasPrev={pages.hasPrev} hasNext={!!vals.data?.nextKey} onPrev={pages.prev} onNext={() => pages.next(vals.data?.nextKey ?? null)} />
    </section>
  );
}

const OPTIONS: [number, string][] = [
  [1, "Yes"],
  [3, "No"],
  [2, "Abstain"],
  [4, "No with veto"],
];

function Proposals() {
  const { wallet, height } = useStore();
  const pages = usePages();
  const props = useAsync(() => page<any>("/cosmos/gov/v1/proposals", "proposals", pages.key, 10), [pages.key, Math.floor(height / 3)]);
  return (
    <section class="card" aria-labelledby="proposals">
      <h2 id="proposals">Governance proposals</h2>
      <ErrorNote error={props.error} />
      {(props.data?.items ?? []).length === 0 && !props.loading ? <p>No proposals yet.</p> : null}
      <ul class="proposals">
        {(props.data?.items ?? []).map((p) => (
          <li key={p.id} class="proposal" data-testid={`proposal-${p.id}`}>
            <h3>
              #{p.id} {p.title || "(untitled)"} <span class="badge">{enumLabel(p.status, "PROPOSAL_STATUS_")}</span>
            </h3>
            <p>{p.summary}</p>
            <p class="hint">
              {(p.messages ?? []).map((m: any) => m["@type"]).join(", ")} · voting ends {p.voting_end_time ? new Date(p.voting_end_time).toLocaleString() : "—"}
            </p>
            <Tally id={p.id} />
            {p.status === "PROPOSAL_STATUS_VOTING_PERIOD" ? (
              <NeedWallet what="vote">
                <div class="vote" role="group" aria-label={`Vote on proposal ${p.id}`}>
                  {OPTIONS.map(([opt, label]) => (
                    <TxButton id={`vote-${p.id}-${label.toLowerCase().replace(/ /g, "-")}`} class="secondary" label={label} build={() => (wallet ? [vote(wallet.address, p.id, opt)] : "Connect a wallet first.")} onDone={props.reload} />
                  ))}
                </div>
              </NeedWallet>
            ) : null}
          </li>
        ))}
      </ul>
      <Pager hasPrev={pages.hasPrev} hasNext={!!props.data?.nextKey} onPrev={pages.prev} onNext={() => pages.next(props.data?.nextKey ?? null)} />
    </section>
  );
}

function Tally({ id }: { id: string }) {
  const { height } = useStore();
  const t = useAsync(() => get(`/cosmos/gov/v1/proposals/${id}/tally`).then((r) => r.tally), [id, Math.floor(height / 3)]);
  if (!t.data) return null;
  return (
    <p class="tally" data-testid={`tally-${id}`}>
      yes {fmtOpen(t.data.yes_count)} · no {fmtOpen(t.data.no_count)} · abstain {fmtOpen(t.data.abstain_count)} · veto {fmtOpen(t.data.no_with_veto_count)}
    </p>
  );
}
