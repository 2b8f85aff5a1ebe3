import { spawnSync } from 'node:child_process';
import { createPublicKey, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { newEd25519Key } from './keys';

describe('newEd25519Key', () => {
  it('makes a new Ed25519 key each time, whose signatures its public half verifies', () => {
    const [a, b] = [newEd25519Key(), newEd25519Key()];
    expect(a.asymmetricKeyType).toBe('ed25519');
    const message = Buffer.from('an entitlement');
    expect(verify(null, message, createPublicKey(a), sign(null, message, a))).toBe(true);
    expect(verify(null, message, createPublicKey(b), sign(null, message, a))).toBe(false);
    const [ja, jb] = [a.export({ format: 'jwk' }), b.export({ format: 'jwk' })];
    expect(ja).toMatchObject({
      kty: 'OKP',
      crv: 'Ed25519',
      x: expect.stringMatching(/^[\w-]{43}$/),
      d: expect.stringMatching(/^[\w-]{43}$/),
    });
    expect(ja.d).not.toBe(jb.d);
  });

  // What the keyring and the root key do with a new key: export both halves to JWK. Made with
  // generateKeyPairSync, such a process hangs on Node 20 within a few hundred keys (3 runs of 3): a
  // collection during the export destroys the generation job, which waits for the key's mutex the
  // export holds. Plain node on keys.ts compiled to JavaScript: tsx's loader thread would move the
  // collections about.
  it('keys made and exported to JWK while garbage is collected every few allocations: the process does not hang', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fg-keys-'));
    try {
      const source = readFileSync(fileURLToPath(new URL('./keys.ts', import.meta.url)), 'utf8');
      const compiled = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
      writeFileSync(join(dir, 'keys.mjs'), compiled.outputText);
      writeFileSync(
        join(dir, 'export.mjs'),
        [
          `import { createPublicKey } from 'node:crypto';`,
          `import { setFlagsFromString } from 'node:v8';`,
          `import { newEd25519Key } from './keys.mjs';`,
          `setFlagsFromString('--gc-interval=20');`,
          'for (let i = 0; i < 2000; i++) {',
          '  const key = newEd25519Key();',
          `  createPublicKey(key).export({ format: 'jwk' });`,
          `  key.export({ format: 'jwk' });`,
          '}',
          `console.log('done');`,
        ].join('\n'),
      );
      const child = spawnSync(process.execPath, [join(dir, 'export.mjs')], { encoding: 'utf8', timeout: 20_000 });
      expect(child.error, 'the process hung').toBeUndefined();
      expect(child.stdout.trim()).toBe('done');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
