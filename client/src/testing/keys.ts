import type { KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ENTITLEMENT_AUDIENCE, ENTITLEMENT_TYP, type EntitlementClaims, KEY_SET_TYP, newEd25519Pair } from '@flexgate/shared';
import { calculateJwkThumbprint, SignJWT } from 'jose';
import type { EntitlementJwk, RootJwk } from '../verify';

/**
 * A real Ed25519 key pair, with its public key's x. Made from random bytes (`newEd25519Pair`), not by
 * a key-generation job, synchronous or not: on Node 20 a collection that destroys the job while its
 * key is exported to JWK deadlocks the thread (a CI worker and gateways hung so).
 */
export function ed25519Pair(): { privateKey: KeyObject; publicKey: KeyObject; x: string } {
  const { privateKey, publicKey } = newEd25519Pair();
  return { privateKey, publicKey, x: String(publicKey.export({ format: 'jwk' }).x) };
}

/** Real Ed25519 keys and real JWS for tests: nothing here is a mock of jose. */
export interface TestKey {
  kid: string;
  privateKey: KeyObject;
  jwk: EntitlementJwk;
}

export async function makeKey(kid: string): Promise<TestKey> {
  const { privateKey, x } = ed25519Pair();
  return { kid, privateKey, jwk: { kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' } };
}

/** A root key: it signs key sets only. `thumbprint` is what a product would embed. */
export interface TestRoot {
  privateKey: KeyObject;
  jwk: RootJwk;
  thumbprint: string;
}

export async function makeRoot(): Promise<TestRoot> {
  const { privateKey, x } = ed25519Pair();
  const jwk: RootJwk = { kty: 'OKP', crv: 'Ed25519', x };
  return { privateKey, jwk, thumbprint: await calculateJwkThumbprint(jwk) };
}

/** A key set as the gateway signs it: the root vouching for `keys`, listing `revoked`. */
export function signKeySet(
  root: TestRoot,
  set: { ver: number; keys: TestKey[]; revoked?: string[]; iat?: number; iss?: string },
): Promise<string> {
  return new SignJWT({
    iss: set.iss ?? 'flexgate',
    ver: set.ver,
    iat: set.iat ?? Math.floor(Date.now() / 1000),
    keys: set.keys.map((k) => k.jwk),
    revoked: set.revoked ?? [],
  })
    .setProtectedHeader({ alg: 'EdDSA', kid: root.thumbprint, typ: KEY_SET_TYP })
    .sign(root.privateKey);
}

export function claimsFor(overrides: Partial<EntitlementClaims> & { now?: Date; ttlSec?: number } = {}): EntitlementClaims {
  const { now = new Date(), ttlSec = 3600, ...rest } = overrides;
  const iat = Math.floor(now.getTime() / 1000);
  return {
    iss: 'flexgate',
    aud: ENTITLEMENT_AUDIENCE,
    sub: 'ada@example.com',
    product: 'autocad',
    source: 'flex',
    team: 'team-1',
    sid: 'sess-1',
    iat,
    exp: iat + ttlSec,
    jti: `jti-${Math.random().toString(36).slice(2)}`,
    ...rest,
  };
}

export async function sign(
  key: TestKey,
  claims: EntitlementClaims | Record<string, unknown>,
  header: Record<string, unknown> = {},
): Promise<string> {
  return new SignJWT({ ...claims })
    .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: ENTITLEMENT_TYP, ...header })
    .sign(key.privateKey);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** `alg: none`, made by hand because no honest library makes it. */
export function unsignedToken(claims: object, kid: string): string {
  return `${b64({ alg: 'none', kid, typ: ENTITLEMENT_TYP })}.${b64(claims)}.`;
}

export interface TestServer {
  url: string;
  port: number;
  server: Server;
  close(): Promise<void>;
}

/** A real HTTP server on 127.0.0.1, a port the OS picks. */
export async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<TestServer> {
  const server = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${actual}`,
    port: actual,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : undefined;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
  headers: Record<string, string> = {},
): void {
  const text = type === 'application/jose' ? String(body) : JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
