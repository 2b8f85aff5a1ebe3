import { createPrivateKey, generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto';
import { newEd25519Pair } from '@flexgate/shared';
import sodium from 'sodium-native';
import { describe, expect, it } from 'vitest';
import { ed25519Sign, ed25519SignHedged } from './ed25519';
import { signParts, signPartsHedged } from './jws';
import { Nonces } from './nonces';

// Entitlements, allowances, checkpoints and ID tokens are signed by libsodium; every verifier
// (jose in the client, node:crypto here, any JOSE library) must see exactly what OpenSSL would
// have made, or a client would refuse a valid launch.
describe('ed25519Sign', () => {
  it('makes the signature node:crypto makes, for random keys and messages of every size', () => {
    for (let i = 0; i < 60; i++) {
      const { privateKey, publicKey } = newEd25519Pair();
      const message = randomBytes(i === 0 ? 0 : Math.floor(Math.random() * 3000));
      const ours = ed25519Sign(privateKey, message);
      expect(ours.toString('hex')).toBe(sign(null, message, privateKey).toString('hex'));
      expect(verify(null, message, publicKey, ours)).toBe(true);
      // The same key again: its libsodium form is derived once and kept; the answer must not change.
      expect(ed25519Sign(privateKey, message).equals(ours)).toBe(true);
    }
  });

  it('signs with a key read from PEM as with the key it came from', () => {
    const { privateKey } = newEd25519Pair();
    const reread = createPrivateKey(privateKey.export({ format: 'pem', type: 'pkcs8' }));
    const message = Buffer.from('{"sub":"user@example.com"}');
    expect(ed25519Sign(reread, message).equals(sign(null, message, privateKey))).toBe(true);
  });

  it('refuses a key that is not an Ed25519 private key', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(() => ed25519Sign(ec.privateKey, Buffer.from('x'))).toThrow(/Ed25519 private key/);
    const ed = newEd25519Pair();
    expect(() => ed25519Sign(ed.publicKey, Buffer.from('x'))).toThrow(/Ed25519 private key/);
  });
});

describe('hedged signatures (an entitlement signed with a nonce made ahead)', () => {
  /** A fresh set of nonces, once its thread has made the first batch. */
  const readyNonces = async (batch = 256) => {
    const nonces = new Nonces(batch, batch);
    for (let i = 0; i < 500 && nonces.with(() => true) === null; i++) await new Promise((r) => setTimeout(r, 10));
    return nonces;
  };

  it('verify as the deterministic ones do, for random keys and messages, and differ at each signing', async () => {
    const nonces = await readyNonces();
    for (let i = 0; i < 60; i++) {
      const { privateKey, publicKey } = newEd25519Pair();
      // Base64url as in a JWS, and text beyond ASCII: the message is the UTF-8 of the string.
      const message = i % 2 ? randomBytes(Math.floor(Math.random() * 3000)).toString('base64url') : `é€𝄞 ${i} ${'x'.repeat(i * 37)}`;
      const one = nonces.with((batch, at) => ed25519SignHedged(privateKey, message, batch, at));
      const two = nonces.with((batch, at) => ed25519SignHedged(privateKey, message, batch, at));
      if (!one || !two) throw new Error('the nonces ran out');
      expect(verify(null, Buffer.from(message), publicKey, one)).toBe(true);
      expect(verify(null, Buffer.from(message), publicKey, two)).toBe(true);
      // A fresh nonce each time: R differs, so a nonce was never used twice.
      expect(one.subarray(0, 32).equals(two.subarray(0, 32))).toBe(false);
      expect(one.equals(ed25519Sign(privateKey, Buffer.from(message)))).toBe(false);
      // Another key's public half refuses it.
      expect(verify(null, Buffer.from(message), newEd25519Pair().publicKey, one)).toBe(false);
    }
  });

  it('hands out each nonce once, R = rB, and wipes it once used', async () => {
    const nonces = await readyNonces(64);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const r = Buffer.alloc(32);
      const R = Buffer.alloc(32);
      let where: { batch: Buffer; at: number } | null = null;
      for (let tries = 0; tries < 500 && !where; tries++) {
        where = nonces.with((batch, at) => {
          batch.copy(r, 0, at, at + 32);
          batch.copy(R, 0, at + 32, at + 64);
          return { batch, at };
        });
        if (!where) await new Promise((res) => setTimeout(res, 5));
      }
      if (!where) throw new Error('no nonce came');
      expect(where.batch.subarray(where.at, where.at + 64).every((b) => b === 0)).toBe(true);
      const point = Buffer.alloc(32);
      sodium.crypto_scalarmult_ed25519_base_noclamp(point, r);
      expect(point.equals(R)).toBe(true);
      seen.add(r.toString('hex'));
    }
    expect(seen.size).toBe(1000);
  });

  it('wipes the nonce it signed with', async () => {
    const nonces = await readyNonces();
    const { privateKey } = newEd25519Pair();
    const used = nonces.with((batch, at) => {
      ed25519SignHedged(privateKey, 'message', batch, at);
      return batch.subarray(at, at + 64);
    });
    expect(used?.every((b) => b === 0)).toBe(true);
  });

  it('signs deterministically while no nonce is ready, then hedged (signPartsHedged)', async () => {
    const { privateKey, publicKey } = newEd25519Pair();
    const nonces = new Nonces(64, 64);
    const first = signPartsHedged(privateKey, 'aGVhZA', 'cGF5bG9hZA', nonces);
    expect(first).toBe(await signParts(privateKey, 'aGVhZA', 'cGF5bG9hZA'));
    let later = first;
    for (let i = 0; i < 500 && later === first; i++) {
      await new Promise((r) => setTimeout(r, 10));
      later = signPartsHedged(privateKey, 'aGVhZA', 'cGF5bG9hZA', nonces);
    }
    expect(later).not.toBe(first);
    const [head, payload, signature] = later.split('.') as [string, string, string];
    expect(verify(null, Buffer.from(`${head}.${payload}`), publicKey, Buffer.from(signature, 'base64url'))).toBe(true);
  });
});
