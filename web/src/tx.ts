// Building, simulating, signing, broadcasting and following a tx through the REST gateway:
// account (number, sequence) → Simulate (gas; the chain's error before anything is signed) →
// fee = ceil(gas × 1.4) × minimum gas price → sign (direct, or amino for wallets that only
// offer it) → BroadcastTx (sync: CheckTx's verdict) → GetTx until the tx is in a block. Each
// step is reported to the caller, which shows it (TxStatus).

import { fromBase64, toBase64 } from "@cosmjs/encoding";
import type { StdFee, StdSignDoc } from "@cosmjs/amino";
import type { Any } from "cosmjs-types/google/protobuf/any";
import { authInfo, msgRequestInference, msgSendBytes, msgStakeBytes, msgVoteBytes, msgWithdrawBytes, secp256k1PubkeyAny, SIGN_MODE_DIRECT, SIGN_MODE_LEGACY_AMINO_JSON, txBody, txRaw, type ChatMessage } from "./proto";
import { ApiError, get, getOptional, post } from "./api";
import { DENOM } from "./format";
import type { ChainInfo } from "./store";
import { isAmino, isDirect, type Wallet } from "./wallet";

/** A message: its protobuf Any and, for wallets that sign amino only, its amino JSON. */
export interface TxMsg {
  any: Any;
  amino?: { type: string; value: Record<string, unknown> };
  /** What it does, in words ("Create datanet “x”"). */
  summary: string;
}

export type TxPhase =
  | { phase: "idle" }
  | { phase: "simulating" }
  | { phase: "signing"; fee: string; gas: number }
  | { phase: "broadcasting" }
  | { phase: "pending"; hash: string }
  | { phase: "included"; hash: string; height: number; events: TxEvent[] }
  | { phase: "failed"; stage: "before signing" | "signing" | "broadcast" | "in block"; message: string; hash?: string; height?: number };

export interface TxEvent {
  type: string;
  attributes: { key: string; value: string }[];
}

export class TxFailure extends Error {
  constructor(readonly phase: Extract<TxPhase, { phase: "failed" }>) {
    super(phase.message);
  }
}

const GAS_ADJUSTMENT = 1.4;
const POLL_MS = 400;
const INCLUSION_TIMEOUT_MS = 60_000;

/** The chain's error codes in plain words (the SDK's codespace `sdk`, and the chain's log). */
export function explain(codespace: string | undefined, code: number | undefined, log: string): string {
  const clean = (log || "")
    .replace(/^rpc error: code = \w+ desc = /, "")
    .replace(/failed to execute message; message index: \d+: /, "")
    .replace(/: key not found$/, "")
    .trim();
  if (!codespace || codespace === "sdk") {
    switch (code) {
      case 4:
        return `The signature was rejected: ${clean}`;
      case 5:
        return `Not enough funds: ${clean}`;
      case 7:
        return `Invalid address: ${clean}`;
      case 11:
        return `Out of gas: ${clean}`;
      case 13:
        return `The fee is below the chain's minimum: ${clean}`;
      case 18:
        return `Invalid request: ${clean}`;
      case 19:
        return "This tx is already in the mempool (it was sent once already).";
      case 22:
        return `Not found: ${clean}`;
      case 32:
        return `Account sequence mismatch (another tx from this account was in flight): ${clean}`;
    }
  }
  if (codespace === "inference" && code === 15) return `This model has no chat template: it takes one raw prompt, not a conversation (${clean})`;
  return clean || `error code ${code} (${codespace})`;
}

function simulationError(e: unknown): string {
  if (e instanceof ApiError) {
    // Simulate answers the chain's log, e.g. "…: insufficient funds: … [codespace sdk, code 5]".
    const m = /codespace[ =:]+(\w+)[^0-9]+(\d+)/.exec(e.message);
    return explain(m?.[1], m ? Number(m[2]) : undefined, e.message);
  }
  return (e as Error).message;
}

interface AccountInfo {
  accountNumber: string;
  sequence: string;
}

export async function accountInfo(address: string): Promise<AccountInfo | undefined> {
  const r = await getOptional(`/cosmos/auth/v1beta1/accounts/${address}`);
  if (!r?.account) return undefined;
  const a = r.account.base_account ?? r.account;
  return { accountNumber: String(a.account_number ?? "0"), sequence: String(a.sequence ?? "0") };
}

function bodyBytes(msgs: TxMsg[], memo: string): Uint8Array {
  return txBody(
    msgs.map((m) => m.any),
    memo,
  );
}

function rawTx(body: Uint8Array, auth: Uint8Array, signature: Uint8Array): string {
  return toBase64(txRaw(body, auth, [signature]));
}

/** The SDK's amino sign document (what @cosmjs/amino's makeSignDoc builds). */
function aminoSignDoc(msgs: { type: string; value: unknown }[], fee: StdFee, chainId: string, memo: string, accountNumber: string, sequence: string): StdSignDoc {
  return { chain_id: chainId, account_number: accountNumber, sequence, fee, msgs, memo } as StdSignDoc;
}

