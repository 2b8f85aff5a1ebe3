import type { FC } from 'hono/jsx';
import { num, shortDay } from './format';

/**
 * Charts of the usage views, server-rendered SVG like chart.tsx: colours from CSS classes (the CSP
 * forbids inline styles), each chart an image with a text alternative that says what it shows.
 */

/** Tokens per product as horizontal bars, the largest first; the label names every figure. */
export const ProductBars: FC<{ rows: { name: string; tokens: number }[]; caption: string }> = ({ rows, caption }) => {
  const W = 640;
  const bar = 22;
  const gap = 10;
  const labelW = 150;
  const valueW = 70;
  const H = rows.length * (bar + gap) + gap;
  const max = Math.max(1, ...rows.map((r) => r.tokens));
  const plot = W - labelW - valueW;
  const label = `${caption}: ${rows.map((r) => `${r.name} ${num(r.tokens)}`).join(', ')}.`;
  return (
    <svg class="chart hbars" viewBox={`0 0 ${W} ${H}`} role="img" aria-label={label} preserveAspectRatio="xMinYMin meet">
      <title>{label}</title>
      {rows.map((r, i) => {
        const y = gap + i * (bar + gap);
        const w = Math.max(2, (r.tokens / max) * plot);
        return (
          <g>
            <text class="tick" x={labelW - 8} y={y + bar / 2 + 4} text-anchor="end">
              {r.name.length > 20 ? `${r.name.slice(0, 19)}…` : r.name}
            </text>
            <rect class="bar" x={labelW} y={y} width={w.toFixed(1)} height={bar} rx="2" />
            <text class="tick" x={(labelW + w + 6).toFixed(1)} y={y + bar / 2 + 4}>
              {num(r.tokens)}
            </text>
          </g>
        );
      })}
    </svg>
  );
};

/** Days used in each week (0-7) as a strip of small bars, one per week, with the weeks named in words. */
export const WeekStrip: FC<{ weeks: string[]; perWeek: number[]; who: string }> = ({ weeks, perWeek, who }) => {
  const slot = 12;
  const H = 36;
  const W = Math.max(slot, weeks.length * slot);
  const used = weeks.map((w, i) => [w, perWeek[i] ?? 0] as const).filter(([, n]) => n > 0);
  const label =
    used.length === 0
      ? `${who} used no product in these weeks.`
      : `Days ${who} used a product, week by week: ${used.map(([w, n]) => `week of ${shortDay(w)}, ${n} day${n === 1 ? '' : 's'}`).join('; ')}.`;
  return (
    <svg class="weeks" viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={label}>
      <title>{label}</title>
      {/* Each week a grey column of 7 days, filled from the bottom by the days used. */}
      {perWeek.map((n, i) => {
        const h = (n / 7) * H;
        return (
          <g>
            <rect class="slot" x={i * slot + 1} y="0" width={slot - 2} height={H} rx="1" />
            {n > 0 ? <rect class="bar" x={i * slot + 1} y={(H - h).toFixed(1)} width={slot - 2} height={h.toFixed(1)} rx="1" /> : null}
          </g>
        );
      })}
    </svg>
  );
};
