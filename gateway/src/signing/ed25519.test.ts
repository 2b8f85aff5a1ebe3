import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ed25519Sign } from './ed25519';

// Entitlements, allowances, checkpoints and ID tokens are signed by libsodium; every verifier
// (jose in the client, node:crypto here, any JOSE library) must see exactly what OpenSSL would
// have made, or a client would refuse a valid launch.
describe('ed25519Sign', () => {
  it('makes the signature node:crypto makes, for random keys and messages of every size', () => {
    for (let i = 0; i < 60; i++) {
      const { privateKey, publicKey } = generateKeyPairSync('ed25519');
      const message = randomBytes(i === 0 ? 0 : Math.floor(Math.random() * 3000));
      const ours = ed25519Sign(privateKey, message);
      expect(ours.toString('hex')).toBe(sign(null, message, privateKey).toString('hex'));
      expect(verify(null, message, publicKey, ours)).toBe(true);
      // The same key again: its libsodium form is derived once and kept; the answer must not change.
      expect(ed25519Sign(privateKey, message).equals(ours)).toBe(true);
    }
  });

  it('signs with a key read from PEM as with the key it came from', () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const reread = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const message = Buffer.from('{"sub":"user@example.com"}');
    expect(ed25519Sign(reread, message).equals(sign(null, message, privateKey))).toBe(true);
  });

  it('refuses a key that is not an Ed25519 private key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => ed25519Sign(ec.privateKey, Buffer.from('x'))).toThrow(/Ed25519 private key/);
    const ed = generateKeyPairSync('ed25519');
    expect(() => ed25519Sign(ed.publicKey, Buffer.from('x'))).toThrow(/Ed25519 private key/);
  });
});
