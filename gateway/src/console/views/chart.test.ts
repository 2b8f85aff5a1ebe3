import { jsx } from 'hono/jsx';
import { describe, expect, it } from 'vitest';
import { UsageChart, valueAxis } from './chart';
import { ProductBars } from './usage-charts';

/** The chart as a page carries it: both drawings, the wide one first. */
async function drawn(days: { day: string; tokens: number }[]): Promise<{ wide: string; compact: string }> {
  const html = String(await jsx(UsageChart, { days }).toString());
  const [wide = '', compact = ''] = html.split('<svg').slice(1);
  return { wide, compact };
}

/** `n` consecutive days from 1 Jan 2026, with the tokens `at` gives each. */
const daysOf = (n: number, at: (i: number) => number = () => 0) =>
  Array.from({ length: n }, (_, i) => ({ day: new Date(Date.UTC(2026, 0, 1 + i)).toISOString().slice(0, 10), tokens: at(i) }));

/** The day labels under the bars (the value axis's labels are numbers): anchor and text. */
const labels = (svg: string) => [
  ...svg.matchAll(/<text class="tick" x="[\d.]+" y="[\d.]+" text-anchor="(middle|end)">(\d+ [A-Z][a-z]{2})<\/text>/g),
];

describe('the usage chart', () => {
  it('tops its value axis with a round step of 1, 2 or 5 times a power of ten, about four gridlines', () => {
    const axis = (max: number) => [valueAxis(max).top, valueAxis(max).ticks];
    expect(axis(0)).toEqual([1, [0, 1]]);
    expect(axis(4)).toEqual([4, [0, 1, 2, 3, 4]]);
    expect(axis(8)).toEqual([8, [0, 2, 4, 6, 8]]);
    expect(axis(9)).toEqual([10, [0, 5, 10]]);
    expect(axis(20)).toEqual([20, [0, 5, 10, 15, 20]]);
    expect(axis(21)).toEqual([30, [0, 10, 20, 30]]);
    expect(axis(40)).toEqual([40, [0, 10, 20, 30, 40]]);
    expect(axis(1250)).toEqual([1500, [0, 500, 1000, 1500]]);
  });

  it('labels the days at a regular step and always the last, which ends at its bar so that it stays inside the plot', async () => {
    // 30 days, every fifth labelled; 70 days, every sixth, the last step kept 3 days (half a step) before the end.
    const month = await drawn(daysOf(30));
    expect(labels(month.wide).map((m) => m[2])).toEqual(['1 Jan', '6 Jan', '11 Jan', '16 Jan', '21 Jan', '26 Jan', '30 Jan']);
    expect(labels(month.wide).map((m) => m[1])).toEqual(['middle', 'middle', 'middle', 'middle', 'middle', 'middle', 'end']);
    const seventy = await drawn(daysOf(70));
    expect(
      labels(seventy.wide)
        .map((m) => m[2])
        .slice(-3),
    ).toEqual(['2 Mar', '8 Mar', '11 Mar']);
    // A label closer than half a step to the last one is dropped: on a phone, every seventh day.
    expect(labels(month.compact).map((m) => m[2])).toEqual(['1 Jan', '8 Jan', '15 Jan', '22 Jan', '30 Jan']);
  });

  it('draws a bar only for a day with use, each titled with its day and tokens; the label sums the range', async () => {
    const { wide } = await drawn(daysOf(10, (i) => (i % 3 === 0 ? 7 * (i + 1) : 0)));
    expect([...wide.matchAll(/<title>(\d{4}-\d\d-\d\d: [^<]+)<\/title>/g)].map((m) => m[1])).toEqual([
      '2026-01-01: 7 tokens',
      '2026-01-04: 28 tokens',
      '2026-01-07: 49 tokens',
      '2026-01-10: 70 tokens',
    ]);
    expect(wide).toContain('aria-label="Tokens consumed per day from 2026-01-01 to 2026-01-10: 154 in all."');
    // The first day's label is centred under its bar; the last one ends where its bar ends.
    const bars = [...wide.matchAll(/<rect class="bar" x="([\d.]+)" y="[\d.]+" width="([\d.]+)"/g)].map(
      (m) => [Number(m[1]), Number(m[2])] as const,
    );
    const xs = [...wide.matchAll(/<text class="tick" x="([\d.]+)" y="[\d.]+" text-anchor="(?:middle|end)">\d+ Jan<\/text>/g)].map((m) =>
      Number(m[1]),
    );
    const [[firstX, firstW], [lastX, lastW]] = [bars[0] ?? [0, 0], bars.at(-1) ?? [0, 0]] as const;
    expect(xs[0]).toBeCloseTo(firstX + firstW / 2, 0);
    expect(xs.at(-1)).toBeCloseTo(lastX + lastW, 0);
  });
});

describe("the usage views' product bars", () => {
  it('writes a name of up to 20 characters whole beside its bar, and cuts a longer one to 19 and an ellipsis; the label keeps every name whole', async () => {
    const twenty = 'Structural Detailing'; // 20 characters
    const longer = 'Structural Detailing+';
    const svg = String(
      await jsx(ProductBars, {
        rows: [
          { name: twenty, tokens: 30 },
          { name: longer, tokens: 7 },
        ],
        caption: 'Tokens by product',
      }).toString(),
    );
    expect([...svg.matchAll(/<text class="tick"[^>]*text-anchor="end">([^<]+)<\/text>/g)].map((m) => m[1])).toEqual([
      twenty,
      'Structural Detailin…',
    ]);
    expect(svg).toContain(`aria-label="Tokens by product: ${twenty} 30, ${longer} 7."`);
  });
});
