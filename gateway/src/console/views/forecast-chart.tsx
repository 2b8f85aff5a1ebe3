import type { ForecastResponse } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { DAY_MS } from '../../domain/time';
import { ValueGrid, valueAxis } from './chart';
import { num, shortDay, tokenCount } from './format';

/**
 * The projected balance over the coming year as an inline SVG line, each lot's expiry a dashed
 * line (solid orange when tokens expire unused, labelled with how many), the day it runs out a dot.
 * Colours come from CSS classes (the CSP forbids inline styles), as in chart.tsx.
 */
const Drawing: FC<{ f: ForecastResponse; compact: boolean }> = ({ f, compact }) => {
  const W = compact ? 380 : 960;
  const H = compact ? 250 : 300;
  const pad = compact ? { left: 52, right: 10, top: 24, bottom: 44 } : { left: 68, right: 16, top: 26, bottom: 48 };
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const points = f.projection;
  // Point k is the balance k days after the forecast's instant (days counted from then, not midnight).
  const start = Date.parse(f.at);
  const span = Math.max(1, points.length - 1);
  const max = Math.max(0, ...points.map((p) => p.balance));
  const { top, ticks } = valueAxis(max);
  const x = (dayIndex: number) => pad.left + (dayIndex / span) * plotW;
  const xAt = (iso: string) => x((Date.parse(iso) - start) / DAY_MS);
  const y = (v: number) => pad.top + plotH - (v / top) * plotH;
  // A step line: the balance holds through a day and changes at the next day's start.
  const line = points
    .map((p, i) => `${i === 0 ? 'M' : 'H'}${x(i).toFixed(1)}${i === 0 ? ` ${y(p.balance).toFixed(1)}` : ` V${y(p.balance).toFixed(1)}`}`)
    .join(' ');
  const area = `${line} V${y(0).toFixed(1)} H${x(0).toFixed(1)} Z`;
  const months = points.map((p, i) => ({ p, i })).filter(({ p, i }) => p.day.endsWith('-01') && i < span - 10);
  const monthsShown = compact ? months.filter((_, k) => k % 3 === 0) : months;
  const expiries = new Map<string, number>();
  for (const l of f.lots) expiries.set(l.expiresAt, (expiries.get(l.expiresAt) ?? 0) + l.atRisk);
  const runsOut = f.runsOutBy === 'use' ? f.runsOutAt : null;
  const label = `Projected balance from ${points[0]?.day ?? ''} to ${points.at(-1)?.day ?? ''} at ${tokenCount(f.dailyBurn)} a day: runs out on ${f.runsOutOn}; ${tokenCount(f.atRisk)} expire unused.`;
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
      <path class="projection-area" d={area} />
      <path class="projection" d={line} data-testid="projection" />
      {[...expiries.entries()].map(([at, atRisk]) => {
        const ex = xAt(at);
        if (ex < pad.left || ex > W - pad.right + 1) return null;
        const cls = atRisk > 0 ? 'expiry at-risk' : 'expiry';
        return (
          <g data-testid="expiry">
            <line class={cls} x1={ex.toFixed(1)} x2={ex.toFixed(1)} y1={pad.top} y2={pad.top + plotH}>
              <title>{`${at.slice(0, 10)}: a lot expires${atRisk > 0 ? `, ${tokenCount(atRisk)} unused` : ''}`}</title>
            </line>
            {atRisk > 0 ? (
              <text class="expiry-label at-risk" x={ex.toFixed(1)} y={pad.top - 8} text-anchor={ex > W - 80 ? 'end' : 'middle'}>
                {`−${num(atRisk)}`}
              </text>
            ) : null}
          </g>
        );
      })}
      {runsOut ? (
        <circle class="runs-out" cx={xAt(runsOut).toFixed(1)} cy={y(f.stranded).toFixed(1)} r="4">
          <title>{`Runs out on ${runsOut.slice(0, 10)}${f.stranded > 0 ? `: ${tokenCount(f.stranded)} left, less than a day of any product` : ''}`}</title>
        </circle>
      ) : null}
      {monthsShown.map(({ p, i }) => (
        <text class="tick" x={x(i).toFixed(1)} y={pad.top + plotH + 18} text-anchor="middle">
          {shortDay(p.day)}
        </text>
      ))}
      <line class="axis" x1={pad.left} x2={W - pad.right} y1={pad.top + plotH} y2={pad.top + plotH} />
      <line class="axis" x1={pad.left} x2={pad.left} y1={pad.top} y2={pad.top + plotH} />
      <text class="axis-title" x={pad.left + plotW / 2} y={H - 6} text-anchor="middle">
        Day (UTC)
      </text>
      <text class="axis-title" x={12} y={pad.top + plotH / 2} text-anchor="middle" transform={`rotate(-90 12 ${pad.top + plotH / 2})`}>
        Tokens
      </text>
    </svg>
  );
};

/** The projection: the wide drawing on a desktop, the compact one on a phone (CSS picks). */
export const ForecastChart: FC<{ f: ForecastResponse }> = ({ f }) => (
  <>
    <Drawing f={f} compact={false} />
    <Drawing f={f} compact={true} />
  </>
);
