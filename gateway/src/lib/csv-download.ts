import type { Context } from 'hono';

/**
 * A report answers CSV when asked by `format=csv`, or, when no format is given, by an Accept that
 * prefers text/csv: named with a weight above 0 and not below JSON's (absent, JSON's is 0).
 */
export const wantsCsv = (c: Context, format: string | undefined): boolean =>
  format === 'csv' || (format === undefined && prefersCsv(c.req.header('accept') ?? ''));

export function prefersCsv(accept: string): boolean {
  const weight = (type: string) => {
    let best = 0;
    for (const part of accept.split(',')) {
      const [range = '', ...params] = part.split(';').map((p) => p.trim().toLowerCase());
      if (range !== type) continue;
      const q = params.find((p) => p.startsWith('q='));
      best = Math.max(best, q === undefined ? 1 : Number(q.slice(2)) || 0);
    }
    return best;
  };
  const csv = weight('text/csv');
  return csv > 0 && csv >= weight('application/json');
}

/** A CSV the browser saves as `filename` rather than shows. */
export const csvDownload = (c: Context, csv: string | Uint8Array<ArrayBuffer>, filename: string) =>
  c.body(csv, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"` });
