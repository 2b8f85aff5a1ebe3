import type { AccessExplanation, LaunchPreview } from '@flexgate/shared';

/**
 * R18 as a team's admin may read it. The launch decides with everything the person holds, but an
 * admin sees only what their own team grants: never a licence or a membership held elsewhere (a
 * trial of AutoCAD, another team). When something from elsewhere takes precedence over a grant of
 * this team, the answer says only that; otherwise it is this team's own decision, as if nothing
 * else existed.
 *
 * `launch` is the preview with every fact; `team` the preview with this team's facts alone.
 */
export function explainForTeam(
  p: { key: string; name: string },
  launch: LaunchPreview,
  team: LaunchPreview,
  autodeskId: string,
): AccessExplanation {
  const fromElsewhere = launch.granted && launch.source !== 'flex';
  if (fromElsewhere && team.granted) {
    return {
      product: p.key,
      name: p.name,
      granted: true,
      source: 'elsewhere',
      reason: `${autodeskId} has access to ${p.name} from elsewhere, which takes precedence over this team's: launches use none of this team's tokens.`,
    };
  }
  if (team.granted) return { product: p.key, name: p.name, granted: true, source: 'flex', reason: team.reason };
  return {
    product: p.key,
    name: p.name,
    granted: false,
    source: null,
    ...(team.code ? { code: team.code } : {}),
    ...(team.rule ? { rule: team.rule } : {}),
    reason: team.reason,
  };
}
