import { createPrivateKey, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { newEd25519Key, type PublicJwk, SIGNING_ALG } from '@flexgate/shared';
import { calculateJwkThumbprint } from 'jose';
import { ConfigError } from '../config';

/**
 * The root key: it signs the key set and nothing else, so clients configured with it trust only
 * the signing keys it vouches for. Its kid is its RFC 7638 thumbprint, the short string a product
 * may embed instead of the whole key.
 */
export interface RootKey {
  kid: string;
  privateKey: KeyObject;
  publicJwk: PublicJwk & { kid: string; alg: string };
}

export async function rootKeyOf(privateKey: KeyObject): Promise<RootKey> {
  const exported = createPublicKey(privateKey).export({ format: 'jwk' });
  const publicJwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x: String(exported.x) };
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: SIGNING_ALG } };
}

export function generateRootKey(): Promise<RootKey> {
  return rootKeyOf(newEd25519Key());
}

/** The root key stored in the database, as its private JWK. */
export function rootKeyFromJwk(privateJwk: string): Promise<RootKey> {
  return rootKeyOf(createPrivateKey({ key: JSON.parse(privateJwk) as JsonWebKey, format: 'jwk' }));
}

/** FLEXGATE_ROOT_KEY_FILE: a PKCS#8 PEM Ed25519 private key (`openssl genpkey -algorithm ed25519`). */
export async function readRootKeyFile(path: string): Promise<RootKey> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    throw new ConfigError([`FLEXGATE_ROOT_KEY_FILE ${path} cannot be read (${typeof code === 'string' ? code : String(error)})`]);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new ConfigError([`FLEXGATE_ROOT_KEY_FILE ${path} holds no PEM private key (openssl genpkey -algorithm ed25519 makes one)`]);
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ConfigError([`FLEXGATE_ROOT_KEY_FILE ${path} holds a ${key.asymmetricKeyType} key, not an Ed25519 one`]);
  }
  return rootKeyOf(key);
}
