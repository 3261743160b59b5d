// Protobuf encoders, written with cosmjs-types' BinaryWriter: the tx envelope (TxBody, AuthInfo,
// TxRaw), the Cosmos SDK messages the app sends, and OpenLedger's own messages
// (proto/openledger/*/v1/tx.proto). Fields at their proto3 default are omitted, as every
// protobuf encoder does.

import { BinaryWriter } from "cosmjs-types/binary";
import type { Any } from "cosmjs-types/google/protobuf/any";

type Value = string | number | bigint | boolean | Uint8Array | undefined | null;
type FieldSpec =
  | [number, "string", string | undefined]
  | [number, "uint64" | "uint32" | "enum", number | bigint | string | undefined]
  | [number, "bool", boolean | undefined]
  | [number, "bytes", Uint8Array | undefined]
  | [number, "message", Uint8Array | undefined]
  | [number, "repeated_bytes", Uint8Array[]]
  | [number, "repeated_string", string[]]
  | [number, "repeated_message", Uint8Array[]];

/** Encodes a message from `[field number, kind, value]` triples. */
export function encode(fields: FieldSpec[]): Uint8Array {
  const w = BinaryWriter.create();
  for (const [num, kind, value] of fields) {
    const v = value as Value | Uint8Array[] | string[];
    switch (kind) {
      case "string":
        if (v) w.uint32((num << 3) | 2).string(v as string);
        break;
      case "uint64":
        if (v !== undefined && v !== null && BigInt(v as any) !== 0n) w.uint32(num << 3).uint64(BigInt(v as any));
        break;
      case "uint32":
      case "enum":
        if (v !== undefined && v !== null && Number(v) !== 0) w.uint32(num << 3).uint32(Number(v));
        break;
      case "bool":
        if (v) w.uint32(num << 3).bool(true);
        break;
      case "bytes":
      case "message":
        if (v !== undefined && v !== null) w.uint32((num << 3) | 2).bytes(v as Uint8Array);
        break;
      case "repeated_bytes":
      case "repeated_message":
        for (const item of v as Uint8Array[]) w.uint32((num << 3) | 2).bytes(item);
        break;
      case "repeated_string":
        for (const item of v as string[]) w.uint32((num << 3) | 2).string(item);
        break;
    }
  }
  return w.finish();
}

export interface CoinLike {
  denom: string;
  amount: string;
}

/** cosmos.base.v1beta1.Coin */
export const coin = (c: CoinLike | undefined) =>
  c && c.amount !== "" ? encode([[1, "string", c.denom], [2, "string", c.amount]]) : undefined;

export const any = (typeUrl: string, value: Uint8Array): Any => ({ typeUrl, value });

// --- cosmos.tx.v1beta1 and the SDK messages the app sends (so the bundle carries no generated
// cosmjs-types modules, which pull in all of tendermint's types) ---

export const SIGN_MODE_DIRECT = 1;
export const SIGN_MODE_LEGACY_AMINO_JSON = 127;

/** cosmos.crypto.secp256k1.PubKey in an Any. */
export const secp256k1PubkeyAny = (pubkey: Uint8Array): Any => any("/cosmos.crypto.secp256k1.PubKey", encode([[1, "bytes", pubkey]]));

const anyBytes = (a: Any) => encode([[1, "string", a.typeUrl], [2, "bytes", a.value]]);

export const txBody = (messages: Any[], memo: string) => encode([[1, "repeated_message", messages.map(anyBytes)], [2, "string", memo]]);

export function authInfo(pubkey: Any, sequence: string, fee: CoinLike[], gasLimit: number, signMode: number): Uint8Array {
  const modeInfo = encode([[1, "message", encode([[1, "enum", signMode]])]]);
  const signerInfo = encode([[1, "message", anyBytes(pubkey)], [2, "message", modeInfo], [3, "uint64", sequence]]);
  const feeBytes = encode([[1, "repeated_message", fee.map((c) => coin(c)!)], [2, "uint64", gasLimit]]);
  return encode([[1, "repeated_message", [signerInfo]], [2, "message", feeBytes]]);
}

export const txRaw = (body: Uint8Array, auth: Uint8Array, signatures: Uint8Array[]) => encode([[1, "bytes", body], [2, "bytes", auth], [3, "repeated_bytes", signatures]]);

export const msgSendBytes = (from: string, to: string, amount: CoinLike) => encode([[1, "string", from], [2, "string", to], [3, "repeated_message", [coin(amount)!]]]);
/** MsgDelegate and MsgUndelegate share their fields. */
export const msgStakeBytes = (delegator: string, validator: string, amount: CoinLike) => encode([[1, "string", delegator], [2, "string", validator], [3, "message", coin(amount)]]);
export const msgWithdrawBytes = (delegator: string, validator: string) => encode([[1, "string", delegator], [2, "string", validator]]);
/** cosmos.gov.v1beta1.MsgVote */
export const msgVoteBytes = (proposalId: string, voter: string, option: number) => encode([[1, "uint64", proposalId], [2, "string", voter], [3, "enum", option]]);

// --- openledger.datanet.v1 ---
export const SchemaKind = { TEXT: 1, JSON: 2 } as const;
export const CurationMode = { OWNER_REVIEW: 1, CURATOR_VOTE: 2 } as const;

