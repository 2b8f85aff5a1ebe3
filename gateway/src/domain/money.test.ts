import { describe, expect, it } from 'vitest';
import { formatMoney, parseMoney } from './money';

describe('an amount as an admin types it', () => {
  it('reads whole and decimal amounts in minor units, at most the currency’s digits', () => {
    expect(parseMoney('1.25', 'USD')).toBe(125);
    expect(parseMoney('1.5', 'USD')).toBe(150);
    expect(parseMoney(' 12 ', 'USD')).toBe(1200);
    expect(parseMoney('0.07', 'EUR')).toBe(7);
    expect(parseMoney('150', 'JPY')).toBe(150);
    expect(parseMoney('1.234', 'KWD')).toBe(1234);
    expect(parseMoney('999999999999.99', 'USD')).toBe(99_999_999_999_999);
  });

  it('refuses what is not an amount: signs, grouping, too many digits, words', () => {
    for (const bad of ['', '-1', '+1', '1,000', '1.255', '1.', '.5', 'abc', '1e3', '1.5', '0x10']) {
      const currency = bad === '1.5' ? 'JPY' : 'USD';
      expect(parseMoney(bad, currency), `${bad} ${currency}`).toBeNull();
    }
  });

  it('reads back what it formats', () => {
    for (const minor of [0, 7, 125, 100_000]) expect(parseMoney(formatMoney(minor, 'USD').replace(/[$,]/g, ''), 'USD')).toBe(minor);
  });
});
