import { createRequire } from 'node:module';

type Query = (this: unknown, ...args: unknown[]) => unknown;

/**
 * Counts the statements the gateway's PostgreSQL connections send, by kind (the start of the text,
 * named when prepared), in this process: what a launch costs in statements, which each cost the
 * gateway a fixed share of CPU whatever their size (BENCHMARKS.md). Wraps the `pg` the gateway loads.
 */
export function countStatements(): { reset(): void; report(requests: number): string } {
  const pg = createRequire(new URL('../../gateway/package.json', import.meta.url))('pg') as { Client: { prototype: { query: Query } } };
  const query = pg.Client.prototype.query;
  const kinds = new Map<string, { n: number; chars: number; params: number }>();
  pg.Client.prototype.query = function (this: unknown, ...args: unknown[]) {
    const [config, values] = args;
    const c = (typeof config === 'string' ? { text: config } : (config ?? {})) as { text?: string; name?: string; values?: unknown[] };
    const text = c.text ?? '';
    const kind = `${c.name ? 'prepared' : 'unnamed'} ${text.slice(0, 80).replace(/\s+/g, ' ')}`;
    const k = kinds.get(kind) ?? { n: 0, chars: 0, params: 0 };
    k.n++;
    k.chars += text.length;
    k.params += (c.values ?? (Array.isArray(values) ? values : [])).length;
    kinds.set(kind, k);
    return query.apply(this, args);
  };
  return {
    reset: () => kinds.clear(),
    report: (requests) => {
      const all = [...kinds].sort((a, b) => b[1].n - a[1].n);
      const total = all.reduce((s, [, k]) => s + k.n, 0);
      const lines = all
        .slice(0, 12)
        .map(
          ([kind, k]) =>
            `  ${(k.n / requests).toFixed(3)} a request: ${kind}... (${Math.round(k.chars / k.n)} chars, ${Math.round(k.params / k.n)} parameters)`,
        );
      return [`PostgreSQL statements: ${(total / requests).toFixed(3)} a request`, ...lines].join('\n');
    },
  };
}