export interface CreateDatanet {
  owner: string;
  name: string;
  description: string;
  license: string;
  schemaKind: number;
  requiredFields: string[];
  curationMode: number;
  curators: { address: string; weight: number }[];
  contributionBond?: CoinLike;
  rejectBurnBps: number;
  maxRowBytes: number;
}

export function msgCreateDatanet(m: CreateDatanet): Any {
  const schema = encode([
    [1, "enum", m.schemaKind],
    [2, "repeated_string", m.requiredFields],
  ]);
  const policy = encode([
    [1, "enum", m.curationMode],
    [2, "repeated_message", m.curators.map((c) => encode([[1, "string", c.address], [2, "uint64", c.weight]]))],
    [3, "message", coin(m.contributionBond)],
    [4, "uint32", m.rejectBurnBps],
    [5, "uint64", m.maxRowBytes],
  ]);
  return any(
    "/openledger.datanet.v1.MsgCreateDatanet",
    encode([
      [1, "string", m.owner],
      [2, "string", m.name],
      [3, "string", m.description],
      [4, "string", m.license],
      [5, "message", schema],
      [6, "message", policy],
    ]),
  );
}

export function msgSubmitContribution(contributor: string, datanetId: string, rows: Uint8Array[], bond?: CoinLike): Any {
  return any(
    "/openledger.datanet.v1.MsgSubmitContribution",
    encode([
      [1, "string", contributor],
      [2, "uint64", datanetId],
      [3, "repeated_bytes", rows],
      [4, "message", coin(bond)],
    ]),
  );
}

export function msgReviewContribution(reviewer: string, datanetId: string, contributionId: string, accept: boolean, reason: string): Any {
  return any(
    "/openledger.datanet.v1.MsgReviewContribution",
    encode([
      [1, "string", reviewer],
      [2, "uint64", datanetId],
      [3, "uint64", contributionId],
      [4, "bool", accept],
      [5, "string", reason],
    ]),
  );
}

export function msgPublishVersion(owner: string, datanetId: string): Any {
  return any("/openledger.datanet.v1.MsgPublishVersion", encode([[1, "string", owner], [2, "uint64", datanetId]]));
}

// --- openledger.inference.v1 ---
/** openledger.executor.v1.ChatMessage: one turn of a conversation. */
export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export const chatMessageBytes = (m: ChatMessage) => encode([[1, "string", m.role], [2, "string", m.content]]);

/**
 * MsgRequestInference: a raw `prompt`, or (for a base model with a chat template) a conversation
 * in `messages` (field 7, oldest turn first) with the prompt empty; exactly one of them is set.
 */
export function msgRequestInference(requester: string, baseModelId: string, adapterId: string, prompt: string, maxTokens: number, fee: CoinLike, messages: ChatMessage[] = []): Any {
  return any(
    "/openledger.inference.v1.MsgRequestInference",
    encode([
      [1, "string", requester],
      [2, "uint64", baseModelId],
      [3, "uint64", adapterId],
      [4, "string", prompt],
      [5, "uint32", maxTokens],
      [6, "message", coin(fee)],
      [7, "repeated_message", messages.map(chatMessageBytes)],
    ]),
  );
}

// --- openledger.model.v1 ---
export function msgRegisterAdapter(
  owner: string,
  baseModelId: string,
  adapterHash: string,
  versions: { datanetId: string; version: string }[],
  trainingConfigHash: string,
  price?: CoinLike,
): Any {
  return any(
    "/openledger.model.v1.MsgRegisterAdapter",
    encode([
      [1, "string", owner],
      [2, "uint64", baseModelId],
      [3, "string", adapterHash],
      [4, "repeated_message", versions.map((v) => encode([[1, "uint64", v.datanetId], [2, "uint64", v.version]]))],
      [5, "string", trainingConfigHash],
      [6, "message", coin(price)],
    ]),
  );
}

export interface TrainConfig {
  rank: number;
  alpha: number;
  targetModules: string[];
  learningRateMicro: number;
  epochs: number;
  maxSteps: number;
  batchSize: number;
  seed: number;
  evalSplitBps: number;
  maxSeqLen: number;
}

/** openledger.model.v1.MsgCreateFineTuneJob (config: openledger.executor.v1.TrainConfig). */
export function msgCreateFineTuneJob(creator: string, baseModelId: string, datanetId: string, version: string, c: TrainConfig, fee: CoinLike): Any {
  const config = encode([
    [1, "uint32", c.rank],
    [2, "uint32", c.alpha],
    [3, "repeated_string", c.targetModules],
    [4, "uint32", c.learningRateMicro],
    [5, "uint32", c.epochs],
    [6, "uint32", c.maxSteps],
    [7, "uint32", c.batchSize],
    [8, "uint64", c.seed],
    [9, "uint32", c.evalSplitBps],
    [10, "uint32", c.maxSeqLen],
  ]);
  return any(
    "/openledger.model.v1.MsgCreateFineTuneJob",
    encode([
      [1, "string", creator],
      [2, "uint64", baseModelId],
      [3, "uint64", datanetId],
      [4, "uint64", version],
      [5, "message", config],
      [6, "message", coin(fee)],
    ]),
  );
}
