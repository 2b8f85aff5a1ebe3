/**
 * What a report must say, computed by the test from the ledger alone (R5 is the source of truth):
 * a refund counts on the day of the charge it reverses (R15, R7a), whenever it happened.
 */
export function usageFromLedger(entries: any[], by: 'day' | 'user' | 'product') {
  const chargedOn = new Map<string, string>(entries.filter((e) => e.kind === 'charge').map((e) => [e.sessionId, e.at.slice(0, 10)]));
  const out = new Map<string, { tokens: number; sessions: Set<string>; refunded: Set<string> }>();
  for (const e of entries) {
    if (e.kind !== 'charge' && e.kind !== 'refund') continue;
    const day = e.kind === 'refund' ? (chargedOn.get(e.sessionId) as string) : e.at.slice(0, 10);
    const key = by === 'day' ? day : by === 'user' ? e.autodeskId : e.product;
    const row = out.get(key) ?? { tokens: 0, sessions: new Set(), refunded: new Set() };
    row.tokens -= e.tokens;
    (e.kind === 'charge' ? row.sessions : row.refunded).add(e.sessionId);
    out.set(key, row);
  }
  return [...out.entries()]
    .map(([key, r]) => ({ key, tokens: r.tokens, sessions: r.sessions.size - r.refunded.size }))
    .filter((r) => r.tokens !== 0 || r.sessions !== 0)
    .sort((a, b) => (a.key < b.key ? -1 : 1));
}
