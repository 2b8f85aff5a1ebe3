import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const bundle = join(root, 'gateway/dist/main.js');

/** What the bundle is built from: the gateway's and shared's sources (not tests), and the build script. */
function sources(): string[] {
  const files = [join(root, 'gateway/scripts/build.mjs')];
  for (const dir of [join(root, 'gateway/src'), join(root, 'shared/src')]) {
    for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (/\.(ts|tsx|css|js)$/.test(name) && !name.endsWith('.test.ts')) files.push(join(dir, name));
    }
  }
  return files;
}

let checked: string | null = null;

/**
 * The compiled gateway (`pnpm build`: gateway/dist/main.js), once it is sure the bundle was built
 * from the current sources: a suite that spawns gateway processes would otherwise test yesterday's
 * build. Throws naming the file and the fix.
 */
export function builtGateway(): string {
  if (checked) return checked;
  let builtAt: number;
  try {
    builtAt = statSync(bundle).mtimeMs;
  } catch {
    throw new Error('gateway/dist/main.js is missing: run `pnpm build` first (the suites spawn the compiled gateway).');
  }
  const newer = sources().find((file) => statSync(file).mtimeMs > builtAt);
  if (newer) throw new Error(`gateway/dist/main.js is older than ${relative(root, newer)}: run \`pnpm build\` first.`);
  checked = bundle;
  return bundle;
}
