import { createPrivateKey, createPublicKey, type KeyObject, randomBytes } from 'node:crypto';

// PKCS#8 for Ed25519 (RFC 8410): this DER header, then the 32-byte private key.
const ED25519_PKCS8_HEADER = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * A new Ed25519 private key: 32 random bytes, as RFC 8032 defines one and as OpenSSL makes it.
 * Not `generateKeyPair(Sync)`: on Node 20 a collection that destroys the key-generation job while
 * the key it made is exported to JWK deadlocks the thread (the export holds the key's mutex, the
 * job's destructor waits for it); gateways and test workers hung so, and keys.test.ts makes it happen.
 */
export function newEd25519Key(): KeyObject {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_HEADER, randomBytes(32)]), format: 'der', type: 'pkcs8' });
}

/** `newEd25519Key` with its public half, in the shape `generateKeyPairSync('ed25519')` answers. */
export function newEd25519Pair(): { privateKey: KeyObject; publicKey: KeyObject } {
  const privateKey = newEd25519Key();
  return { privateKey, publicKey: createPublicKey(privateKey) };
}
