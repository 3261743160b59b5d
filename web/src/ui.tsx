// Shared pieces: data loading hooks, the tx button + status line every action uses (signing,
// broadcast, included at height H with its hash, or the chain's error in words; a second click
// while one is in flight does nothing), pagination, and the router's links.

import type { ComponentChildren } from "preact";
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { fmtOpen, short } from "./format";
import { store, useStore } from "./store";
import { sendTx, TxFailure, type TxMsg, type TxPhase } from "./tx";

/** Loads `fn` when `deps` change (and when the node comes back); `reload` reloads. */
export function useAsync<T>(fn: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string; loading: boolean; reload: () => void } {
  const { epoch } = useStore();
  const [state, setState] = useState<{ data: T | undefined; error: string; loading: boolean }>({ data: undefined, error: "", loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    fn().then(
      (data) => live && setState({ data, error: "", loading: false }),
      (e) => live && setState((s) => ({ data: s.data, error: (e as Error).message || String(e), loading: false })),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick, epoch]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Calls `fn` every `ms` while mounted. */
export function useInterval(fn: () => void, ms: number | null) {
  const saved = useRef(fn);
  saved.current = fn;
  useEffect(() => {
    if (ms === null) return;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms]);
}

export function navigate(path: string) {
  const url = `/app${path}`;
  if (location.pathname + location.search !== url) history.pushState(null, "", url);
  window.dispatchEvent(new Event("openledger:navigate"));
  window.scrollTo(0, 0);
}

export function Link({ to, children, class: cls, ...rest }: { to: string; children: ComponentChildren; class?: string; [k: string]: unknown }) {
  return (
    <a
      href={`/app${to}`}
      class={cls}
      {...rest}
      onClick={(e) => {
        if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
        e.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}

export function TxStatus({ phase, id, attempt = 0 }: { phase: TxPhase; id?: string; attempt?: number }) {
  if (phase.phase === "idle") return <p class="tx-status" role="status" aria-live="polite" data-testid={id ?? "tx-status"} data-phase="idle" data-attempt={attempt} />;
  let text: ComponentChildren;
  switch (phase.phase) {
    case "simulating":
      text = "Checking the tx with the node (simulation)…";
      break;
    case "signing":
      text = `Waiting for your signature… fee ${fmtOpen(phase.fee)} for ${phase.gas.toLocaleString()} gas`;
      break;
    case "broadcasting":
      text = "Broadcasting…";
      break;
    case "pending":
      text = (
        <>
          Broadcast; waiting for a block… <code>{short(phase.hash, 8, 8)}</code>
        </>
      );
      break;
    case "included":
      text = (
        <>
          Included at height <strong data-testid="tx-height">{phase.height}</strong> · tx <code title={phase.hash} data-testid="tx-hash">{short(phase.hash, 8, 8)}</code>
        </>
      );
      break;
    case "failed":
      text = (
        <>
          <strong>Failed ({phase.stage}):</strong> {phase.message}
          {phase.hash ? (
            <>
              {" "}
              · tx <code title={phase.hash}>{short(phase.hash, 8, 8)}</code>
            </>
          ) : null}
          {phase.height ? <> at height {phase.height}</> : null}
        </>
      );
      break;
  }
  return (
    <p
      class={`tx-status tx-${phase.phase}`}
      role={phase.phase === "failed" ? "alert" : "status"}
      aria-live="polite"
      data-testid={id ?? "tx-status"}
      data-phase={phase.phase}
      data-attempt={attempt}
    >
      {text}
    </p>
  );
}

/**
 * A button that builds its messages (or returns a validation message), sends them and shows
 * the tx's status below it. While a tx is in flight, further clicks do nothing.
 */
export function TxButton({
  label,
  build,
  onDone,
  onStart,
  id,
  disabled,
  class: cls,
}: {
  label: string;
  build: () => TxMsg[] | string;
  onDone?: (included: Extract<TxPhase, { phase: "included" }>) => void;
  /** Called when a tx is about to be sent (after the form checks passed). */
  onStart?: () => void;
  id?: string;
  disabled?: boolean;
  class?: string;
}) {
  const { wallet, chain } = useStore();
  const [phase, setPhase] = useState<TxPhase>({ phase: "idle" });
  // Counts the clicks that did something (tests wait for the status of a given attempt).
  const [attempt, setAttempt] = useState(0);
  const busy = useRef(false);
  const inFlight = ["simulating", "signing", "broadcasting", "pending"].includes(phase.phase);
  const click = async (e: Event) => {
    e.preventDefault();
    if (busy.current) return; // double click: the first one is being sent
    setAttempt((a) => a + 1);
    if (!wallet || !chain) {
      setPhase({ phase: "failed", stage: "before signing", message: "Connect a wallet first." });
      return;
    }
    const built = build();
    if (typeof built === "string") {
      setPhase({ phase: "failed", stage: "before signing", message: built });
      return;
    }
    busy.current = true;
    onStart?.();
    try {
      const done = await sendTx(wallet, chain, built, setPhase);
      onDone?.(done);
    } catch (err) {
      if (!(err instanceof TxFailure)) setPhase({ phase: "failed", stage: "broadcast", message: (err as Error).message });
    } finally {
      busy.current = false;
    }
  };
  return (
    <div class="tx-action">
      <button type="submit" class={cls ?? "primary"} onClick={click} disabled={disabled || inFlight} aria-busy={inFlight} data-testid={id ? `${id}-button` : undefined}>
        {inFlight ? `${label}…` : label}
      </button>
      <TxStatus phase={phase} id={id ? `${id}-status` : undefined} attempt={attempt} />
    </div>
  );
}

export function Pager({ hasPrev, hasNext, onPrev, onNext, label }: { hasPrev: boolean; hasNext: boolean; onPrev: () => void; onNext: () => void; label?: string }) {
  if (!hasPrev && !hasNext) return null;
  return (
    <nav class="pager" aria-label={label ?? "pages"}>
      <button type="button" onClick={onPrev} disabled={!hasPrev}>
        ← Previous
      </button>
      <button type="button" onClick={onNext} disabled={!hasNext}>
        Next →
      </button>
    </nav>
  );
}

/** Key-based pagination state for a gateway list. */
export function usePages() {
  const [keys, setKeys] = useState<(string | null)[]>([null]);
  const key = keys[keys.length - 1];
  return {
    key,
    hasPrev: keys.length > 1,
    next: (nextKey: string | null) => nextKey && setKeys((k) => [...k, nextKey]),
    prev: () => setKeys((k) => (k.length > 1 ? k.slice(0, -1) : k)),
    reset: () => setKeys([null]),
  };
}

export function ErrorNote({ error }: { error: string }) {
  return error ? (
    <p class="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function NeedWallet({ children, what }: { children: ComponentChildren; what: string }) {
  const { wallet } = useStore();
  if (wallet) return <>{children}</>;
  return <p class="hint">Connect a wallet (top right) to {what}.</p>;
}

export function Field({ label, children, hint, id }: { label: string; children: ComponentChildren; hint?: string; id: string }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      {hint ? (
        <small id={`${id}-hint`} class="hint">
          {hint}
        </small>
      ) : null}
    </div>
  );
}

export const currentAddress = () => store.get().wallet?.address ?? "";
