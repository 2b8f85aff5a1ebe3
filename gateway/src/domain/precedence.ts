import type { AccessSource, LaunchRefusalCode } from '@flexgate/shared';
import { hasFlexAccess, type MemberAccess } from './access';
import { isActive } from './time';

export interface LicenseFact {
  id: string;
  kind: 'subscription' | 'trial';
  /** The Autodesk ID that holds it: R10 counts only the signed-in one. */
  autodeskId: string;
  product: string;
  startsAt: string;
  endsAt: string;
}

export interface MembershipFact extends MemberAccess {
  teamId: string;
  teamName: string;
  /** `active`, `invited` (pending) or `expired` (invitation past its 7 days): R11. */
  status: 'active' | 'invited' | 'expired';
  defaults: readonly string[];
}

export interface AccessQuestion {
  autodeskId: string;
  /** The product asked for, and its catalog entry (null when the key is not in the catalog). */
  productKey: string;
  product: { key: string; name: string } | null;
  licenses: readonly LicenseFact[];
  /** The memberships to consider: the requested team's, or all the user's when none was named. */
  memberships: readonly MembershipFact[];
  requestedTeam: string | null;
  now: Date;
}

export type AccessDecision =
  | { granted: true; source: Exclude<AccessSource, 'flex'>; license: LicenseFact; productName: string; reason: string }
  | { granted: true; source: 'flex'; team: MembershipFact; productName: string; reason: string }
  | {
      granted: false;
      code: LaunchRefusalCode | 'invalid-request';
      rule: string;
      reason: string;
    };

/**
 * R9 precedence for one launch: the user's own active subscription, else their active trial,
 * else Flex through a team that grants the product. Pure: the same facts give the same answer,
 * which is what R18's "explain" shows an admin.
 */
export function decideAccess(q: AccessQuestion): AccessDecision {
  const { product, now } = q;
  if (!product) return { granted: false, code: 'unknown-product', rule: 'R9', reason: `No product "${q.productKey}" in the Flex catalog.` };
  // R10: only licenses held by the very Autodesk ID that signed in.
  const own = q.licenses.filter((l) => l.autodeskId === q.autodeskId && l.product === product.key && isActive(l, now));
  const subscription = own.find((l) => l.kind === 'subscription');
  if (subscription) {
    return {
      granted: true,
      source: 'subscription',
      license: subscription,
      productName: product.name,
      reason: `${q.autodeskId} has an active single-user subscription to ${product.name} until ${subscription.endsAt}; no tokens are used.`,
    };
  }
  const trial = own.find((l) => l.kind === 'trial');
  if (trial) {
    return {
      granted: true,
      source: 'trial',
      license: trial,
      productName: product.name,
      reason: `${q.autodeskId} is on a trial of ${product.name} until ${trial.endsAt}; no tokens are used.`,
    };
  }
  return decideFlex(q, product);
}

function decideFlex(q: AccessQuestion, product: { key: string; name: string }): AccessDecision {
  // Without a team named, a pending or expired invitation is not a team the user works in: the
  // active memberships choose, and the others speak only when there is no active one.
  const active = q.memberships.filter((m) => m.status === 'active');
  const ms = q.requestedTeam || active.length === 0 ? q.memberships : active;
  if (ms.length === 0) {
    return {
      granted: false,
      code: 'no-access',
      rule: 'R9',
      reason: q.requestedTeam
        ? `${q.autodeskId} is not a member of that team, and has no subscription or trial for ${product.name}.`
        : `${q.autodeskId} has no subscription or trial for ${product.name} and is not a member of any Flex team.`,
    };
  }
  if (ms.length > 1 && active.length === 0) {
    return {
      granted: false,
      code: 'invitation-pending',
      rule: 'R11',
      reason: `${q.autodeskId} has not accepted any of the invitations to ${ms.map((m) => m.teamName).join(', ')}; accept one from its e-mail first.`,
    };
  }
  if (ms.length > 1) {
    const teams = ms.map((m) => `${m.teamName} (${m.teamId})`).join(', ');
    return {
      granted: false,
      code: 'invalid-request',
      rule: 'R9',
      reason: `${q.autodeskId} is a member of several teams: ${teams}. Say which one with "team".`,
    };
  }
  const m = ms[0] as MembershipFact;
  if (m.status !== 'active') {
    return {
      granted: false,
      code: 'invitation-pending',
      rule: 'R11',
      reason:
        m.status === 'invited'
          ? `${q.autodeskId} has not yet accepted the invitation to team ${m.teamName}; accept it from the invitation e-mail first.`
          : `The invitation of ${q.autodeskId} to team ${m.teamName} expired after 7 days; ask a team admin to resend it.`,
    };
  }
  if (!hasFlexAccess(m, m.defaults, product.key)) {
    return {
      granted: false,
      code: 'no-access',
      rule: m.guest && m.defaults.includes(product.key) ? 'R13' : 'R12',
      reason:
        m.guest && m.defaults.includes(product.key)
          ? `${product.name} is one of team ${m.teamName}'s default products, but defaults never apply to guests; a team admin can assign it to ${q.autodeskId} directly.`
          : `Team ${m.teamName} does not give ${q.autodeskId} access to ${product.name} through Flex; a team admin can assign it.`,
    };
  }
  return {
    granted: true,
    source: 'flex',
    team: m,
    productName: product.name,
    reason: m.allProducts
      ? `${q.autodeskId} may use all products of team ${m.teamName} through Flex; each day of use costs tokens.`
      : m.products.includes(product.key)
        ? `Team ${m.teamName} assigned ${product.name} to ${q.autodeskId}; each day of use costs tokens.`
        : `${product.name} is one of team ${m.teamName}'s default products; each day of use costs tokens.`,
  };
}
