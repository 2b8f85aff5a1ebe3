// `pnpm build` (also run by `pnpm install`): bundles the gateway's own code and @flexgate/shared
// into dist/main.js, its npm dependencies left as imports. The test suites spawn gateway processes
// from it: plain node starts a process in a fraction of the time tsx takes to compile the sources.
import { readFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const { dependencies } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8'));
// The workspace's shared package is TypeScript: bundled. Everything from npm stays external.
const external = Object.keys(dependencies).filter((name) => !name.startsWith('@flexgate/'));
await rm(`${root}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: [...external, ...external.map((name) => `${name}/*`)],
  jsx: 'automatic',
  jsxImportSource: 'hono/jsx',
  logLevel: 'warning',
});
// The console's stylesheet and script are read next to the module that serves them (console/assets.ts).
await cp(`${root}/src/console/assets`, `${root}/dist/assets`, { recursive: true });
