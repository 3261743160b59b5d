// The OpenLedger app shell: chain info from the node, the wallet bar (Keplr, or the labelled
// local dev account), the "node unreachable" banner, and the router of the pages under /app.
// `performance.mark("openledger-interactive")` is set once the chain info is loaded and the
// first page is rendered (the browser test reads it).

import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { get, startHeartbeat } from "./api";
import { fmtOpen, short } from "./format";
import { store, useStore, type ChainInfo } from "./store";
import { balanceOf } from "./tx";
import { Link, useAsync } from "./ui";
import { connect, disconnect, hasKeplr, probeDevAccount, restoreWallet } from "./wallet";
import { DatanetsPage, DatanetPage } from "./pages/datanets";
import { PlaygroundPage } from "./pages/playground";
import { ModelsPage } from "./pages/models";
import { NetworkPage } from "./pages/network";
import { FactoryPage } from "./pages/factory";
import "./style.css";

async function loadChain(): Promise<ChainInfo> {
  const [keplr, fees] = await Promise.all([get("/openledger/keplr/chain-info.json"), get("/openledger/auth/v1/fee_params").catch(() => undefined)]);
  const currency = keplr.feeCurrencies?.[0] ?? {};
  const min = Number(fees?.params?.min_gas_price ?? currency.gasPriceStep?.low ?? 0.025);
  return {
    chainId: keplr.chainId,
    chainName: keplr.chainName,
    keplr,
    minGasPrice: min,
    denom: currency.coinMinimalDenom ?? "uopen",
    decimals: currency.coinDecimals ?? 6,
    symbol: currency.coinDenom ?? "OPEN",
  };
}

function useRoute(): string {
  const read = () => location.pathname.replace(/^\/app/, "") || "/";
  const [route, setRoute] = useState(read());
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener("popstate", on);
    window.addEventListener("openledger:navigate", on);
    return () => {
      window.removeEventListener("popstate", on);
      window.removeEventListener("openledger:navigate", on);
    };
  }, []);
  return route;
}

const NAV: [string, string][] = [
  ["/datanets", "Datanets"],
  ["/playground", "Playground"],
  ["/models", "Models"],
  ["/factory", "ModelFactory"],
  ["/network", "Network"],
];

function WalletBar() {
  const { wallet, devAccountAvailable, walletError, chain, height } = useStore();
  const [busy, setBusy] = useState(false);
  const balance = useAsync(() => (wallet ? balanceOf(wallet.address) : Promise.resolve(undefined)), [wallet?.address, Math.floor(height / 3)]);
  const go = (kind: "keplr" | "dev") => {
    if (busy) return;
    setBusy(true);
    connect(kind)
      .catch(() => undefined)
      .finally(() => setBusy(false));
  };
  if (wallet) {
    return (
      <div class="wallet" data-testid="wallet">
        {wallet.kind === "dev" ? (
          <span class="badge dev" title="Signs in this page with the node's dev mnemonic. Never use it on a real network.">
            local dev account
          </span>
        ) : (
          <span class="badge keplr">{wallet.label}</span>
        )}
        <code title={wallet.address} data-testid="wallet-address" data-address={wallet.address}>
          {short(wallet.address, 10, 6)}
        </code>
        <span class="balance" data-testid="wallet-balance">
          {balance.data !== undefined ? fmtOpen(balance.data) : "…"}
        </span>
        <button type="button" onClick={disconnect}>
          Disconnect
        </button>
      </div>
    );
  }
  return (
    <div class="wallet">
      {hasKeplr() ? (
        <button type="button" class="primary" disabled={!chain || busy} onClick={() => go("keplr")} data-testid="connect-keplr">
          Connect Keplr
        </button>
      ) : (
        <span class="hint">No Keplr in this browser.</span>
      )}
      {devAccountAvailable ? (
        <button type="button" disabled={!chain || busy} onClick={() => go("dev")} data-testid="connect-dev" title="Local chains only: signs in the page with the dev mnemonic the node serves.">
          Use local dev account
        </button>
      ) : null}
      {walletError ? (
        <span class="error" role="alert">
          {walletError}
        </span>
      ) : null}
    </div>
  );
}

function Banner() {
  const { nodeDown, nodeDownReason } = useStore();
  if (!nodeDown) return null;
  return (
    <div class="banner" role="alert" data-testid="node-banner">
      <strong>Node unreachable:</strong> {nodeDownReason}. Retrying every 2 seconds; this page recovers by itself when it is back.
    </div>
  );
}

function Page({ route }: { route: string }) {
  const parts = route.split("/").filter(Boolean);
  switch (parts[0] ?? "datanets") {
    case "datanets":
      return parts[1] ? <DatanetPage id={parts[1]} /> : <DatanetsPage />;
    case "playground":
      return <PlaygroundPage />;
    case "models":
      return <ModelsPage />;
    case "factory":
      return <FactoryPage />;
    case "network":
      return <NetworkPage />;
    default:
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No page at <code>{route}</code>. <Link to="/datanets">Go to Datanets</Link>.
          </p>
        </section>
      );
  }
}

function App() {
  const route = useRoute();
  const { chain, height } = useStore();
  const [error, setError] = useState("");
  useEffect(() => {
    const stop = startHeartbeat();
    let tries = 0;
    const boot = async () => {
      try {
        const [info, dev] = await Promise.all([loadChain(), probeDevAccount()]);
        store.set({ chain: info, devAccountAvailable: dev });
        setError("");
        await restoreWallet();
      } catch (e) {
        setError(`Cannot load the chain info: ${(e as Error).message}`);
        tries++;
        setTimeout(boot, Math.min(5000, 500 * tries));
      }
    };
    boot();
    return stop;
  }, []);
  useEffect(() => {
    if (chain && !performance.getEntriesByName("openledger-interactive").length) {
      requestAnimationFrame(() => {
        performance.mark("openledger-interactive");
        document.documentElement.dataset.ready = "1";
      });
    }
  }, [chain]);
  const section = "/" + (route.split("/").filter(Boolean)[0] ?? "datanets");
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link to="/datanets" class="brand">
          OpenLedger
        </Link>
        <nav aria-label="main">
          {NAV.map(([to, label]) => (
            <Link to={to} class={section === to ? "active" : ""} aria-current={section === to ? "page" : undefined}>
              {label}
            </Link>
          ))}
        </nav>
        <span class="chain" data-testid="chain">
          {chain ? chain.chainId : "…"} · height <span data-testid="height">{height || "…"}</span>
        </span>
        <WalletBar />
      </header>
      <Banner />
      <main id="main" tabIndex={-1}>
        {error ? (
          <p class="error" role="alert">
            {error}
          </p>
        ) : null}
        {chain ? <Page route={route} /> : <p>Loading the chain info…</p>}
      </main>
    </>
  );
}

const root = document.getElementById("root")!;
root.textContent = ""; // the "Loading…" placeholder of index.html
render(<App />, root);
