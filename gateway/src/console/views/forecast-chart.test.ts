import type { ForecastResponse } from '@flexgate/shared';
import { jsx } from 'hono/jsx';
import { describe, expect, it } from 'vitest';
import { ForecastChart } from './forecast-chart';

const DAY = 86_400_000;
// The forecast's instant: 11 Jan 2026 at noon, so that 1 Jan 2027 is exactly 355 days on, 10 before the year's end.
const AT = Date.parse('2026-01-11T12:00:00Z');
const dayAt = (k: number) => new Date(AT + k * DAY).toISOString();

type Lot = ForecastResponse['lots'][number];
const lot = (id: string, expiresInDays: number, atRisk: number): Lot => ({
  id,
  remaining: 100,
  expiresAt: dayAt(expiresInDays),
  pricePerToken: null,
  used: 100 - atRisk,
  atRisk,
});

/** A year of 2 tokens a day from 500, and the lots given. */
function forecastOf(lots: Lot[], runsOutBy: ForecastResponse['runsOutBy'] = 'use'): ForecastResponse {
  return {
    team: 'tm_chart',
    at: dayAt(0),
    currency: 'USD',
    balance: 500,
    window: { from: '2025-12-14', to: '2026-01-11', days: 28, tokens: 56 },
    dailyBurn: 2,
    runsOutOn: dayAt(250).slice(0, 10),
    runsOutAt: dayAt(250),
    runsOutBy,
    smallestRate: null,
    stranded: 0,
    lots,
    atRisk: lots.reduce((s, l) => s + l.atRisk, 0),
    valueAtRisk: null,
    projection: Array.from({ length: 366 }, (_, k) => ({ day: dayAt(k).slice(0, 10), balance: Math.max(0, 500 - 2 * k) })),
  };
}

async function drawn(f: ForecastResponse): Promise<{ wide: string; compact: string }> {
  const html = String(await jsx(ForecastChart, { f }).toString());
  const [wide = '', compact = ''] = html.split('<svg').slice(1);
  return { wide, compact };
}

const months = (svg: string) =>
  [...svg.matchAll(/<text class="tick" x="[\d.]+" y="[\d.]+" text-anchor="middle">(\d+ [A-Z][a-z]{2})<\/text>/g)].map((m) => m[1]);
const expiries = (svg: string) =>
  [
    ...svg.matchAll(
      /<g data-testid="expiry"><line class="([^"]+)"[^>]*><title>([^<]+)<\/title><\/line>(?:<text[^>]*text-anchor="(\w+)">([^<]+)<\/text>)?/g,
    ),
  ].map((m) => [m[1], m[2], m[3] ?? null, m[4] ?? null]);

describe("the spend page's projection", () => {
  it('draws the balance as steps: it holds through each day and changes at the next day’s start', async () => {
    const { wide } = await drawn(forecastOf([]));
    const d = /<path class="projection" d="([^"]+)"/.exec(wide)?.[1] ?? '';
    expect(d).toMatch(/^M68\.0 [\d.]+( H[\d.]+ V[\d.]+){365}$/);
    // The first step: across day 0 at 500, down to 498 at day 1's start.
    const [, y0, x1, y1] = /^M[\d.]+ ([\d.]+) H([\d.]+) V([\d.]+)/.exec(d) ?? [];
    expect(Number(x1)).toBeGreaterThan(68);
    expect(Number(y1)).toBeGreaterThan(Number(y0));
  });

  it('names the first day of each month, none in the last ten days; every third month on a phone', async () => {
    const { wide, compact } = await drawn(forecastOf([]));
    expect(months(wide)).toEqual(['1 Feb', '1 Mar', '1 Apr', '1 May', '1 Jun', '1 Jul', '1 Aug', '1 Sep', '1 Oct', '1 Nov', '1 Dec']);
    expect(months(compact)).toEqual(['1 Feb', '1 May', '1 Aug', '1 Nov']);
  });

  it('marks each expiry in the year, orange with how many tokens it loses; one mark for lots that expire together; none past the year', async () => {
    const { wide } = await drawn(forecastOf([lot('a', 100, 40), lot('b', 200, 0), lot('c', 200, 5), lot('d', 360, 12), lot('e', 400, 30)]));
    expect(expiries(wide)).toEqual([
      ['expiry at-risk', `${dayAt(100).slice(0, 10)}: a lot expires, 40 tokens unused`, 'middle', '−40'],
      ['expiry at-risk', `${dayAt(200).slice(0, 10)}: a lot expires, 5 tokens unused`, 'middle', '−5'],
      // Near the right edge its figure ends at the line, inside the drawing.
      ['expiry at-risk', `${dayAt(360).slice(0, 10)}: a lot expires, 12 tokens unused`, 'end', '−12'],
    ]);
    const { wide: plain } = await drawn(forecastOf([lot('b', 200, 0)]));
    expect(expiries(plain)).toEqual([['expiry', `${dayAt(200).slice(0, 10)}: a lot expires`, null, null]]);
  });

  it('puts a dot on the day the burn takes the last token, and none when the tokens run out by expiring', async () => {
    const dot = (svg: string) => /<circle class="runs-out"[^>]*><title>([^<]+)<\/title>/.exec(svg)?.[1] ?? null;
    expect(dot((await drawn(forecastOf([], 'use'))).wide)).toBe(`Runs out on ${dayAt(250).slice(0, 10)}`);
    expect(dot((await drawn(forecastOf([], 'expiry'))).wide)).toBeNull();
  });
});
