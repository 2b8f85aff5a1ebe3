/**
 * The trust root: a root key the client is configured with, which signs nothing but the key set,
 * the list of signing keys in service (and of those revoked). Both the gateway and the client use
 * these names.
 */

/** JOSE `typ` of the key set the root key signs. */
export const KEY_SET_TYP = 'flexgate-keyset+jwt';
/** The key set, a compact JWS (`application/jose`). */
export const KEY_SET_PATH = '/.well-known/flexgate-keys';
/** The root's public JWK, for display and pinning: a client never trusts it just because the network said so. */
export const ROOT_KEY_PATH = '/.well-known/flexgate-root.json';
/**
 * On every answer: the version of the gateway's key set. A client holding an older one fetches the
 * new one before it trusts its cache again (a revocation reaches it at its next contact).
 */
export const KEY_SET_VERSION_HEADER = 'flexgate-key-set';

/** An Ed25519 public key as a JWK (RFC 8037). */
export interface PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid?: string;
  alg?: string;
  use?: string;
}

/** What the key set says: `ver` grows with every rotation and revocation; `keys` never holds a revoked kid. */
export interface KeySetClaims {
  iss: string;
  ver: number;
  iat: number;
  keys: PublicJwk[];
  revoked: string[];
}
