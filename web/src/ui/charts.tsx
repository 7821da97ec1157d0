// Hand-rolled SVG bar chart (no chart library: the bundle stays small).
import { useEffect, useRef, useState } from "react";

export type Point = { label: string; value: number };

/** Round axis ticks: a step of 1, 2 or 5 × 10^k (at least 1 for counts), at most five
 * intervals, from 0 to the first step at or above `max` — 0/10/20/…, never 13/25/38. */
export function niceTicks(max: number, integers: boolean): number[] {
  if (max <= 0) return [0, 1, 2, 3, 4];
  const rough = Math.max(max, integers ? 4 : 0) / 5;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  let step = [1, 2, 5, 10].map((s) => s * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  if (integers) step = Math.max(1, Math.ceil(step));
  const count = Math.max(1, Math.ceil(max / step - 1e-9));
  return Array.from({ length: count + 1 }, (_, i) => Number((i * step).toPrecision(12)));
}

const H = 200;

/** An axis label with as many decimals as the scale needs (no units: the caption has them). */
function tick(value: number, max: number): string {
  if (max >= 10 || Number.isInteger(value)) return Math.round(value).toLocaleString("en-US");
  return value.toLocaleString("en-US", { maximumSignificantDigits: 2 });
}

/** The element's width in CSS pixels, following resizes (charts draw at 1:1 scale). */
function useWidth<T extends HTMLElement>(fallback: number) {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(240, Math.round(entry.contentRect.width))));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}
const PAD = { top: 12, right: 8, bottom: 26, left: 44 };

export function BarChart({
  points,
  title,
  format = String,
  tone = "accent",
}: {
  points: Point[];
  title: string;
  format?: (value: number) => string;
  tone?: "accent" | "green" | "amber";
}) {
  const [active, setActive] = useState<number | null>(null);
  const [figure, W] = useWidth<HTMLElement>(640);
  const ticks = niceTicks(Math.max(0, ...points.map((p) => p.value)), points.every((p) => Number.isInteger(p.value)));
  const max = ticks[ticks.length - 1];
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(points.length, 1);
  const barW = Math.max(2, slot * 0.7);
  const labelEvery = Math.ceil(points.length / Math.max(2, Math.floor(plotW / 90)));
  const shown = active === null ? null : points[active];
  const total = points.reduce((sum, p) => sum + p.value, 0);

  return (
    <figure className={`chart chart-${tone}`} ref={figure}>
      <figcaption>
        <span>{title}</span>
        <span className="chart-readout" aria-live="polite">
          {shown ? `${shown.label}: ${format(shown.value)}` : `Total ${format(total)}`}
        </span>
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}, total ${format(total)}`} onMouseLeave={() => setActive(null)}>
        {ticks.map((t) => {
          const y = PAD.top + plotH - (t / max) * plotH;
          return (
            <g key={t}>
              <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} className="chart-grid" />
              <text x={PAD.left - 6} y={y + 4} textAnchor="end" className="chart-tick chart-tick-y">
                {tick(t, max)}
              </text>
            </g>
          );
        })}
        {points.map((p, i) => {
          const h = (p.value / max) * plotH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={p.label + i} onMouseEnter={() => setActive(i)}>
              <rect x={PAD.left + i * slot} y={PAD.top} width={slot} height={plotH} fill="transparent" />
              <rect
                x={x}
                y={PAD.top + plotH - h}
                width={barW}
                height={Math.max(h, p.value > 0 ? 1 : 0)}
                rx={Math.min(3, barW / 3)}
                className={`chart-bar ${active === i ? "chart-bar-active" : ""}`}
              >
                <title>{`${p.label}: ${format(p.value)}`}</title>
              </rect>
              {i % labelEvery === 0 && (
                <text x={PAD.left + i * slot + slot / 2} y={H - 8} textAnchor="middle" className="chart-tick">
                  {p.label}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <div className="sr-only">
        <table>
          <caption>{title}</caption>
          <tbody>
            {points.map((p, i) => (
              <tr key={i}>
                <th scope="row">{p.label}</th>
                <td>{format(p.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}

/** A labelled meter: used for spend, time, searches and pages against the budget. */
export function Meter({ label, value, max, format = String }: { label: string; value: number; max: number; format?: (n: number) => string }) {
  const ratio = max > 0 ? Math.min(1, value / max) : 0;
  return (
    <div className="meter">
      <div className="meter-head">
        <span>{label}</span>
        <span className="muted">
          {format(value)} / {format(max)}
        </span>
      </div>
      <div
        className={`meter-track ${ratio >= 0.9 ? "meter-hot" : ""}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={max}
        aria-valuenow={value}
      >
        <div className="meter-fill" style={{ width: `${ratio * 100}%` }} />
      </div>
    </div>
  );
}
