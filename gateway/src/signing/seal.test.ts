import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config';
import { Sealer } from './seal';

const kek = () => randomBytes(32).toString('base64url');

describe('Sealer', () => {
  it('seals with a fresh nonce each time and opens only at the place it was sealed for', () => {
    const s = new Sealer(kek());
    const a = s.seal('{"d":"secret"}', 'signing_keys.private_jwk of A');
    const b = s.seal('{"d":"secret"}', 'signing_keys.private_jwk of A');
    expect(a).toMatch(/^kek1:[\w-]{11}:[\w-]{16}:[\w-]+$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain('secret');
    expect(s.open(a, 'signing_keys.private_jwk of A')).toBe('{"d":"secret"}');
    // Copied onto another row, or altered, it does not open.
    expect(() => s.open(a, 'signing_keys.private_jwk of B')).toThrow(/does not open .* copied from another row/);
    const parts = a.split(':');
    const flipped = `${parts.slice(0, 3).join(':')}:${(parts[3] ?? '').replace(/^./, (c) => (c === 'A' ? 'B' : 'A'))}`;
    expect(() => s.open(flipped, 'signing_keys.private_jwk of A')).toThrow(ConfigError);
  });

  it('reads clear values; without a KEK it stores in clear and refuses sealed ones; another KEK refuses them', () => {
    const sealed = new Sealer(kek()).seal('x', 'p');
    const none = new Sealer(undefined);
    expect(none.sealing).toBe(false);
    expect(none.seal('x', 'p')).toBe('x');
    expect(none.open('x', 'p')).toBe('x');
    expect(none.stale('x')).toBe(false);
    expect(() => none.open(sealed, 'p')).toThrow(/FLEXGATE_KEK is unset/);
    expect(() => new Sealer(kek()).open(sealed, 'p')).toThrow(/sealed with key-encryption key .*, but FLEXGATE_KEK/);
  });

  it('a rotation opens what the previous KEK sealed and calls it stale; what the new one sealed is not', () => {
    const previous = kek();
    const old = new Sealer(previous).seal('x', 'p');
    const rotated = new Sealer(kek(), previous);
    expect(rotated.open(old, 'p')).toBe('x');
    expect(rotated.stale(old)).toBe(true);
    expect(rotated.stale('x')).toBe(true);
    const again = rotated.seal('x', 'p');
    expect(rotated.stale(again)).toBe(false);
    // A KEK given in standard base64 is the same key as in base64url.
    const bytes = randomBytes(32);
    expect(new Sealer(bytes.toString('base64')).open(new Sealer(bytes.toString('base64url')).seal('y', 'q'), 'q')).toBe('y');
  });
});
