import type { OfflineAllowanceResponse } from '@flexgate/shared';
import { dropAllowancesEndedBefore, findAllowance, insertAllowance } from '../db/repos/allowances';
import { balancesOf } from '../db/repos/lots';
import { findProvisional } from '../db/repos/sessions';
import { allowanceExpiry, allowanceProducts, judgeReport, parseProvisionalId, type ReportedLaunch } from '../domain/allowance';
import { conflict, DomainError } from '../domain/errors';
import { DAY_MS } from '../domain/time';
import { newId } from '../lib/ids';
import type { ServiceContext } from './context';
import { myProducts } from './downloads';

/** Past this, no report can name an allowance (a report comes at most 28 hours after its launch). */
const KEPT_AFTER_EXPIRY_MS = 2 * DAY_MS;

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * POST /v1/offline-allowance: what this user's client may grant on its own during an outage. The
 * products a launch would be granted now, until at most 24 hours from now, in a bounded number of
 * slots; signed, and kept so that a reported provisional launch can be checked against it. Not
 * charged: each provisional launch is, once, when it is reported.
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
  const products = allowanceProducts(installable, (team) => balances.get(team) ?? 0);
  const allowance = {
    id: newId('alw'),
    autodeskId,
    issuedAt: new Date(issuedMs).toISOString(),
    expiresAt: expiry.toISOString(),
    launches: ctx.config.offlineLaunches,
    products,
  };
  const jws = await ctx.keys.signAllowance({
    sub: autodeskId,
    aid: allowance.id,
    iat: seconds(issuedMs),
    exp: seconds(expiry.getTime()),
    products,
    launches: allowance.launches,
  });
  await dropAllowancesEndedBefore(ctx.db, autodeskId, new Date(now.getTime() - KEPT_AFTER_EXPIRY_MS).toISOString());
  await insertAllowance(ctx.db, { ...allowance, machine: machine ?? null });
  return { allowance: jws, ...allowance };
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
