// Splitting a contribution into rows: typed lines, or an uploaded JSONL / CSV / plain-text file,
// checked against the datanet's schema and limits before anything is signed.

export interface RowCheck {
  rows: string[];
  errors: string[];
  totalBytes: number;
}

export interface RowLimits {
  /** JSON schema: rows must be JSON objects with these fields. */
  json: boolean;
  requiredFields: string[];
  maxRowBytes: number;
  maxRows: number;
  maxTotalBytes: number;
}

const enc = new TextEncoder();

/** Parses one CSV line (RFC 4180 quotes; no embedded newlines). */
export function csvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Splits text into rows by its format (`jsonl`, `csv` or `text`: one row per non-empty line). */
export function splitRows(text: string, format: "jsonl" | "csv" | "text", json: boolean): { rows: string[]; errors: string[] } {
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  const errors: string[] = [];
  if (format === "csv") {
    const body = lines.filter((l) => l.trim() !== "");
    if (body.length < 2) return { rows: [], errors: ["a CSV file needs a header line and at least one row"] };
    const header = csvLine(body[0]).map((h) => h.trim());
    const rows: string[] = [];
    body.slice(1).forEach((line, i) => {
      const cells = csvLine(line);
      if (cells.length !== header.length) {
        errors.push(`CSV line ${i + 2}: ${cells.length} cells, the header has ${header.length}`);
        return;
      }
      if (json) {
        const obj: Record<string, string> = {};
        header.forEach((h, j) => (obj[h] = cells[j]));
        rows.push(JSON.stringify(obj));
      } else rows.push(cells.join(" "));
    });
    return { rows, errors };
  }
  const rows = lines.map((l) => (format === "jsonl" ? l.trim() : l.trimEnd())).filter((l) => l.trim() !== "");
  return { rows, errors };
}

/** Checks rows against the datanet (schema, sizes, counts). */
export function checkRows(rows: string[], limits: RowLimits): RowCheck {
  const errors: string[] = [];
  let totalBytes = 0;
  if (rows.length === 0) errors.push("there are no rows: empty lines are skipped, add at least one non-empty row");
  if (rows.length > limits.maxRows) errors.push(`${rows.length} rows: at most ${limits.maxRows} per contribution`);
  rows.forEach((row, i) => {
    const size = enc.encode(row).length;
    totalBytes += size;
    if (size > limits.maxRowBytes) errors.push(`row ${i + 1} is ${size} bytes: this datanet takes at most ${limits.maxRowBytes} bytes per row`);
    if (limits.json) {
      let value: unknown;
      try {
        value = JSON.parse(row);
      } catch {
        errors.push(`row ${i + 1} is not valid JSON`);
        return;
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        errors.push(`row ${i + 1} is not a JSON object`);
        return;
      }
      for (const f of limits.requiredFields) if (!(f in (value as object))) errors.push(`row ${i + 1} misses the required field "${f}"`);
    }
  });
  if (totalBytes > limits.maxTotalBytes) errors.push(`${totalBytes} bytes in all: one tx carries at most about ${limits.maxTotalBytes} bytes; split the file`);
  return { rows, errors: errors.slice(0, 12).concat(errors.length > 12 ? [`… and ${errors.length - 12} more problems`] : []), totalBytes };
}

export function formatOf(fileName: string): "jsonl" | "csv" | "text" {
  const n = fileName.toLowerCase();
  if (n.endsWith(".jsonl") || n.endsWith(".ndjson") || n.endsWith(".json")) return "jsonl";
  if (n.endsWith(".csv")) return "csv";
  return "text";
}
