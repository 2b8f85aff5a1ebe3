import { listProducts } from '../db/repos/catalog';
import { currentLicenses } from '../db/repos/licenses';
import { membershipFacts } from '../db/repos/members';
import { flexProducts } from '../domain/access';
import type { ServiceContext } from './context';

export interface InstallableProduct {
  key: string;
  name: string;
  dailyRate: number;
  /** How the user may run it: their own subscription or trial, or Flex through these teams. */
  via: ('subscription' | 'trial' | 'flex')[];
  teams: string[];
}

/** R16: the products a user may install, i.e. their effective access today. */
export async function myProducts(ctx: ServiceContext, autodeskId: string): Promise<InstallableProduct[]> {
  const nowIso = ctx.clock.now().toISOString();
  const [catalog, licenses, memberships] = await Promise.all([
    listProducts(ctx.db),
    currentLicenses(ctx.db, autodeskId, nowIso),
    membershipFacts(ctx.db, autodeskId, nowIso),
  ]);
  const keys = catalog.map((p) => p.key);
  const out: InstallableProduct[] = [];
  for (const p of catalog) {
    const via: InstallableProduct['via'] = [];
    const own = licenses.filter((l) => l.product === p.key && l.startsAt <= nowIso);
    if (own.some((l) => l.kind === 'subscription')) via.push('subscription');
    if (own.some((l) => l.kind === 'trial')) via.push('trial');
    const teams = memberships
      .filter((m) => m.status === 'active' && flexProducts(m, m.defaults, keys).includes(p.key))
      .map((m) => m.teamId);
    if (teams.length > 0) via.push('flex');
    if (via.length > 0) out.push({ key: p.key, name: p.name, dailyRate: p.dailyRate, via, teams });
  }
  return out;
}
