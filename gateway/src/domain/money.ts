/**
 * Money as whole minor units (cents) of one ISO 4217 currency. Prices are data (catalog and
 * purchases); arithmetic on them stays in integers, and a share of a sum rounds half up once.
 */

/** Minor units per major unit of `currency`: 2 for EUR and USD, 0 for JPY, 3 for KWD. */
export function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * `123456` EUR → `€1,234.56`: the major and minor parts are split in integers (no float ever
 * holds the amount), then grouped and given the currency's symbol as English writes it.
 */
export function formatMoney(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  const negative = minor < 0;
  const abs = BigInt(Math.abs(Math.trunc(minor)));
  const unit = 10n ** BigInt(digits);
  const major = (abs / unit).toLocaleString('en-US');
  const fraction = digits > 0 ? `.${(abs % unit).toString().padStart(digits, '0')}` : '';
  // The symbol and its place come from Intl, on a zero amount (no float is formatted).
  const template = new Intl.NumberFormat('en', { style: 'currency', currency, minimumFractionDigits: 0, maximumFractionDigits: 0 })
    .formatToParts(0)
    .map((p) => (p.type === 'integer' ? `${major}${fraction}` : p.type === 'minusSign' ? '' : p.value))
    .join('');
  return negative ? `-${template}` : template;
}

/** `123456` → `1234.56` for a spreadsheet cell: no symbol, no grouping, the currency's digits. */
export function plainMoney(minor: number, currency: string): string {
  const digits = minorDigits(currency);
  const abs = BigInt(Math.abs(Math.trunc(minor)));
  const unit = 10n ** BigInt(digits);
  const text = digits > 0 ? `${abs / unit}.${(abs % unit).toString().padStart(digits, '0')}` : `${abs}`;
  return minor < 0 ? `-${text}` : text;
}

/**
 * `1.25` USD → `125`: an amount as a person types it (no sign, no grouping, at most the currency's
 * digits after the point) in minor units, read as text so that no float ever holds it; null when
 * it is not one.
 */
export function parseMoney(text: string, currency: string): number | null {
  const digits = minorDigits(currency);
  const m = /^(\d{1,12})(?:\.(\d+))?$/.exec(text.trim());
  if (!m) return null;
  const fraction = m[2] ?? '';
  if (fraction.length > digits) return null;
  return Number(BigInt(m[1] ?? '0') * 10n ** BigInt(digits) + BigInt(fraction.padEnd(digits, '0') || '0'));
}

/** round(a × b / c) in integers, halves up, for a, b, c ≥ 0 and c > 0 (BigInt: a × b may pass 2^53). */
export function mulDivRound(a: number, b: number, c: number): number {
  const num = BigInt(a) * BigInt(b);
  const den = BigInt(c);
  return Number((2n * num + den) / (2n * den));
}
