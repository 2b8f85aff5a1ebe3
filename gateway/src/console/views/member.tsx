import type { AccessExplanation, MemberView, Product } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { ConfirmPanel } from './confirm';
import { day, memberPath, ruleLabel, teamPath } from './format';
import { Badge, Csrf, TableWrap } from './layout';
import { ProductPicker, productList, StatusBadge } from './members';

type Team = { id: string; name: string };

const SOURCE: Record<string, string> = { flex: 'Flex tokens', elsewhere: 'Access from elsewhere' };

/**
 * What making this member a guest, or a regular member, does to the products they may use (R13):
 * it adds or takes away the team defaults not selected for them, and e-mails them only then (R14).
 */
function guestHint(m: MemberView, catalog: Product[], defaults: string[]): string {
  const moved = m.allProducts ? [] : defaults.filter((d) => !m.products.includes(d));
  const now = m.guest
    ? `${m.name} is a guest: guests never get the team's default products, only those selected for them.`
    : `${m.name} is a regular member: the team's default products apply to them on top of their own.`;
  if (moved.length === 0) {
    const why = m.allProducts
      ? 'They have all products'
      : defaults.length === 0
        ? 'The team has no default products now'
        : 'Every default product is selected for them already';
    return `${now} ${why}, so this changes nothing they may use today.`;
  }
  const names = productList({ allProducts: false, products: moved }, catalog);
  const change = m.guest ? `Making them a regular member gives them ${names} too.` : `Making them a guest takes away ${names}.`;
  const mail = m.status === 'active' ? 'The member is e-mailed their new products.' : 'Nobody is e-mailed: they have not accepted yet.';
  return `${now} ${change} ${mail}`;
}

