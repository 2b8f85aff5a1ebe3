import type { LaunchPreview } from '@flexgate/shared';
import type { AccessDecision } from './precedence';

export type { LaunchPreview };

/**
 * What a launch would do now, without doing it (`POST /v1/launch` with `dryRun`, and the admins'
 * explain): precedence's decision, then R4 as the charge applies it. A session already open
 * charges nothing (R7); otherwise the day's rate must be in the team's valid lots.
 */
export type FlexState =
  /**
   * A session of this (user, product) is open: a launch finds it and charges nothing. Its team's
   * balance is null when the caller is no active member of that team (launch/facts.ts).
   */
  { open: true; balance: number | null; rate: number } | { open: false; balance: number; rate: number };

export function previewLaunch(product: string, d: AccessDecision, flex?: FlexState): LaunchPreview {
  const none = { dryRun: true as const, product, team: null, teamName: null, charge: 0, balance: null, balanceAfter: null };
  if (!d.granted) return { ...none, granted: false, source: null, code: d.code, rule: d.rule, reason: d.reason };
  if (d.source !== 'flex') return { ...none, granted: true, source: d.source, reason: d.reason };
  const team = { team: d.team.teamId, teamName: d.team.teamName };
  if (!flex) throw new Error('a Flex grant is previewed with its team balance');
  if (flex.open) {
    return { ...none, ...team, granted: true, source: 'flex', balance: flex.balance, balanceAfter: flex.balance, reason: d.reason };
  }
  if (flex.balance < flex.rate) {
    return {
      ...none,
      ...team,
      granted: false,
      source: null,
      balance: flex.balance,
      balanceAfter: flex.balance,
      code: 'insufficient-tokens',
      rule: 'R4',
      reason: `Team ${d.team.teamName} has ${flex.balance} tokens left; ${d.productName} needs ${flex.rate} for a day of use. A team admin can buy more tokens.`,
    };
  }
  return {
    ...none,
    ...team,
    granted: true,
    source: 'flex',
    charge: flex.rate,
    balance: flex.balance,
    balanceAfter: flex.balance - flex.rate,
    reason: d.reason,
  };
}
