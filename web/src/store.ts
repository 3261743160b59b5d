// The app's small global state (node health, height, chain info, the connected wallet) with a
// Preact hook; pages keep their own data in component state and reload when `epoch` changes
// (after the node comes back) or when the height moves.

import { useEffect, useState } from "preact/hooks";
import type { Wallet } from "./wallet";

export interface ChainInfo {
  chainId: string;
  chainName: string;
  keplr: any;
  minGasPrice: number;
  denom: string;
  decimals: number;
  symbol: string;
}

export interface AppState {
  nodeDown: boolean;
  nodeDownReason: string;
  /** Bumped when the node comes back, so pages reload. */
  epoch: number;
  height: number;
  blockTime: string;
  chain: ChainInfo | null;
  wallet: Wallet | null;
  devAccountAvailable: boolean;
  walletError: string;
}

type Listener = (s: AppState) => void;

function createStore(initial: AppState) {
  let state = initial;
  const listeners = new Set<Listener>();
  return {
    get: () => state,
    set(patch: Partial<AppState>) {
      state = { ...state, ...patch };
      for (const l of listeners) l(state);
    },
    subscribe(l: Listener) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  };
}

export const store = createStore({
  nodeDown: false,
  nodeDownReason: "",
  epoch: 0,
  height: 0,
  blockTime: "",
  chain: null,
  wallet: null,
  devAccountAvailable: false,
  walletError: "",
});

/** The store's state, re-rendering on every change. */
export function useStore(): AppState {
  const [s, setS] = useState(store.get());
  useEffect(() => {
    const off = store.subscribe(setS);
    setS(store.get());
    return () => {
      off();
    };
  }, []);
  return s;
}
