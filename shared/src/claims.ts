/** What a signed entitlement says (R17). Both the gateway that signs and the client that verifies use it. */
export type AccessSource = 'subscription' | 'trial' | 'flex';

export const ENTITLEMENT_AUDIENCE = 'flexgate:entitlement';
export const ID_TOKEN_AUDIENCE = 'flexgate:user';
/** JOSE `typ` header values keep an ID token from passing as an entitlement and back. */
export const ENTITLEMENT_TYP = 'flexgate-entitlement+jwt';
export const ID_TOKEN_TYP = 'flexgate-id+jwt';
/** The one signature algorithm the gateway uses and clients accept. */
export const SIGNING_ALG = 'EdDSA';

/** R7a: a session closed within 5 minutes of opening is free. */
export const FREE_CLOSE_MS = 5 * 60_000;
/**
 * R7a: how long the entitlement of a session not yet settled lives: the free window, plus as long
 * again for the product to check in once it is over. A client that ends within the window, or
 * stops talking, keeps nothing that outlives it by more than that. The client reads an entitlement
 * that outlives it as a settled day.
 */
export const LEASE_MS = 2 * FREE_CLOSE_MS;

export interface EntitlementClaims {
  iss: string;
  aud: string;
  /** Autodesk ID (lower-cased e-mail). */
  sub: string;
  product: string;
  source: AccessSource;
  /** Team id for Flex access, null for a subscription or a trial. */
  team: string | null;
  /** Usage session id for Flex access, null otherwise. */
  sid: string | null;
  /** Display names, so that a product shows "Revit, team Demo Architects" even offline (absent in older entitlements). */
  productName?: string;
  teamName?: string | null;
  iat: number;
  exp: number;
  jti: string;
}

export interface IdTokenClaims {
  iss: string;
  aud: string;
  sub: string;
  iat: number;
  exp: number;
  jti: string;
  /** The sign-in (refresh-token family) this access token belongs to: signing out revokes it. */
  fam?: string;
  /**
   * The last revocation of the user (its sequence number, 0 for none) that this token's sign-in
   * came after: an operator's revocation of the user with a greater one ends it. Whole-second `iat`
   * cannot tell a sign-in just after a revocation from one just before.
   */
  rev?: number;
}

/**
 * An offline allowance: what the gateway lets a client grant on its own while it cannot be
 * reached. Its own `typ` and audience keep it from passing as an entitlement or an ID token.
 */
export const ALLOWANCE_TYP = 'flexgate-allowance+jwt';
export const ALLOWANCE_AUDIENCE = 'flexgate:offline-allowance';

/** One product an allowance lists: with the team that would pay for it (Flex), else null. */
export interface AllowanceProduct {
  product: string;
  team: string | null;
}

/**
 * A product whose day is already paid (its usage session is open, R7) through a team that cannot
 * pay another: a relaunch costs nothing until the session ends, and offline too, never past `until`
 * (NumericDate: the session's end). Apart from `products` so a client that does not know the bound
 * does not mistake it for a product it may launch all through the allowance.
 */
export interface AllowancePaidDay {
  product: string;
  team: string;
  until: number;
}

export interface AllowanceClaims {
  iss: string;
  aud: string;
  sub: string;
  /** The allowance id; a provisional launch under it is `${aid}.${n}`, n < launches. */
  aid: string;
  iat: number;
  /** At most 24 hours after `iat`: no provisional launch runs past it. */
  exp: number;
  products: AllowanceProduct[];
  /** Absent from allowances signed by a gateway that did not list paid days. */
  paid?: AllowancePaidDay[];
  launches: number;
}
