import type { KeyObject } from 'node:crypto';
import { ed25519Sign } from './ed25519';

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