export function eventAttr(events: TxEvent[], type: string, key: string): string | undefined {
  for (const e of events) if (e.type === type) for (const a of e.attributes) if (a.key === key) return a.value;
  return undefined;
}

async function waitForTx(hash: string): Promise<{ height: number; code: number; codespace: string; log: string; events: TxEvent[] }> {
  const deadline = Date.now() + INCLUSION_TIMEOUT_MS;
  for (;;) {
    try {
      const r = await getOptional(`/cosmos/tx/v1beta1/txs/${hash}`);
      const t = r?.tx_response;
      if (t && Number(t.height) > 0) {
        return { height: Number(t.height), code: Number(t.code ?? 0), codespace: t.codespace ?? "", log: t.raw_log ?? "", events: t.events ?? [] };
      }
    } catch (e) {
      if (!(e instanceof ApiError) || !e.network) throw e;
    }
    if (Date.now() > deadline) throw new Error(`tx ${hash} was not included within ${INCLUSION_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/**
 * Simulates, signs, broadcasts and follows `msgs`; `onPhase` sees every step. Resolves with the
 * included tx; rejects with a TxFailure carrying the failed phase.
 */
export async function sendTx(wallet: Wallet, chain: ChainInfo, msgs: TxMsg[], onPhase: (p: TxPhase) => void, memo = ""): Promise<Extract<TxPhase, { phase: "included" }>> {
  const fail = (stage: Extract<TxPhase, { phase: "failed" }>["stage"], message: string, extra: { hash?: string; height?: number } = {}): never => {
    const p = { phase: "failed" as const, stage, message, ...extra };
    onPhase(p);
    throw new TxFailure(p);
  };
  onPhase({ phase: "simulating" });
  let account: AccountInfo | undefined;
  try {
    account = await accountInfo(wallet.address);
  } catch (e) {
    return fail("before signing", (e as Error).message);
  }
  if (!account) return fail("before signing", `Account ${wallet.address} does not exist on chain yet: it needs funds first.`);
  const pubkey = secp256k1PubkeyAny(wallet.pubkey);
  const body = bodyBytes(msgs, memo);
  const signer = wallet.signer;
  const direct = isDirect(signer);
  if (!direct && msgs.some((m) => !m.amino)) {
    return fail("before signing", "This wallet signs in amino mode only, which this action does not support; use a wallet with direct signing.");
  }
  const signMode = direct ? SIGN_MODE_DIRECT : SIGN_MODE_LEGACY_AMINO_JSON;
  let gasUsed: number;
  try {
    const simAuth = authInfo(pubkey, account.sequence, [], 0, signMode);
    const sim = await post("/cosmos/tx/v1beta1/simulate", { tx_bytes: rawTx(body, simAuth, new Uint8Array()) });
    gasUsed = Number(sim.gas_info?.gas_used ?? 0);
  } catch (e) {
    return fail("before signing", simulationError(e));
  }
  const gas = Math.ceil(gasUsed * GAS_ADJUSTMENT);
  const feeAmount = Math.ceil(gas * chain.minGasPrice).toString();
  onPhase({ phase: "signing", fee: feeAmount, gas });
  let txBytes: string;
  try {
    if (isDirect(signer)) {
      const auth = authInfo(pubkey, account.sequence, [{ denom: DENOM, amount: feeAmount }], gas, SIGN_MODE_DIRECT);
      const signDoc = { bodyBytes: body, authInfoBytes: auth, chainId: chain.chainId, accountNumber: BigInt(account.accountNumber) };
      const { signed, signature } = await signer.signDirect(wallet.address, signDoc);
      txBytes = rawTx(signed.bodyBytes, signed.authInfoBytes, fromBase64(signature.signature));
    } else if (isAmino(signer)) {
      const fee: StdFee = { amount: [{ denom: DENOM, amount: feeAmount }], gas: String(gas) };
      const doc = aminoSignDoc(
        msgs.map((m) => m.amino!),
        fee,
        chain.chainId,
        memo,
        account.accountNumber,
        account.sequence,
      );
      const { signed, signature } = await signer.signAmino(wallet.address, doc);
      const auth = authInfo(pubkey, signed.sequence, [...signed.fee.amount], Number(signed.fee.gas), SIGN_MODE_LEGACY_AMINO_JSON);
      txBytes = rawTx(bodyBytes(msgs, signed.memo), auth, fromBase64(signature.signature));
    } else {
      return fail("signing", "the wallet offers no signer");
    }
  } catch (e) {
    const msg = (e as Error).message || String(e);
    return fail("signing", /reject|denied|cancel/i.test(msg) ? `Signing was declined in the wallet: ${msg}` : `Signing failed: ${msg}`);
  }
  onPhase({ phase: "broadcasting" });
  let hash: string;
  try {
    const r = await post("/cosmos/tx/v1beta1/txs", { tx_bytes: txBytes, mode: "BROADCAST_MODE_SYNC" });
    const t = r.tx_response ?? {};
    hash = t.txhash;
    if (Number(t.code ?? 0) !== 0) return fail("broadcast", explain(t.codespace, Number(t.code), t.raw_log ?? ""), { hash });
  } catch (e) {
    if (e instanceof TxFailure) throw e;
    return fail("broadcast", (e as Error).message);
  }
  onPhase({ phase: "pending", hash });
  try {
    const r = await waitForTx(hash);
    if (r.code !== 0) return fail("in block", explain(r.codespace, r.code, r.log), { hash, height: r.height });
    const done = { phase: "included" as const, hash, height: r.height, events: r.events };
    onPhase(done);
    return done;
  } catch (e) {
    if (e instanceof TxFailure) throw e;
    return fail("in block", (e as Error).message, { hash });
  }
}

// --- The Cosmos SDK messages the app sends (with their amino forms, as Keplr signs them). ---

const c = (amount: string) => ({ denom: DENOM, amount });

export function send(from: string, to: string, amount: string): TxMsg {
  return {
    any: { typeUrl: "/cosmos.bank.v1beta1.MsgSend", value: msgSendBytes(from, to, c(amount)) },
    amino: { type: "cosmos-sdk/MsgSend", value: { from_address: from, to_address: to, amount: [c(amount)] } },
    summary: "Send",
  };
}

export function delegate(delegator: string, validator: string, amount: string): TxMsg {
  return {
    any: { typeUrl: "/cosmos.staking.v1beta1.MsgDelegate", value: msgStakeBytes(delegator, validator, c(amount)) },
    amino: { type: "cosmos-sdk/MsgDelegate", value: { delegator_address: delegator, validator_address: validator, amount: c(amount) } },
    summary: "Delegate",
  };
}

export function undelegate(delegator: string, validator: string, amount: string): TxMsg {
  return {
    any: { typeUrl: "/cosmos.staking.v1beta1.MsgUndelegate", value: msgStakeBytes(delegator, validator, c(amount)) },
    amino: { type: "cosmos-sdk/MsgUndelegate", value: { delegator_address: delegator, validator_address: validator, amount: c(amount) } },
    summary: "Undelegate",
  };
}

export function withdrawRewards(delegator: string, validator: string): TxMsg {
  return {
    any: { typeUrl: "/cosmos.distribution.v1beta1.MsgWithdrawDelegatorReward", value: msgWithdrawBytes(delegator, validator) },
    amino: { type: "cosmos-sdk/MsgWithdrawDelegationReward", value: { delegator_address: delegator, validator_address: validator } },
    summary: "Claim rewards",
  };
}

/** v1beta1 MsgVote, as Keplr sends it. option: 1 yes, 2 abstain, 3 no, 4 no with veto. */
export function vote(voter: string, proposalId: string, option: number): TxMsg {
  return {
    any: { typeUrl: "/cosmos.gov.v1beta1.MsgVote", value: msgVoteBytes(proposalId, voter, option) },
    amino: { type: "cosmos-sdk/MsgVote", value: { option, proposal_id: proposalId, voter } },
    summary: "Vote",
  };
}

/**
 * OpenLedger's amino JSON rule (the inference module's `amino`): zero values are omitted — ""
 * strings, "0" for ids (keys ending in `_id`; free text such as a prompt "0" is kept), 0, null,
 * empty arrays — and keys are sorted.
 */
function aminoFields(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields).sort()) {
    const v = fields[k];
    if (v === undefined || v === null || v === "" || (v === "0" && k.endsWith("_id")) || v === 0 || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * openledger.inference.v1.MsgRequestInference with its amino form ("openledger/MsgRequestInference",
 * what an amino-only wallet signs): a raw prompt, or a conversation in `messages` (prompt "").
 */
export function requestInference(requester: string, baseModelId: string, adapterId: string, prompt: string, maxTokens: number, fee: string, messages: ChatMessage[] = []): TxMsg {
  return {
    any: msgRequestInference(requester, baseModelId, adapterId, prompt, maxTokens, c(fee), messages),
    amino: {
      type: "openledger/MsgRequestInference",
      value: aminoFields({
        adapter_id: adapterId,
        base_model_id: baseModelId,
        fee: { amount: fee, denom: DENOM },
        max_tokens: maxTokens,
        messages: messages.map((m) => aminoFields({ content: m.content, role: m.role })),
        prompt,
        requester,
      }),
    },
    summary: messages.length ? "Ask (conversation)" : "Ask",
  };
}

/** The wallet's balance in uopen. */
export async function balanceOf(address: string): Promise<bigint> {
  const r = await get(`/cosmos/bank/v1beta1/balances/${address}/by_denom`, { denom: DENOM });
  return BigInt(r.balance?.amount ?? "0");
}
