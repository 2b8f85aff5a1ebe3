import type { MyUsageResponse, Product } from '@flexgate/shared';
import type { WhoAmI } from './client';
import type { SimulateSummary } from './simulate';
import type { LaunchResult } from './types';

export const EXIT = { ok: 0, error: 1, usage: 2, refused: 3, unreachable: 4, broken: 5 } as const;

export function exitCodeFor(result: LaunchResult): number {
  if (result.granted) return EXIT.ok;
  return result.code === 'gateway-unreachable' ? EXIT.unreachable : EXIT.refused;
}

/**
 * An instant in local time, as the person reading the terminal sees their clock
 * (e.g. "Dec 1, 2026, 1:39 PM"). The CLI and the demo both print instants with it, so they agree.
 */
export function formatInstant(instant: string | Date): string {
  const d = new Date(instant);
  return Number.isNaN(d.getTime()) ? String(instant) : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatLaunch(product: string, result: LaunchResult): string {
  if (!result.granted) {
    const tag = result.code === 'gateway-unreachable' ? 'Gateway unreachable' : `Refused (${result.code})`;
    return `${tag}: ${result.reason}`;
  }
  if (result.provisional) {
    return [
      `Provisional launch of ${product}: the gateway could not be reached.`,
      `  runs until:  ${formatInstant(result.expiresAt)}`,
      '  It will be reported, and charged once, on the next contact with the gateway.',
    ].join('\n');
  }
  // Names signed into the entitlement; the key and the id for entitlements that predate them.
  const productName = result.claims.productName ?? product;
  const team = result.team ? ` (team ${result.claims.teamName ?? result.team})` : '';
  const lines = [`Granted ${productName} by ${result.source}${team}${result.fromCache ? ', from the offline cache' : ''}.`];
  lines.push(`  tokens charged: ${result.charged}`);
  if (result.balance !== null) lines.push(`  balance:        ${result.balance} tokens`);
  if (result.sessionEnd) lines.push(`  session ends:   ${formatInstant(result.sessionEnd)}`);
  lines.push(`  valid offline until: ${formatInstant(result.expiresAt)}`);
  return lines.join('\n');
}

export function formatProducts(products: Product[]): string {
  if (products.length === 0) return 'No products.';
  const width = Math.max(...products.map((p) => p.key.length));
  return products
    .map((p) => `${p.key.padEnd(width)}  ${p.name ?? ''}${typeof p.dailyRate === 'number' ? `  (${p.dailyRate} tokens/day)` : ''}`)
    .join('\n');
}

/** `flexgate usage`: one line per day, product and team, then the total over the range. */
export function formatUsage(u: MyUsageResponse): string {
  const lastDay = new Date(Date.parse(u.to) - 1).toISOString().slice(0, 10);
  const head = `Your Flex use from ${u.from.slice(0, 10)} to ${lastDay} (UTC days):`;
  if (u.rows.length === 0) return `${head}\n  none.`;
  const product = Math.max(...u.rows.map((r) => r.productName.length));
  const team = Math.max(...u.rows.map((r) => r.teamName.length));
  const lines = u.rows.map(
    (r) =>
      `  ${r.day}  ${r.productName.padEnd(product)}  ${r.teamName.padEnd(team)}  ${String(r.tokens).padStart(5)} tokens  ${r.sessions} session${r.sessions === 1 ? '' : 's'}`,
  );
  return [head, ...lines, `  total: ${u.total.tokens} tokens, ${u.total.sessions} session${u.total.sessions === 1 ? '' : 's'}`].join('\n');
}

export function formatWhoAmI(me: WhoAmI): string {
  if (!me.signedIn) return `Not signed in to ${me.gatewayUrl} (cache ${me.cacheDir}).`;
  const lines = [
    `${me.autodeskId} on ${me.gatewayUrl}`,
    `  signed in:     ${formatInstant(me.signedInAt ?? '')}`,
    `  token expires: ${formatInstant(me.tokenExpiresAt ?? '')}`,
  ];
  for (const e of me.entitlements) {
    const product = e.productName && e.productName !== e.product ? `${e.productName} (${e.product})` : e.product;
    const team = e.team ? `, team ${e.teamName ?? e.team}` : '';
    lines.push(`  ${product}: ${e.source}${team}, usable offline until ${formatInstant(e.expiresAt)}`);
  }
  for (const p of me.provisional) lines.push(`  ${p.product}: provisional since ${formatInstant(p.launchedAt)}, not yet reported`);
  const offline = me.offlineAllowance;
  if (offline) {
    const products = [...new Set(offline.products.map((p) => p.product))].join(', ') || 'no products';
    lines.push(
      `  offline: ${products} until ${formatInstant(offline.expiresAt)}, ${offline.launchesLeft} of ${offline.launches} provisional launches left`,
    );
    for (const p of offline.paid)
      lines.push(`  offline: ${p.product} until ${formatInstant(p.until)}, the end of the day already paid for`);
  }
  return lines.join('\n');
}

export function formatSummary(s: SimulateSummary): string {
  const lines = [
    `${s.launches} launches by ${s.users} users in ${(s.durationMs / 1000).toFixed(1)} s (${s.launchesPerSec}/s)`,
    `  granted:        ${s.granted}${s.fromCache ? ` (${s.fromCache} from cache)` : ''}`,
    `  sources:        ${
      Object.entries(s.sources)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
    `  tokens charged: ${s.tokensCharged}`,
    `  refusals:       ${
      Object.entries(s.refusals)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none'
    }`,
    `  latency ms:     p50 ${s.latencyMs.p50}  p95 ${s.latencyMs.p95}  p99 ${s.latencyMs.p99}  max ${s.latencyMs.max}`,
  ];
  return lines.join('\n');
}

/** A progress bar redrawn in place on a terminal, or a line per tenth when piped. */
export function progressBar(stream: NodeJS.WriteStream): (done: number, total: number) => void {
  let lastTenth = -1;
  return (done, total) => {
    const ratio = total === 0 ? 1 : done / total;
    if (stream.isTTY) {
      const width = 30;
      const filled = Math.round(ratio * width);
      stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} ${Math.floor(ratio * 100)}%`);
      if (done === total) stream.write('\n');
      return;
    }
    const tenth = Math.floor(ratio * 10);
    if (tenth !== lastTenth) {
      lastTenth = tenth;
      stream.write(`${done}/${total} launches (${tenth * 10}%)\n`);
    }
  };
}
