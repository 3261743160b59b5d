// Amounts (uopen ↔ OPEN, exact in BigInt), short addresses and hashes, times.

export const DECIMALS = 6;
export const DENOM = "uopen";

/** "1.5" (OPEN) → "1500000" (uopen); throws a message for bad input. */
export function toMicro(text: string, decimals = DECIMALS): string {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$/.test(t)) throw new Error(`"${text}" is not an amount (use digits and an optional decimal point)`);
  const [int, frac = ""] = t.split(".");
  if (frac.length > decimals) throw new Error(`at most ${decimals} decimals`);
  const micro = BigInt(int) * 10n ** BigInt(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  return micro.toString();
}

/** "1500000" → "1.5 OPEN". */
export function fmtOpen(micro: string | number | bigint | undefined | null, symbol = "OPEN"): string {
  if (micro === undefined || micro === null || micro === "") return `0 ${symbol}`;
  let v: bigint;
  try {
    v = BigInt(typeof micro === "string" ? micro.split(".")[0] : micro);
  } catch {
    return `${micro}`;
  }
  const neg = v < 0n;
  if (neg) v = -v;
  const int = v / 10n ** BigInt(DECIMALS);
  const frac = (v % 10n ** BigInt(DECIMALS)).toString().padStart(DECIMALS, "0").replace(/0+$/, "");
  const intText = int.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return `${neg ? "-" : ""}${intText}${frac ? "." + frac : ""} ${symbol}`;
}

/** A Coin (`{denom, amount}`) or "123uopen" → "0.000123 OPEN"; other denoms as they are. */
export function fmtCoin(c: { denom: string; amount: string } | string | undefined | null): string {
  if (!c) return "—";
  if (typeof c === "string") {
    const m = /^(\d+)([a-z][a-z0-9/]*)$/.exec(c);
    if (!m) return c || "—";
    c = { amount: m[1], denom: m[2] };
  }
  return c.denom === DENOM ? fmtOpen(c.amount) : `${c.amount} ${c.denom}`;
}

export const short = (s: string | undefined, head = 10, tail = 6) => (!s ? "—" : s.length <= head + tail + 1 ? s : `${s.slice(0, head)}…${s.slice(-tail)}`);

/** base64 (the gateway's bytes) → hex. */
export function b64ToHex(b64: string | undefined | null): string {
  if (!b64) return "";
  try {
    const bin = atob(b64);
    let out = "";
    for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, "0");
    return out;
  } catch {
    return b64;
  }
}

/** base64 → UTF-8 text (rows are bytes on chain). */
export function b64ToText(b64: string | undefined | null): string {
  if (!b64) return "";
  try {
    const bin = atob(b64);
    const bytes = Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch {
    return "";
  }
}

export function enumLabel(v: string | undefined, prefix: string): string {
  if (!v) return "—";
  return v.replace(prefix, "").toLowerCase().replace(/_/g, " ");
}

/** Checks a bech32 account address's shape (prefix, charset, length); the chain checks the rest. */
export function checkAddress(addr: string, prefix = "open"): string | null {
  const a = addr.trim();
  if (!a) return "an address is required";
  if (!a.startsWith(prefix + "1")) return `an address starts with "${prefix}1"`;
  if (!/^[a-z0-9]+1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{38,90}$/.test(a)) return "this is not a valid address (wrong characters or length)";
  return null;
}
