#!/usr/bin/env node
// The committed bin entry, which pnpm links at install before anything is built: it loads the
// compiled CLI, dist/flexgate.js, that `pnpm build` (run by `pnpm install`) makes from src/.
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/flexgate.js', import.meta.url);
if (existsSync(bundle)) await import(bundle.href);
else {
  process.stderr.write('flexgate: the CLI is not built (client/dist/flexgate.js is missing); run `pnpm build` in the flexgate checkout.\n');
  process.exitCode = 1;
}
