import type { AllowanceProduct } from '@flexgate/shared';
import { HOUR_MS } from './time';

/** Flex lets a user work offline for at most a day after the last contact; no setting goes past it. */
export const MAX_OFFLINE_HOURS = 24;

/**
 * One product an allowance lists, as the gateway keeps it: `until` (an instant) when it is listed
 * for a day already paid for (the claim `paid`), which ends then; absent for the claim `products`.
 */
export interface IssuedProduct extends AllowanceProduct {
  until?: string;
}

/** What the gateway issued: the row it keeps, and the claims it signed. */
export interface IssuedAllowance {
  id: string;
  autodeskId: string;
  issuedAt: string;
  expiresAt: string;
  launches: number;
  products: readonly IssuedProduct[];
}

/** When an allowance issued at `issuedAt` ends; null when the operator turned offline use off (0 hours). */
export function allowanceExpiry(issuedAt: Date, offlineHours: number): Date | null {
  const hours = Math.min(offlineHours, MAX_OFFLINE_HOURS);
  return hours > 0 ? new Date(issuedAt.getTime() + hours * HOUR_MS) : null;
}

/** What a product the user may install says about launching it now (R16), with each Flex team's balance. */
export interface Installable {
  key: string;
  dailyRate: number;
  via: readonly ('subscription' | 'trial' | 'flex')[];
  teams: readonly string[];
}

/**
 * The products an allowance lists: those a launch would be granted right now. A subscription or
 * trial covers it whatever the team (team null); otherwise each team that grants it and could pay
 * a day of it (R4), so that the offline launch would have been paid for had the gateway been up.
 */
export function allowanceProducts(installable: readonly Installable[], balanceOf: (team: string) => number): AllowanceProduct[] {
  const out: AllowanceProduct[] = [];
  for (const p of installable) {
    if (p.via.includes('subscription') || p.via.includes('trial')) {
      out.push({ product: p.key, team: null });
      continue;
    }
    for (const team of p.teams) if (balanceOf(team) >= p.dailyRate) out.push({ product: p.key, team });
  }
  return out;
}

/** A product listed for a day already paid for, through a team, until that day's session ends. */
export interface PaidDay {
  product: string;
  team: string;
  until: Date;
}

/**
 * R7 offline: the products whose day is already paid (`paidUntil`: the end of the open session of
 * that product, null for none or one a close may still refund) through each team that grants them
 * but cannot pay another day. A relaunch through such a team costs nothing until the session ends,
 * whichever team paid; listed only until then, since past it the launch needs a day nobody can pay.
 */
export function paidDays(
  installable: readonly Installable[],
  balanceOf: (team: string) => number,
  paidUntil: (product: string) => Date | null,
): PaidDay[] {
  const out: PaidDay[] = [];
  for (const p of installable) {
    if (p.via.includes('subscription') || p.via.includes('trial')) continue;
    const poor = p.teams.filter((team) => balanceOf(team) < p.dailyRate);
    const until = poor.length > 0 ? paidUntil(p.key) : null;
    if (until) for (const team of poor) out.push({ product: p.key, team, until });
  }
  return out;
}

/** A provisional launch id names its allowance and its slot: `${allowanceId}.${n}`. */
export function parseProvisionalId(id: string): { allowanceId: string; slot: number } | null {
  const m = /^([A-Za-z0-9_-]+)\.(0|[1-9][0-9]{0,5})$/.exec(id);
  return m?.[1] && m[2] ? { allowanceId: m[1], slot: Number(m[2]) } : null;
}

export interface ReportedLaunch {
  autodeskId: string;
  product: string;
  team: string | undefined;
  provisionalId: string;
  launchedAt: Date;
}

export type ReportVerdict = { accepted: true } | { accepted: false; reason: string };

/**
 * Whether a provisional launch reported after an outage was made under an allowance this gateway
 * issued to this user: one of its slots, a product it listed, while it lasted. `allowance` is the
 * row the id names, if any. Anything else was granted by the client alone, and is refused.
 */
export function judgeReport(report: ReportedLaunch, allowance: IssuedAllowance | undefined): ReportVerdict {
  const refuse = (reason: string): ReportVerdict => ({ accepted: false, reason });
  const parsed = parseProvisionalId(report.provisionalId);
  const unknown = `The provisional launch ${report.provisionalId} was not made under an offline allowance this gateway issued to you.`;
  // Another user's allowance is as unknown as an invented one: nothing says it exists.
  if (!parsed || !allowance || allowance.id !== parsed.allowanceId || allowance.autodeskId !== report.autodeskId) return refuse(unknown);
  if (parsed.slot >= allowance.launches) {
    return refuse(
      `The offline allowance ${allowance.id} allows ${allowance.launches} provisional launches; ${report.provisionalId} is not one of them.`,
    );
  }
  const listed = allowance.products.filter((p) => p.product === report.product);
  if (listed.length === 0) return refuse(`The offline allowance ${allowance.id} does not list ${report.product}.`);
  const forTeam = report.team === undefined ? listed : listed.filter((p) => p.team === null || p.team === report.team);
  if (forTeam.length === 0) return refuse(`The offline allowance ${allowance.id} lists ${report.product} for another team.`);
  const at = report.launchedAt.getTime();
  if (at < Date.parse(allowance.issuedAt) || at >= Date.parse(allowance.expiresAt)) {
    return refuse(
      `The provisional launch ${report.provisionalId} is dated outside its offline allowance (${allowance.issuedAt} to ${allowance.expiresAt}).`,
    );
  }
  // A day already paid for was listed only until its session's end: a launch after it was the client's own.
  if (!forTeam.some((p) => p.until === undefined || at < Date.parse(p.until))) {
    const until = forTeam
      .map((p) => p.until ?? '')
      .sort()
      .at(-1);
    return refuse(
      `The offline allowance ${allowance.id} lists ${report.product} only for the day already paid for, until ${until}; ${report.provisionalId} is dated after it.`,
    );
  }
  return { accepted: true };
}
