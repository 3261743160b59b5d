// The node's public REST (LCD) gateway, same origin as the app (openledgerd serves both):
// JSON GETs and POSTs with a timeout, the gateway's `{code, message}` errors as ApiError, and
// the node-health state behind the "node unreachable" banner.

import { store } from "./store";

/** Milliseconds before a request is abandoned. */
const TIMEOUT_MS = 15_000;

/** An error answered by the node (HTTP status + gRPC code + message) or a network failure. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: number | undefined,
    readonly network: boolean,
  ) {
    super(message);
  }
}

function markReachable(ok: boolean, why?: string) {
  const s = store.get();
  if (s.nodeDown !== !ok || (!ok && s.nodeDownReason !== why)) {
    store.set({ nodeDown: !ok, nodeDownReason: ok ? "" : why ?? "", epoch: ok && s.nodeDown ? s.epoch + 1 : s.epoch });
  }
}

async function request(method: string, path: string, body?: unknown, timeoutMs = TIMEOUT_MS): Promise<any> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), timeoutMs);
  let resp: Response;
  try {
    resp = await fetch(path, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: ctrl.signal,
    });
  } catch (e) {
    markReachable(false, "the node does not answer");
    throw new ApiError(`the node did not answer (${(e as Error).name === "AbortError" ? "timeout" : "connection failed"})`, 0, undefined, true);
  } finally {
    clearTimeout(timer);
  }
  const text = await resp.text();
  let json: any = undefined;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = undefined;
  }
  if (!resp.ok) {
    // 503: the REST server is up but CometBFT is not (or the node is restarting).
    if (resp.status === 503 || resp.status === 502) markReachable(false, "the node answers but its consensus engine does not");
    const message = json?.message ?? text.trim() ?? resp.statusText;
    throw new ApiError(message || `HTTP ${resp.status}`, resp.status, json?.code, false);
  }
  if (json === undefined) throw new ApiError(`invalid JSON from ${path}`, resp.status, undefined, false);
  return json;
}

/** GET a gateway path (query parameters appended). */
export function get<T = any>(path: string, params?: Record<string, string | number | boolean | undefined>): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) if (v !== undefined && v !== "") qs.set(k, String(v));
  const q = qs.toString();
  return request("GET", q ? `${path}?${q}` : path);
}

/** GET that maps 404 (not found) to `undefined`. */
export async function getOptional<T = any>(path: string): Promise<T | undefined> {
  try {
    return await get<T>(path);
  } catch (e) {
    if (e instanceof ApiError && (e.status === 404 || e.code === 5)) return undefined;
    throw e;
  }
}

/** POST JSON to a gateway path. */
export function post<T = any>(path: string, body: unknown): Promise<T> {
  return request("POST", path, body);
}

/** One page of a paginated gateway list (`pagination.key` → `next_key`). */
export interface Page<T> {
  items: T[];
  nextKey: string | null;
  total?: number;
}

export async function page<T>(path: string, field: string, key: string | null, limit = 20, extra?: Record<string, string>): Promise<Page<T>> {
  const params: Record<string, string> = { "pagination.limit": String(limit), "pagination.count_total": "true", ...extra };
  if (key) params["pagination.key"] = key;
  const r = await get(path, params);
  const total = r.pagination?.total ? Number(r.pagination.total) : undefined;
  return { items: (r[field] ?? []) as T[], nextKey: r.pagination?.next_key ?? null, total };
}

/** Polls the latest block every `ms` to keep `height` and `nodeDown` current. */
export function startHeartbeat(ms = 2000): () => void {
  let stopped = false;
  const beat = async () => {
    if (stopped) return;
    try {
      // A short timeout: a node that hangs shows the banner within seconds.
      const b = await request("GET", "/cosmos/base/tendermint/v1beta1/blocks/latest", undefined, Math.max(ms * 2, 3000));
      const h = Number(b.block?.header?.height ?? 0);
      markReachable(true);
      if (h !== store.get().height) store.set({ height: h, blockTime: b.block?.header?.time ?? "" });
    } catch {
      /* markReachable already recorded it */
    }
    if (!stopped) setTimeout(beat, ms);
  };
  beat();
  return () => {
    stopped = true;
  };
}
