import { describe, expect, it } from 'vitest';
import type { AccessDecision, MembershipFact } from './precedence';
import { previewLaunch } from './preview';

const team = { teamId: 'tm_1', teamName: 'Demo Architects' } as MembershipFact;
const flex: AccessDecision = { granted: true, source: 'flex', team, productName: 'Revit', reason: 'assigned' };

describe('what a launch would do (dry run, explain)', () => {
  it('R6: a Flex launch with no session open would charge the daily rate, and says the balance after', () => {
    expect(previewLaunch('revit', flex, { open: false, balance: 490, rate: 10 })).toMatchObject({
      granted: true,
      source: 'flex',
      team: 'tm_1',
      charge: 10,
      balance: 490,
      balanceAfter: 480,
    });
  });
  it('R7: with its session open it would charge nothing', () => {
    expect(previewLaunch('revit', flex, { open: true, balance: 5, rate: 10 })).toMatchObject({ granted: true, charge: 0, balanceAfter: 5 });
  });
  it('R4: fewer tokens than the rate would be refused, as the launch refuses', () => {
    const p = previewLaunch('revit', flex, { open: false, balance: 9, rate: 10 });
    expect(p).toMatchObject({ granted: false, code: 'insufficient-tokens', rule: 'R4', charge: 0 });
    expect(p.reason).toMatch(/9 tokens left; Revit needs 10/);
  });
  it('R4: exactly the rate left would be granted, leaving 0, as the launch grants it', () => {
    expect(previewLaunch('revit', flex, { open: false, balance: 10, rate: 10 })).toMatchObject({
      granted: true,
      charge: 10,
      balanceAfter: 0,
    });
  });
  it('R9: a subscription charges nothing; a refusal keeps its code and rule', () => {
    const sub = { granted: true, source: 'subscription', productName: 'Revit', reason: 'own subscription' } as AccessDecision;
    expect(previewLaunch('revit', sub)).toMatchObject({ granted: true, source: 'subscription', charge: 0, balance: null });
    const no: AccessDecision = { granted: false, code: 'no-access', rule: 'R12', reason: 'not assigned' };
    expect(previewLaunch('revit', no)).toMatchObject({ granted: false, code: 'no-access', rule: 'R12' });
  });
});
