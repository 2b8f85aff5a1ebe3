/** What a signed entitlement says (R17). Both the gateway that signs and the client that verifies use it. */
export type AccessSource = 'subscription' | 'trial' | 'flex';

export const ENTITLEMENT_AUDIENCE = 'flexgate:entitlement';
export const ID_TOKEN_AUDIENCE = 'flexgate:user';
/** JOSE `typ` header values keep an ID token from passing as an entitlement and back. */
export const ENTITLEMENT_TYP = 'flexgate-entitlement+jwt';
export const ID_TOKEN_TYP = 'flexgate-id+jwt';
/** The one signature algorithm the gateway uses and clients accept. */
export const SIGNING_ALG = 'EdDSA';

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
}
