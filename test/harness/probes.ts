import { Agent } from 'undici';
import { expect } from 'vitest';
import type { ProcessGateway } from './client-e2e';
import { Api } from './http';

/** The request ids of the gateway's access log, in the order it wrote them (as it answered). */
export function accessLogOrder(output: string): string[] {
  const ids: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; requestId?: string };
    if (entry.msg === 'request' && entry.requestId) ids.push(entry.requestId);
  }
  return ids;
}

/**
 * Sends `request` (with the request id it is given) and, every 5 ms until it is answered, a
 * /healthz on a connection of its own, as a product opens one to launch. Returns the probes sent
 * in the middle half of that time, and those of them the gateway answered after `request`.
 *
 * The gateway's access log (info logs), one line per answer in the order it answered, decides:
 * the order the test process reads the answers in is not the gateway's when the machine is loaded
 * (a test process that wakes after a pause reads many sockets at once). A gateway that holds its
 * event loop for the whole request answers every middle probe after it; Node accepts one new
 * connection a turn, so one that yields a single turn between long steps answers most after it.
 */
export async function probesWhile(
  gw: ProcessGateway,
  name: string,
  request: (requestId: string) => Promise<void>,
): Promise<{ late: number[]; middle: number[] }> {
  const tag = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  const fresh = new Agent({ pipelining: 0 });
  const anon = new Api(gw.url, undefined, { agent: fresh });
  const probes: Promise<void>[] = [];
  let done = false;
  const answered = request(tag).finally(() => {
    done = true;
  });
  const probe = () => {
    const index = probes.length;
    probes.push(anon.get('/healthz', { 'x-request-id': `${tag}-probe-${index}` }).then((r) => expect(r.status).toBe(200)));
  };
  const timer = setInterval(() => done || probe(), 5);
  try {
    await answered;
  } finally {
    clearInterval(timer);
    await Promise.allSettled(probes);
    await fresh.close();
  }
  await Promise.all(probes);
  const order = accessLogOrder(gw.process?.output() ?? '');
  const at = order.indexOf(tag);
  expect(at, `${name} is in the access log`).toBeGreaterThanOrEqual(0);
  const before = new Set(order.slice(0, at));
  const middle = Array.from({ length: probes.length }, (_, i) => i).slice(
    Math.floor(probes.length / 4),
    Math.ceil((probes.length * 3) / 4),
  );
  return { late: middle.filter((i) => !before.has(`${tag}-probe-${i}`)), middle };
}
