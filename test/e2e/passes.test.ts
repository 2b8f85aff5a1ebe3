import { expect, test } from 'vitest';
import { testEngine } from '../harness/db';
import { startTestGateway } from '../harness/gateway';

// The PostgreSQL pass must test PostgreSQL. Test files share their worker's modules
// (vitest.config.ts, `isolate: false`): nothing a shared module reads once may carry one pass's
// engine into a file of the other.
test('each pass runs its gateways on the engine it is named after', async ({ task }) => {
  expect(testEngine()).toBe(task.file.projectName);
  const gw = await startTestGateway();
  try {
    const health = await gw.anon.request('GET', '/healthz');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ ok: true, engine: task.file.projectName });
  } finally {
    await gw.close();
  }
});
