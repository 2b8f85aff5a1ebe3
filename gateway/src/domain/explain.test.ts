import type { LaunchPreview } from '@flexgate/shared';
import { describe, expect, it } from 'vitest';
import { explainForTeam } from './explain';

const product = { key: 'autocad', name: 'AutoCAD' };
const none = { dryRun: true as const, product: 'autocad', team: null, teamName: null, charge: 0, balance: null, balanceAfter: null };
const trial: LaunchPreview = {
  ...none,
  granted: true,
  source: 'trial',
  reason: 'ada is on a trial of AutoCAD until 2027-06-01T00:00:00.000Z.',
};
const flex: LaunchPreview = {
  ...none,
  granted: true,
  source: 'flex',
  team: 'tm_a',
  teamName: 'A',
  reason: 'Team A assigned AutoCAD to ada.',
};
const refused: LaunchPreview = {
  ...none,
  granted: false,
  source: null,
  code: 'no-access',
  rule: 'R12',
  reason: 'Team A does not give ada access to AutoCAD.',
};

describe("R18: explain as this team's admin may read it", () => {
  it("a licence held elsewhere that overrides this team's grant is 'from elsewhere', with no detail", () => {
    const e = explainForTeam(product, trial, flex, 'ada');
    expect(e).toMatchObject({ granted: true, source: 'elsewhere' });
    expect(e.reason).not.toMatch(/trial|2027/);
  });

  it('where this team grants nothing, its own refusal, as if the licence did not exist', () => {
    expect(explainForTeam(product, trial, refused, 'ada')).toEqual({
      product: 'autocad',
      name: 'AutoCAD',
      granted: false,
      source: null,
      code: 'no-access',
      rule: 'R12',
      reason: refused.reason,
    });
  });

  it("without anything elsewhere, this team's own answer", () => {
    expect(explainForTeam(product, flex, flex, 'ada')).toMatchObject({ granted: true, source: 'flex', reason: flex.reason });
  });
});
