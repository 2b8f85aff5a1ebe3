import type { FC } from 'hono/jsx';
import { num, shortDay, tokenCount } from './format';

/** A round step for about 4 gridlines: 1, 2, 5, 10, 20, 50... */
function niceStep(max: number): number {
  const rough = Math.max(1, max / 4);
  const pow = 10 ** Math.floor(Math.log10(rough));
  const m = rough / pow;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * pow;
}

/** The value axis of a chart up to `max`: its top (a whole number of steps) and its gridline values. */
export function valueAxis(max: number): { top: number; ticks: number[] } {
  const step = niceStep(max);
  const top = Math.max(step, Math.ceil(max / step) * step);
  return { top, ticks: Array.from({ length: Math.round(top / step) + 1 }, (_, i) => i * step) };
}

/** The horizontal gridlines with their values at the left, shared by every chart of the console. */
export const ValueGrid: FC<{ ticks: number[]; y: (v: number) => number; left: number; right: number }> = ({ ticks, y, left, right }) => (
  <>
    {ticks.map((v) => (
      <g>
        <line class="grid" x1={left} x2={right} y1={y(v)} y2={y(v)} />
        <text class="tick" x={left - 8} y={y(v) + 4} text-anchor="end">
          {num(v)}
        </text>
      </g>
    ))}
  </>
);

/**
 * Tokens consumed per day as an inline SVG bar chart with both axes labelled. Colours come from
 * presentation attributes and CSS classes (the CSP forbids inline styles).
 */
const Chart: FC<{ days: { day: string; tokens: number }[]; compact: boolean }> = ({ days, compact }) => {
  // Two drawings rather than one scaled one: text in an SVG scales with it, so a phone gets a
  // narrower drawing with fewer day labels and text that stays readable.
  const W = compact ? 380 : 960;
  const H = compact ? 240 : 280;
  const pad = compact ? { left: 44, right: 8, top: 12, bottom: 48 } : { left: 60, right: 12, top: 14, bottom: 52 };
  // About 12 day labels across (5 on a phone), however long the range.
  const every = Math.max(compact ? 7 : 5, Math.ceil(days.length / (compact ? 5 : 12)));
  const last = days.length - 1;
  const labelled = (i: number) => i === last || (i % every === 0 && last - i >= every / 2);
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const max = Math.max(0, ...days.map((d) => d.tokens));
  const { top, ticks } = valueAxis(max);
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (v: number) => pad.top + plotH - (v / top) * plotH;
  const total = days.reduce((s, d) => s + d.tokens, 0);
  const label = `Tokens consumed per day from ${days[0]?.day ?? ''} to ${days[days.length - 1]?.day ?? ''}: ${num(total)} in all.`;
  return (
    <svg
      class={compact ? 'chart compact' : 'chart wide'}
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-label={label}
      preserveAspectRatio="xMidYMid meet"
    >
      <title>{label}</title>
      <ValueGrid ticks={ticks} y={y} left={pad.left} right={W - pad.right} />
      {days.map((d, i) => {
        const x = pad.left + i * slot + (slot - barW) / 2;
        const h = (d.tokens / top) * plotH;
        return (
          <g>
            {d.tokens > 0 ? (
              <rect
                class="bar"
                x={x.toFixed(1)}
                y={y(d.tokens).toFixed(1)}
                width={barW.toFixed(1)}
                height={Math.max(1, h).toFixed(1)}
                rx="2"
              >
                <title>{`${d.day}: ${tokenCount(d.tokens)}`}</title>
              </rect>
            ) : null}
            {labelled(i) ? (
              <text
                class="tick"
                x={(i === last ? x + barW : x + barW / 2).toFixed(1)}
                y={pad.top + plotH + 18}
                text-anchor={i === last ? 'end' : 'middle'}
              >
                {shortDay(d.day)}
              </text>
            ) : null}
          </g>
        );
      })}
      <line class="axis" x1={pad.left} x2={W - pad.right} y1={pad.top + plotH} y2={pad.top + plotH} />
      <line class="axis" x1={pad.left} x2={pad.left} y1={pad.top} y2={pad.top + plotH} />
      <text class="axis-title" x={pad.left + plotW / 2} y={H - 8} text-anchor="middle">
        Day (UTC)
      </text>
      <text class="axis-title" x={12} y={pad.top + plotH / 2} text-anchor="middle" transform={`rotate(-90 12 ${pad.top + plotH / 2})`}>
        Tokens
      </text>
    </svg>
  );
};

/** Tokens consumed per day: the wide drawing on a desktop, the compact one on a phone (CSS picks). */
export const UsageChart: FC<{ days: { day: string; tokens: number }[] }> = ({ days }) => (
  <>
    <Chart days={days} compact={false} />
    <Chart days={days} compact={true} />
  </>
);