export const MemberPage: FC<{
  team: { id: string; name: string };
  csrf: string;
  member: MemberView;
  catalog: Product[];
  defaults: string[];
  access: AccessExplanation[];
}> = ({ team, csrf, member: m, catalog, defaults, access }) => {
  const granted = access.filter((a) => a.granted).length;
  return (
    <>
      <p class="crumbs">
        <a href={teamPath(team.id, '/members')}>← Members</a>
      </p>
      <h1>{m.name}</h1>
      <p class="lead">
        <span class="mono">{m.autodeskId}</span> · <StatusBadge status={m.status} /> {m.guest ? <Badge kind="muted">guest</Badge> : null}
        {m.invitation && m.status !== 'active'
          ? `${m.status === 'expired' ? ' on' : ' · invitation valid until'} ${day(m.invitation.expiresAt)}`
          : ''}
      </p>

      <section>
        <h2>Access explained</h2>
        <p class="hint">
          What a launch of each catalog product by this member through {team.name} would get right now, and why: a subscription first, then
          a trial, then Flex tokens. {granted} of {access.length} product{access.length === 1 ? '' : 's'} granted.
        </p>
        <TableWrap label="Access explained">
          <table class="explain stacked">
            <thead>
              <tr>
                <th>Product</th>
                <th>Access</th>
                <th>Source</th>
                <th>Why</th>
              </tr>
            </thead>
            <tbody>
              {access.map((a) => (
                <tr data-product={a.product} class={a.granted ? 'granted' : 'refused'}>
                  <td class="inline strong">{a.name}</td>
                  <td class="inline">{a.granted ? <Badge kind="ok">granted</Badge> : <Badge kind="err">refused</Badge>}</td>
                  <td class="inline">
                    {a.granted && a.source ? (
                      (SOURCE[a.source] ?? a.source)
                    ) : (
                      <span class="sub">{[a.code, ruleLabel(a.rule)].filter(Boolean).join(' · ')}</span>
                    )}
                  </td>
                  <td class="why">{a.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      </section>

      <div class="split">
        <section class="panel">
          <h2>Flex products</h2>
          <form method="post" action={`${memberPath(team.id, m.autodeskId)}/products`} class="stack">
            <Csrf token={csrf} />
            <ProductPicker
              catalog={catalog}
              selected={m.products}
              allProducts={m.allProducts}
              legend={`Products ${m.name} may use through Flex`}
            />
            <p class="hint">
              Currently: {productList(m, catalog)}.{' '}
              {m.guest
                ? 'Guests never get the team defaults.'
                : defaults.length > 0
                  ? `The team defaults (${productList({ allProducts: false, products: defaults }, catalog)}) come on top.`
                  : 'The team has no default products.'}{' '}
              {m.status === 'active'
                ? 'Saving a change e-mails the member.'
                : 'Saving e-mails nobody now: the invitation e-mail lists these products when it is sent or resent.'}
            </p>
            <div>
              <button type="submit" class="btn primary">
                Save products
              </button>
            </div>
          </form>
        </section>
        <section class="panel">
          <h2>Membership</h2>
          <div class="stack">
            <form method="post" action={`${memberPath(team.id, m.autodeskId)}/guest`}>
              <Csrf token={csrf} />
              {/* The status asked for, not a toggle: the form sent twice asks for the same one. */}
              <input type="hidden" name="guest" value={m.guest ? 'false' : 'true'} />
              <p class="hint">{guestHint(m, catalog, defaults)}</p>
              <button type="submit" class="btn">
                {m.guest ? 'Make a regular member' : 'Make a guest'}
              </button>
            </form>
            {m.invitation && m.status !== 'active' ? (
              <form method="post" action={`${memberPath(team.id, m.autodeskId)}/resend`}>
                <Csrf token={csrf} />
                <input type="hidden" name="invitation" value={m.invitation.id} />
                <p class="hint">A resend starts a new 7-day period; earlier invitation links stop working.</p>
                <button type="submit" class="btn">
                  Resend invitation
                </button>
              </form>
            ) : null}
            <form method="post" action={`${memberPath(team.id, m.autodeskId)}/remove`}>
              <Csrf token={csrf} />
              {/* Its confirmation's Cancel comes back to this page. */}
              <input type="hidden" name="from" value="member" />
              <p class="hint">Removing ends access at once; sessions already paid for run to their end.</p>
              <button type="submit" class="btn danger">
                Remove from team
              </button>
            </form>
          </div>
        </section>
      </div>
    </>
  );
};

/** What removing `m` ends, said before it is done: one line per consequence, by their status. */
function removalFacts(m: MemberView, team: string): string[] {
  const inv = m.invitation;
  const first =
    m.status === 'active'
      ? `Their launches through ${team} are refused from now on; sessions already open run to their end (they were paid for).`
      : !inv || inv.emailedAt === null
        ? 'Their invitation, never e-mailed, is withdrawn: they will not be asked to join.'
        : m.status === 'expired'
          ? `Their invitation, expired on ${day(inv.expiresAt)}, can no longer be resent.`
          : `Their invitation stops working now: the link e-mailed to them, valid until ${day(inv.expiresAt)}, no longer lets them join.`;
  return [
    first,
    'The products chosen for them here are forgotten. To bring them back, invite them again: they join once they accept.',
    'Usage, the ledger and the audit trail keep their name. Nothing is e-mailed to them.',
  ];
}

/**
 * R11: a removal said before it is made, for an admin without JavaScript as with it: one click on
 * Remove must not end someone's access. Only Confirm removes; Cancel goes back where Remove was.
 */
/** `cancel`: where Cancel goes back to, the page Remove was pressed on. */
export const RemoveConfirmView: FC<{ team: Team; csrf: string; member: MemberView; cancel: string }> = ({
  team,
  csrf,
  member: m,
  cancel,
}) => (
  <>
    <h1>Remove a member</h1>
    <ConfirmPanel
      name="remove"
      question={`Remove ${m.name} (${m.autodeskId}) from ${team.name}?`}
      action={`${memberPath(team.id, m.autodeskId)}/remove`}
      csrf={csrf}
      fields={[]}
      confirm={`Confirm: remove ${m.name}`}
      danger
      cancel={cancel}
      hint="Nobody is removed until you confirm."
    >
      <p>What happens:</p>
      <ul class="remove-facts">
        {removalFacts(m, team.name).map((f) => (
          <li>{f}</li>
        ))}
      </ul>
    </ConfirmPanel>
  </>
);
