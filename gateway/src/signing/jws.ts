import type { KeyObject } from 'node:crypto';
import { ed25519Sign, ed25519SignHedged } from './ed25519';
import { Nonces } from './nonces';

export const b64url = (text: string) => Buffer.from(text).toString('base64url');

/**
 * A compact JWS (RFC 7515), EdDSA: what jose and any JOSE library verify. Signed in line: handing
 * the signature to libuv's pool cost the main thread about as much as signing (two thread wake-ups
 * on machines whose cores are all busy), and more CPU in all (BENCHMARKS.md).
 */
export function signCompact(privateKey: KeyObject, header: object, payload: object): Promise<string> {
  return signParts(privateKey, b64url(JSON.stringify(header)), b64url(JSON.stringify(payload)));
}

/** The same, from a header and payload already encoded (a payload signed again under another key). */
export async function signParts(privateKey: KeyObject, header: string, payload: string): Promise<string> {
  const input = `${header}.${payload}`;
  return `${input}.${ed25519Sign(privateKey, Buffer.from(input)).toString('base64url')}`;
}

/** One thread's nonces for the process: an entitlement signed per cold launch takes one. */
const shared = new Nonces();

/**
 * The same, hedged with a nonce made ahead when one is ready (`Nonces`, ed25519.ts): an
 * entitlement's signature, the one a launch makes. Deterministic when none is.
 */
export function signPartsHedged(privateKey: KeyObject, header: string, payload: string, nonces = shared): string {
  const input = `${header}.${payload}`;
  const signature =
    nonces.with((batch, at) => ed25519SignHedged(privateKey, input, batch, at)) ?? ed25519Sign(privateKey, Buffer.from(input));
  return `${input}.${signature.toString('base64url')}`;
}
