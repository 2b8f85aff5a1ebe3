/** The yardstick: a Hono app on @hono/node-server answering a small JSON body, nothing else. */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const app = new Hono();
const body = {
  granted: true,
  source: 'flex',
  charged: 0,
  balance: 493,
  session: { id: 'ses_x', startsAt: '2026-01-01T00:00:00.000Z', endsAt: '2026-01-02T00:00:00.000Z' },
};
app.post('/v1/launch', async (c) => {
  await c.req.json();
  return c.json(body);
});
app.get('/v1/teams/:team/balance', (c) => c.json({ balance: 1, lots: [] }));
app.get('/v1/teams/:team/usage', (c) => c.json({ rows: [] }));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  process.stdout.write(`listening on http://127.0.0.1:${info.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
