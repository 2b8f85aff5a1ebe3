// `pnpm build` (also run by `pnpm install`): bundles the CLI, src/main.ts and everything it
// imports (@flexgate/shared, undici, jose, zod), into dist/, so that `flexgate` starts on plain
// node instead of compiling TypeScript at every run. Heavy modules sit in chunks loaded on use.
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
await rm(`${root}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { flexgate: 'src/main.ts' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // undici is CommonJS and calls require() for node's modules, which an ES module lacks.
  banner: { js: "import { createRequire as __flexgateRequire } from 'node:module'; const require = __flexgateRequire(import.meta.url);" },
  logLevel: 'warning',
});
