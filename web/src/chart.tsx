// A small inline SVG line chart of a fine-tune's training loss per step (no chart library): axes
// with their labels, the loss line with its points, and the eval loss as a dashed line. It is one
// accessible image (role="img") whose label says where training is.

/** One optimizer step as the node streams it (/openledger/node/v1/training/{job_id}). */
export interface StepPoint {
  step: number;
  total_steps: number;
  /** null when the loss was not finite (JSON has no NaN). */
  loss: number | null;
  tokens: number;
  tokens_per_second: number;
  eta_seconds: number;
}

const W = 360;
const H = 170;
const PAD = { left: 46, right: 12, top: 10, bottom: 32 };
/** Above this many steps only the line is drawn, not a dot per step. */
const MAX_DOTS = 120;

const finite = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);

/** 3 significant digits, no exponent for everyday losses. */
export const fmtLoss = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));

export function chartLabel(steps: StepPoint[], evalLoss?: number | null): string {
  const last = steps[steps.length - 1];
  if (!last) return "Training loss per step: no step yet";
  const loss = finite(last.loss) ? last.loss.toFixed(4) : "not a number";
  return `Training loss per step: step ${last.step} of ${last.total_steps}, loss ${loss}${finite(evalLoss) ? `; eval loss ${evalLoss.toFixed(4)}` : ""}`;
}

export function LossChart({ steps, evalLoss, testid = "loss-chart" }: { steps: StepPoint[]; evalLoss?: number | null; testid?: string }) {
  const pts = steps.filter((s) => finite(s.loss)) as (StepPoint & { loss: number })[];
  const last = steps[steps.length - 1];
  const xMax = Math.max(last?.total_steps ?? 0, pts[pts.length - 1]?.step ?? 0, 1);
  const values = pts.map((p) => p.loss).concat(finite(evalLoss) ? [evalLoss] : []);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (hi - lo < 1e-6) {
    lo -= 0.5;
    hi += 0.5;
  }
  const margin = (hi - lo) * 0.06;
  lo = Math.max(0, lo - margin);
  hi += margin;
  const x = (step: number) => PAD.left + (step / xMax) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + ((hi - v) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const bottom = H - PAD.bottom;
  const line = pts.map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`).join(" ");
  const mid = (lo + hi) / 2;
  return (
    <svg class="loss-chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={chartLabel(steps, evalLoss)} data-testid={testid} data-points={pts.length}>
      <g class="axis">
        <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={bottom} />
        <line x1={PAD.left} y1={bottom} x2={W - PAD.right} y2={bottom} />
        {[hi, mid, lo].map((v) => (
          <>
            <line class="grid" x1={PAD.left} y1={y(v)} x2={W - PAD.right} y2={y(v)} />
            <text x={PAD.left - 4} y={y(v) + 3} text-anchor="end">
              {fmtLoss(v)}
            </text>
          </>
        ))}
        <text x={x(0)} y={bottom + 12} text-anchor="middle">
          0
        </text>
        <text x={x(xMax)} y={bottom + 12} text-anchor="end">
          {xMax}
        </text>
        <text class="title" x={(PAD.left + W - PAD.right) / 2} y={H - 4} text-anchor="middle">
          step
        </text>
        <text class="title" x={12} y={(PAD.top + bottom) / 2} text-anchor="middle" transform={`rotate(-90 12 ${(PAD.top + bottom) / 2})`}>
          loss
        </text>
      </g>
      {finite(evalLoss) ? (
        <g class="eval">
          <line x1={PAD.left} y1={y(evalLoss)} x2={W - PAD.right} y2={y(evalLoss)} />
          <text x={W - PAD.right - 2} y={y(evalLoss) - 3} text-anchor="end">
            eval {fmtLoss(evalLoss)}
          </text>
        </g>
      ) : null}
      {pts.length > 1 ? <polyline class="line" points={line} /> : null}
      {(pts.length <= MAX_DOTS ? pts : pts.slice(-1)).map((p) => (
        <circle class="pt" cx={x(p.step)} cy={y(p.loss)} r={2.5} />
      ))}
    </svg>
  );
}
