// `pnpm build` (also run by `pnpm install`): bundles the gateway with @flexgate/shared and its npm
// dependencies into dist/main.js, which `node gateway/dist/main.js` runs. A process then starts in about
// half the CPU: resolving and loading hundreds of package files was most of its start
// (BENCHMARKS.md), paid again by each `--cluster` worker and each restart. Left out: the packages
// with native code, loaded from node_modules as they must be, and pg's optional native binding.
import { cp, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const external = ['better-sqlite3', 'sodium-native', 'pg-native'];
await rm(`${root}/dist`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/main.ts' },
  outdir: 'dist',
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  // pg and nodemailer are CommonJS and `require` Node's modules: an ES module has no `require` of its own.
  banner: { js: "import { createRequire as __flexgateRequire } from 'node:module'; const require = __flexgateRequire(import.meta.url);" },
  jsx: 'automatic',
  jsxImportSource: 'hono/jsx',
  logLevel: 'warning',
});
// The console's stylesheet and script are read next to the module that serves them (console/assets.ts).
await cp(`${root}/src/console/assets`, `${root}/dist/assets`, { recursive: true });
