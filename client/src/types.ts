import type { AccessSource, EntitlementClaims, LaunchResponse, ProblemCode } from '@flexgate/shared';

/** Codes a refusal may carry: the contract's, plus what only the client can know. */
export type RefusalCode =
  | ProblemCode
  | 'gateway-unreachable'
  /** The gateway answered with an entitlement that failed verification (R17). */
  | 'invalid-entitlement'
  /** The gateway's key set is not signed by the root key the client trusts. */
  | 'untrusted-gateway'
  /** A running product lost the gateway and its entitlement ran out. */
  | 'entitlement-expired';

export interface VerifiedGrant {
  granted: true;
  provisional: false;
  source: AccessSource;
  /** Tokens charged by this very call (0 from the cache or for an already open session). */
  charged: number;
  /**
   * Team balance after the call; null unless Flex, when served from the cache, and when the user is
   * no longer an active member of the team that paid for the session.
   */
  balance: number | null;
  team: string | null;
  session: LaunchResponse['session'];
  /** When the usage session ends (Flex), else null. */
  sessionEnd: string | null;
  claims: EntitlementClaims;
  entitlement: string;
  /** When the entitlement stops being usable offline. */
  expiresAt: string;
  fromCache: boolean;
}

export interface ProvisionalGrant {
  granted: true;
  provisional: true;
  /** Unknown until the gateway is reached again. */
  source: null;
  charged: 0;
  balance: null;
  team: string | null;
  session: null;
  sessionEnd: null;
  claims: null;
  entitlement: null;
  expiresAt: string;
  fromCache: boolean;
  provisionalId: string;
  launchedAt: string;
}

export interface Refusal {
  granted: false;
  code: RefusalCode;
  /** A sentence for the person: the gateway's problem `detail`, or the client's own. */
  reason: string;
  status?: number;
  requestId?: string;
}

export type Grant = VerifiedGrant | ProvisionalGrant;
export type LaunchResult = Grant | Refusal;

export interface LaunchOptions {
  team?: string;
  machine?: string;
  /** Skip the offline cache and ask the gateway (still falls back to it when unreachable). */
  fresh?: boolean;
}

/** Thrown by the calls other than `launch`, which returns its refusals. */
/** Which gateway: a sign-in is kept per gateway URL, and one through another URL of the same gateway does not count. */
export const notSignedIn = (gatewayUrl: string) => `Not signed in to ${gatewayUrl.replace(/\/+$/, '')}: run \`flexgate signin\` first.`;

export class FlexgateError extends Error {
  override readonly name = 'FlexgateError';
  constructor(
    readonly code: RefusalCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}
