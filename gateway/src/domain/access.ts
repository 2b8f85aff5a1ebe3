/** What a team says about one member's Flex access (R12, R13). */
export interface MemberAccess {
  guest: boolean;
  allProducts: boolean;
  products: readonly string[];
}

/**
 * R12 + R13: own selection ∪ team defaults (defaults never for guests). "All products" covers
 * every catalog product, including those added later.
 */
export function flexProducts(member: MemberAccess, defaults: readonly string[], catalog: readonly string[]): string[] {
  if (member.allProducts) return [...catalog];
  const set = new Set(member.products);
  if (!member.guest) for (const p of defaults) set.add(p);
  return catalog.filter((p) => set.has(p));
}

export function hasFlexAccess(member: MemberAccess, defaults: readonly string[], product: string): boolean {
  if (member.allProducts) return true;
  if (member.products.includes(product)) return true;
  return !member.guest && defaults.includes(product);
}

/**
 * R11: a member is active once the invitation is accepted; before that, invited while the latest
 * invitation's 7 days run, expired after (or when none is outstanding).
 */
export function memberStatus(
  stored: 'active' | 'invited',
  invitationExpiresAt: string | undefined,
  now: Date,
): 'active' | 'invited' | 'expired' {
  if (stored === 'active') return 'active';
  return invitationExpiresAt !== undefined && Date.parse(invitationExpiresAt) > now.getTime() ? 'invited' : 'expired';
}
