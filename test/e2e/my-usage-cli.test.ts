/**
 * `flexgate usage`: the compiled CLI, spawned as a person runs it, shows the user's own Flex use
 * by day from `GET /v1/me/usage` of a real gateway process (R15: a refunded short launch counts nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheDirs, type ProcessGateway, runFlexgate, startProcessGateway } from '../harness/client-e2e';
import { joinTeam, newAccount, newTeam, seedCatalog, signIn } from '../harness/fixtures';
import { expectStatus } from '../harness/http';
import { trustOf } from '../harness/trust';

let gw: ProcessGateway;
let trust: string;
const dirs = cacheDirs();

beforeAll(async () => {
  gw = await startProcessGateway();
  trust = await trustOf(gw);
  await seedCatalog(gw.fixtures());
});
afterAll(async () => {
  await gw?.close();
  dirs.cleanup();
});

describe('flexgate usage', () => {
  it('R15: prints the signed-in user’s own tokens and sessions by day and product, and the same as JSON', async () => {
    const team = await newTeam(gw.fixtures(), 100);
    const account = await newAccount(gw.fixtures());
    await joinTeam(gw.fixtures(), team, account, { products: ['autocad', 'revit'] });
    const user = await signIn(gw.fixtures(), account);
    expectStatus(await user.api.post('/v1/launch', { product: 'autocad' }), 200);
    const quick = expectStatus(await user.api.post('/v1/launch', { product: 'revit' }), 200);
    expectStatus(await user.api.post(`/v1/sessions/${quick.session.id}/end`), 200); // refunded (R7a)

    const common = ['--gateway', gw.url, '--cache-dir', dirs.make(), '--trust', trust];
    const signin = await runFlexgate(['signin', '--user', account.autodeskId, ...common], { FLEXGATE_PASSWORD: account.password });
    expect(signin.code, signin.stderr).toBe(0);
    const today = new Date().toISOString().slice(0, 10);

    const human = await runFlexgate(['usage', ...common]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^Your Flex use from \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2} \(UTC days\):$/m);
    expect(human.stdout).toMatch(new RegExp(`^  ${today}  AutoCAD  Team [0-9a-f]{8}  +7 tokens  1 session$`, 'm'));
    expect(human.stdout).not.toContain('Revit');
    expect(human.stdout).toMatch(/^ {2}total: 7 tokens, 1 session$/m);

    const json = await runFlexgate(['usage', '--from', today, '--to', today, '--json', ...common]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      autodeskId: account.autodeskId,
      rows: [{ day: today, product: 'autocad', team, tokens: 7, sessions: 1 }],
      total: { tokens: 7, sessions: 1 },
    });

    // A day that is not one, or a range backwards, is the CLI's usage error (2); a range the gateway
    // refuses (past 3 years) is a refusal (3).
    const bad = await runFlexgate(['usage', '--from', 'last-week', ...common]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--from must be a day such as 2026-03-15');
    const backwards = await runFlexgate(['usage', '--from', today, '--to', '2020-01-01', ...common]);
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toContain(`--from ${today} is after --to 2020-01-01`);
    const tooLong = await runFlexgate(['usage', '--from', '2020-01-01', '--to', today, ...common]);
    expect(tooLong.code).toBe(3);
    expect(tooLong.stderr).toMatch(/^flexgate: .*at most 3 years/m);
  }, 60_000);
});
