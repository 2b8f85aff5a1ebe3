import type { OfflineAllowanceResponse } from '@flexgate/shared';
import { dropAllowancesEndedBefore, findAllowance, insertAllowance } from '../db/repos/allowances';
import { balancesOf } from '../db/repos/lots';
import { findProvisional, sessionRowsOf, sessionStateOf } from '../db/repos/sessions';
import { allowanceExpiry, allowanceProducts, judgeReport, paidDays, parseProvisionalId, type ReportedLaunch } from '../domain/allowance';
import { conflict, DomainError } from '../domain/errors';
import { paidUntil } from '../domain/sessions';
import { DAY_MS } from '../domain/time';
import { newId } from '../lib/ids';
import type { ServiceContext } from './context';
import { type InstallableProduct, myProducts } from './downloads';
import { settleListed } from './sessions';

/** Past this, no report can name an allowance (a report comes at most 28 hours after its launch). */
const KEPT_AFTER_EXPIRY_MS = 2 * DAY_MS;

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * POST /v1/offline-allowance: what this user's client may grant on its own during an outage. The
 * products a launch would be granted now, until at most 24 hours from now (those whose day is
 * already paid, only until their session ends), in a bounded number of slots; signed, and kept so
 * that a reported provisional launch can be checked against it. Not charged: each provisional
 * launch is, once, when it is reported.
 */
export async function issueAllowance(
  ctx: ServiceContext,
  autodeskId: string,
  machine: string | undefined,
): Promise<OfflineAllowanceResponse> {
  const now = ctx.clock.now();
  // Whole seconds, as signed: the row and the JWS then say the same instants.
  const issuedMs = seconds(now.getTime()) * 1000;
  const expiry = allowanceExpiry(new Date(issuedMs), ctx.config.offlineHours);
  if (!expiry) throw new DomainError('offline-not-allowed', 'This gateway does not allow launches while it cannot be reached.');
  const installable = await myProducts(ctx, autodeskId);
  const balances = await balancesOf(
    ctx.db,
    installable.flatMap((p) => p.teams),
    now.toISOString(),
  );
  const balanceOf = (team: string) => balances.get(team) ?? 0;
  const products = allowanceProducts(installable, balanceOf);
  const paidEnds = await paidUntilOf(ctx, autodeskId, installable, balanceOf, now);
  // Whole seconds, as signed (a session's end may carry milliseconds): never later than the session.
  const paid = paidDays(installable, balanceOf, (product) => paidEnds.get(product) ?? null).map((d) => ({
    product: d.product,
    team: d.team,
    until: new Date(seconds(d.until.getTime()) * 1000).toISOString(),
  }));
  const allowance = {
    id: newId('alw'),
    autodeskId,
    issuedAt: new Date(issuedMs).toISOString(),
    expiresAt: expiry.toISOString(),
    launches: ctx.config.offlineLaunches,
    products,
    paid,
  };
  const jws = await ctx.keys.signAllowance({
    sub: autodeskId,
    aid: allowance.id,
    iat: seconds(issuedMs),
    exp: seconds(expiry.getTime()),
    products,
    paid: paid.map((d) => ({ ...d, until: seconds(Date.parse(d.until)) })),
    launches: allowance.launches,
  });
  await dropAllowancesEndedBefore(ctx.db, autodeskId, new Date(now.getTime() - KEPT_AFTER_EXPIRY_MS).toISOString());
  // One list in the row: a paid day is told from the rest by its `until`.
  await insertAllowance(ctx.db, { ...allowance, products: [...products, ...paid], machine: machine ?? null });
  return { allowance: jws, ...allowance };
}

/**
 * Until when each Flex product's open session is paid for (domain/sessions.ts `paidUntil`), read
 * only for products some team of the user's cannot pay a day of: for the others it changes nothing.
 */
async function paidUntilOf(
  ctx: ServiceContext,
  autodeskId: string,
  installable: readonly InstallableProduct[],
  balanceOf: (team: string) => number,
  now: Date,
): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  const wanted = installable.filter((p) => p.teams.some((team) => balanceOf(team) < p.dailyRate)).map((p) => p.key);
  if (wanted.length === 0) return out;
  const nowIso = now.toISOString();
  const rows = await sessionRowsOf(
    ctx.db,
    wanted.map((product) => ({ autodeskId, product })),
    nowIso,
  );
  for (const product of wanted) {
    const s = sessionStateOf(
      rows.filter((r) => r.product_key === product),
      nowIso,
    ).open;
    const until = s && paidUntil({ startsAt: s.starts_at, endsAt: s.ends_at, endedAt: s.ended_at, settledAt: s.settled_at }, now);
    // Settled before it is signed as paid, or not listed: a refund after the listing would leave it unpaid.
    if (until && (await settleListed(ctx, s, now))) out.set(product, until);
  }
  return out;
}

/**
 * A provisional launch is charged only under an allowance this gateway issued to this user
 * (domain/allowance.ts `judgeReport`); a slot already reported for another product is a conflict,
 * not a second product for the price of the first.
 */
export async function acceptReport(ctx: ServiceContext, report: ReportedLaunch): Promise<void> {
  const parsed = parseProvisionalId(report.provisionalId);
  const allowance = parsed ? await findAllowance(ctx.db, parsed.allowanceId) : undefined;
  const verdict = judgeReport(report, allowance);
  if (!verdict.accepted) throw new DomainError('offline-not-allowed', verdict.reason);
  const earlier = await findProvisional(ctx.db, report.autodeskId, report.provisionalId);
  if (earlier && earlier.product_key !== report.product) {
    throw conflict(`The provisional launch ${report.provisionalId} was already reported for ${earlier.product_key}.`);
  }
}
