import type { Context } from 'hono';

/** A report answers CSV when asked by `format=csv`, or by an Accept naming text/csv when no format is given. */
export const wantsCsv = (c: Context, format: string | undefined): boolean =>
  format === 'csv' || (format === undefined && /\btext\/csv\b/i.test(c.req.header('accept') ?? ''));

/** A CSV the browser saves as `filename` rather than shows. */
export const csvDownload = (c: Context, csv: string | Uint8Array<ArrayBuffer>, filename: string) =>
  c.body(csv, 200, { 'content-type': 'text/csv; charset=utf-8', 'content-disposition': `attachment; filename="${filename}"` });
