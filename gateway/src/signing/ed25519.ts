import type { KeyObject } from 'node:crypto';
import sodium from 'sodium-native';

/**
 * Ed25519 signatures made by libsodium. Ed25519 is deterministic (RFC 8032): for a key and a
 * message libsodium makes the very bytes node:crypto (OpenSSL) makes, so every verifier is
 * unchanged, in about half its CPU (BENCHMARKS.md); every cold launch signs an entitlement.
 * The key stays a KeyObject everywhere else; its 64-byte libsodium form is derived once, in
 * memory libsodium guards (`sodium_malloc`: locked, never swapped).
 */
const secrets = new WeakMap<KeyObject, Buffer>();

export function ed25519Sign(privateKey: KeyObject, message: Buffer): Buffer {
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(signature, message, secretOf(privateKey));
  return signature;
}

function secretOf(privateKey: KeyObject): Buffer {
  let secret = secrets.get(privateKey);
  if (secret) return secret;
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`an Ed25519 private key is needed, not ${privateKey.asymmetricKeyType ?? privateKey.type}`);
  }
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d ?? '', 'base64url');
  secret = sodium.sodium_malloc(sodium.crypto_sign_SECRETKEYBYTES);
  sodium.crypto_sign_seed_keypair(Buffer.alloc(sodium.crypto_sign_PUBLICKEYBYTES), secret, seed);
  seed.fill(0);
  secrets.set(privateKey, secret);
  return secret;
}
