import { Agent } from 'undici';
import { expect } from 'vitest';
import type { ProcessGateway } from './client-e2e';
import { Api } from './http';

/** The request ids of the gateway's access log, in the order it wrote them (as it answered). */
export function accessLogOrder(output: string): string[] {
  return accessLog(output).map((e) => e.requestId);
}

/** The access log's lines in order, each with the time it was written. */
function accessLog(output: string): { requestId: string; at: number }[] {
  const entries: { requestId: string; at: number }[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; requestId?: string; time?: string };
    if (entry.msg === 'request' && entry.requestId) entries.push({ requestId: entry.requestId, at: Date.parse(entry.time ?? '') });
  }
  return entries;
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
 * The time runs to the access log's line of `request` (the same clock): a loaded test process may
 * read the answer long after, and the probes it sends meanwhile find the gateway done.
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
  const sentAt: number[] = [];
  let done = false;
  const started = Date.now();
  let ended = started;
  const answered = request(tag).finally(() => {
    done = true;
  });
  const probe = () => {
    const index = probes.length;
    sentAt.push(Date.now());
    probes.push(anon.get('/healthz', { 'x-request-id': `${tag}-probe-${index}` }).then((r) => expect(r.status).toBe(200)));
  };
  const timer = setInterval(() => done || probe(), 5);
  try {
    await answered;
    ended = Date.now();
  } finally {
    clearInterval(timer);
    await Promise.allSettled(probes);
    await fresh.close();
  }
  await Promise.all(probes);
  // The gateway writes its log lines together, up to 10 ms after the answers: wait for all of them.
  const ids = [tag, ...probes.map((_, i) => `${tag}-probe-${i}`)];
  let log = accessLog(gw.process?.output() ?? '');
  const logged = () => new Set(log.map((e) => e.requestId));
  for (let waited = 0, has = logged(); waited < 5000 && !ids.every((id) => has.has(id)); waited += 20, has = logged()) {
    await new Promise((r) => setTimeout(r, 20));
    log = accessLog(gw.process?.output() ?? '');
  }
  const at = log.findIndex((e) => e.requestId === tag);
  expect(at, `${name} is in the access log`).toBeGreaterThanOrEqual(0);
  const before = new Set(log.slice(0, at).map((e) => e.requestId));
  const end = Math.min(ended, log[at]?.at ?? ended);
  const middle = sentAt.flatMap((t, i) => (t >= started + (end - started) / 4 && t <= started + ((end - started) * 3) / 4 ? [i] : []));
  return { late: middle.filter((i) => !before.has(`${tag}-probe-${i}`)), middle };
}

/**
 * `probesWhile` for a read (which can be sent again): measured again, up to three times, when the
 * test process let fewer than five probes out in the middle of it, too few to judge whatever the
 * gateway did (a starved test process sends few).
 */
export async function probesWhileRead(...args: Parameters<typeof probesWhile>): ReturnType<typeof probesWhile> {
  for (let tries = 1; ; tries++) {
    const probed = await probesWhile(...args);
    if (probed.middle.length > 4 || tries === 3) return probed;
  }
}
