import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const clientDir = fileURLToPath(new URL('../..', import.meta.url));
const repoDir = join(clientDir, '..');
const bundle = join(clientDir, 'dist/flexgate.js');

/** The committed bin entry: tests spawn `node client/bin/flexgate.js`, as a person runs it. */
export const FLEXGATE_BIN = join(clientDir, 'bin/flexgate.js');

/** What the bundle is built from: the client's and shared's sources (not tests), the build script. */
function bundleSources(): string[] {
  const files = [join(clientDir, 'scripts/build.mjs')];
  for (const dir of [join(clientDir, 'src'), join(repoDir, 'shared/src')]) {
    for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.startsWith('testing')) files.push(join(dir, name));
    }
  }
  return files;
}

/**
 * The bin, once it is sure the bundle it loads was built from the current sources: tests of the
 * CLI would otherwise pass or fail on yesterday's build. Throws naming the file and the fix.
 */
export function builtFlexgate(): string {
  let builtAt: number;
  try {
    builtAt = statSync(bundle).mtimeMs;
  } catch {
    throw new Error('client/dist/flexgate.js is missing: run `pnpm build` first (the CLI tests spawn the compiled CLI).');
  }
  const newer = bundleSources().find((file) => statSync(file).mtimeMs > builtAt);
  if (newer) throw new Error(`client/dist/flexgate.js is older than ${relative(repoDir, newer)}: run \`pnpm build\` first.`);
  return FLEXGATE_BIN;
}
