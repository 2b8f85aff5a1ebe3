import { ROOT_KEY_PATH } from '@flexgate/shared';
import { calculateJwkThumbprint } from 'jose';
import { type Api, expectStatus } from './http';

/**
 * The gateway's root key as a product would embed it: its RFC 7638 thumbprint, computed here
 * from the published JWK (not the gateway's kid), so a test trusts only what it checked.
 */
export async function trustOf(gw: { anon: Pick<Api, 'get'> }): Promise<string> {
  const jwk = expectStatus(await gw.anon.get(ROOT_KEY_PATH), 200);
  return calculateJwkThumbprint({ kty: jwk.kty, crv: jwk.crv, x: jwk.x });
}
