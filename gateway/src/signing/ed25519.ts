import type { KeyObject } from 'node:crypto';
import sodium from 'sodium-native';

/**
 * Ed25519 signatures made by libsodium. Ed25519 is deterministic (RFC 8032): for a key and a
 * message libsodium makes the very bytes node:crypto (OpenSSL) makes, so every verifier is
 * unchanged, in about half its CPU (BENCHMARKS.md). Entitlements, one per cold launch, are hedged
 * instead (`ed25519SignHedged`): most of a signature's work is then done ahead, off the event loop.
 * The key stays a KeyObject everywhere else; its 64-byte libsodium form is derived once, in
 * memory libsodium guards (`sodium_malloc`: locked, never swapped).
 */
const secrets = new WeakMap<KeyObject, Buffer>();

export function ed25519Sign(privateKey: KeyObject, message: Buffer): Buffer {
  const signature = Buffer.alloc(sodium.crypto_sign_BYTES);
  sodium.crypto_sign_detached(signature, message, secretOf(privateKey));
  return signature;
}

/**
 * A hedged Ed25519 signature of the text `message`: (R, S) with R = rB made ahead (`Nonces`) for a
 * random r, and S = r + SHA-512(R || A || message) * a mod L. Every verifier accepts it as it
 * accepts RFC 8032's deterministic signature, of which it is the same equation with another r.
 * Only a signature no one makes again to compare may be hedged: ID tokens, checked by signing
 * again, stay deterministic. `nonces` holds the nonce (r || R) at `at` (`Nonces.with` wipes it).
 */
export function ed25519SignHedged(privateKey: KeyObject, message: string, nonces: Buffer, at: number): Buffer {
  const { scalar, publicKey } = scalarOf(privateKey);
  const length = Buffer.byteLength(message);
  const input = Buffer.allocUnsafe(64 + length);
  nonces.copy(input, 0, at + 32, at + 64);
  publicKey.copy(input, 32);
  input.write(message, 64);
  sodium.crypto_hash_sha512(hash, input);
  sodium.crypto_core_ed25519_scalar_reduce(k, hash);
  // r + k * a, 64 bytes, then mod L: libsodium has no product of scalars, only their reduction.
  limbsOf(k, 0, kLimbs);
  limbsOf(scalar, 0, aLimbs);
  columns.fill(0);
  for (let i = 0; i < 16; i++) {
    columns[i] = (columns[i] as number) + ((nonces[at + 2 * i] as number) | ((nonces[at + 2 * i + 1] as number) << 8));
  }
  for (let i = 0; i < 16; i++) {
    const ki = kLimbs[i] as number;
    for (let j = 0; j < 16; j++) columns[i + j] = (columns[i + j] as number) + ki * (aLimbs[j] as number);
  }
  // Each column is below 2^37 (16 products under 2^32, r's limb, the carry): exact in a double.
  let carry = 0;
  for (let t = 0; t < 32; t++) {
    const v = (columns[t] as number) + carry;
    const limb = v % 65536;
    wide[2 * t] = limb & 0xff;
    wide[2 * t + 1] = limb >>> 8;
    carry = (v - limb) / 65536;
  }
  sodium.crypto_core_ed25519_scalar_reduce(S, wide);
  const signature = Buffer.allocUnsafe(64);
  nonces.copy(signature, 0, at + 32, at + 64);
  S.copy(signature, 32);
  wide.fill(0);
  hash.fill(0);
  k.fill(0);
  columns.fill(0);
  kLimbs.fill(0);
  aLimbs.fill(0);
  return signature;
}

const hash = Buffer.alloc(64);
const k = Buffer.alloc(32);
const S = Buffer.alloc(32);
const wide = Buffer.alloc(64);
const columns = new Float64Array(32);
const kLimbs = new Float64Array(16);
const aLimbs = new Float64Array(16);

/** A 32-byte little-endian integer as sixteen 16-bit limbs. */
function limbsOf(b: Buffer, at: number, out: Float64Array): void {
  for (let i = 0; i < 16; i++) out[i] = (b[at + 2 * i] as number) | ((b[at + 2 * i + 1] as number) << 8);
}

/** The key's secret scalar a (clamped, reduced mod L) and public point A, derived once. */
const scalars = new WeakMap<KeyObject, { scalar: Buffer; publicKey: Buffer }>();
function scalarOf(privateKey: KeyObject): { scalar: Buffer; publicKey: Buffer } {
  let known = scalars.get(privateKey);
  if (known) return known;
  const secret = secretOf(privateKey);
  const hashed = sodium.sodium_malloc(64);
  sodium.crypto_hash_sha512(hashed, secret.subarray(0, 32));
  hashed[0] = (hashed[0] as number) & 248;
  hashed[31] = ((hashed[31] as number) & 127) | 64;
  hashed.fill(0, 32);
  const scalar = sodium.sodium_malloc(32);
  sodium.crypto_core_ed25519_scalar_reduce(scalar, hashed);
  hashed.fill(0);
  known = { scalar, publicKey: Buffer.from(secret.subarray(32, 64)) };
  scalars.set(privateKey, known);
  return known;
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
