// Wallets: Keplr (window.keplr: experimentalSuggestChain with the chain info the node serves,
// enable, then Keplr's offline signer — direct, or amino when that is all it offers) and, on a
// local chain whose node serves it, the "local dev account" signed in the page from the dev
// mnemonic (/openledger/dev/account).

import type { OfflineDirectSigner, OfflineSigner } from "@cosmjs/proto-signing";
import type { OfflineAminoSigner } from "@cosmjs/amino";
import { getOptional } from "./api";
import { store, type ChainInfo } from "./store";

export interface Wallet {
  kind: "keplr" | "dev";
  label: string;
  address: string;
  pubkey: Uint8Array;
  signer: OfflineSigner;
}

export const isDirect = (s: OfflineSigner): s is OfflineDirectSigner => typeof (s as OfflineDirectSigner).signDirect === "function";
export const isAmino = (s: OfflineSigner): s is OfflineAminoSigner => typeof (s as OfflineAminoSigner).signAmino === "function";

export function hasKeplr(): boolean {
  return typeof (window as any).keplr === "object" && (window as any).keplr !== null;
}

export async function connectKeplr(chain: ChainInfo): Promise<Wallet> {
  const keplr = (window as any).keplr;
  if (!keplr) throw new Error("Keplr is not installed in this browser");
  await keplr.experimentalSuggestChain(chain.keplr);
  await keplr.enable(chain.chainId);
  const signer: OfflineSigner = keplr.getOfflineSigner ? keplr.getOfflineSigner(chain.chainId) : await keplr.getOfflineSignerAuto(chain.chainId);
  const [account] = await signer.getAccounts();
  if (!account) throw new Error("Keplr returned no account");
  let label = "Keplr";
  try {
    const key = await keplr.getKey(chain.chainId);
    if (key?.name) label = `Keplr · ${key.name}`;
  } catch {
    /* the name is cosmetic */
  }
  return { kind: "keplr", label, address: account.address, pubkey: account.pubkey, signer };
}

/** Whether the node serves the dev account (a local chain started with --serve-dev-account). */
export async function probeDevAccount(): Promise<boolean> {
  try {
    return (await getOptional("/openledger/dev/account")) !== undefined;
  } catch {
    return false;
  }
}

export async function connectDevAccount(prefix = "open"): Promise<Wallet> {
  const doc = await getOptional<{ address: string; mnemonic: string }>("/openledger/dev/account");
  if (!doc) throw new Error("this node does not serve a dev account (start it with --serve-dev-account; `make run` does)");
  // Loaded on demand: the HD wallet (BIP-39, secp256k1) is most of CosmJS's weight.
  const { DirectSecp256k1HdWallet } = await import("@cosmjs/proto-signing");
  const hd = await DirectSecp256k1HdWallet.fromMnemonic(doc.mnemonic, { prefix });
  const [account] = await hd.getAccounts();
  if (account.address !== doc.address) throw new Error(`the dev mnemonic derives ${account.address}, not ${doc.address}`);
  return { kind: "dev", label: "local dev account", address: account.address, pubkey: account.pubkey, signer: hd };
}

export function disconnect() {
  store.set({ wallet: null });
  try {
    localStorage.removeItem("openledger.wallet");
  } catch {
    /* private mode */
  }
}

export async function connect(kind: "keplr" | "dev") {
  const chain = store.get().chain;
  if (!chain) throw new Error("the chain info is not loaded yet");
  store.set({ walletError: "" });
  try {
    const wallet = kind === "keplr" ? await connectKeplr(chain) : await connectDevAccount();
    store.set({ wallet });
    try {
      localStorage.setItem("openledger.wallet", kind);
    } catch {
      /* private mode */
    }
  } catch (e) {
    store.set({ walletError: (e as Error).message });
    throw e;
  }
}

/** Reconnects the wallet used last time (after the chain info is loaded). */
export async function restoreWallet() {
  let kind: string | null = null;
  try {
    kind = localStorage.getItem("openledger.wallet");
  } catch {
    return;
  }
  if (kind === "dev" && store.get().devAccountAvailable) await connect("dev").catch(() => undefined);
  if (kind === "keplr" && hasKeplr()) await connect("keplr").catch(() => undefined);
}
