import type { AccessExplanation, MemberView, Product } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { day, memberPath, ruleLabel, teamPath } from './format';
import { Badge, Csrf, TableWrap } from './layout';
import { ProductPicker, productList, StatusBadge } from './members';

const SOURCE: Record<string, string> = { flex: 'Flex tokens', elsewhere: 'Access from elsewhere' };

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
            <form
              method="post"
              action={`${memberPath(team.id, m.autodeskId)}/remove`}
              data-confirm={`Remove ${m.autodeskId} from ${team.name}?`}
            >
              <Csrf token={csrf} />
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
