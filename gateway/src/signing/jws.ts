import { sign as cryptoSign, type KeyObject } from 'node:crypto';

export const b64url = (text: string) => Buffer.from(text).toString('base64url');

/** A compact JWS (RFC 7515), EdDSA, signed on libuv's thread pool: what jose and any JOSE library verify. */
export function signCompact(privateKey: KeyObject, header: object, payload: object): Promise<string> {
  return signParts(privateKey, b64url(JSON.stringify(header)), b64url(JSON.stringify(payload)));
}

/** The same, from a header and payload already encoded (a payload signed again under another key). */
export function signParts(privateKey: KeyObject, header: string, payload: string): Promise<string> {
  const input = `${header}.${payload}`;
  return new Promise((resolve, reject) => {
    cryptoSign(null, Buffer.from(input), privateKey, (error, signature) => {
      if (error) reject(error);
      else resolve(`${input}.${signature.toString('base64url')}`);
    });
  });
}
