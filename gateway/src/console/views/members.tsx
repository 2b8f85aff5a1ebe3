import { type ImportResult, MEMBER_SEARCH_MAX, type MemberView, type Product } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { day, memberPath, teamPath } from './format';
import { Badge, Csrf, Pager, TableWrap } from './layout';

export const StatusBadge: FC<{ status: MemberView['status'] }> = ({ status }) =>
  status === 'active' ? (
    <Badge kind="ok">active</Badge>
  ) : status === 'invited' ? (
    <Badge kind="info">invited</Badge>
  ) : (
    <Badge kind="err">invitation expired</Badge>
  );

export function productList(m: { allProducts: boolean; products: string[] }, catalog: Product[]): string {
  if (m.allProducts) return 'All products';
  const names = new Map(catalog.map((p) => [p.key, p.name]));
  return m.products.length === 0 ? '—' : m.products.map((k) => names.get(k) ?? k).join(', ');
}

/** Product check boxes; with `allProducts` an "All products" box first (R12). */
export const ProductPicker: FC<{ catalog: Product[]; selected: string[]; allProducts?: boolean | null; legend: string }> = ({
  catalog,
  selected,
  allProducts,
  legend,
}) => (
  <fieldset class="picker">
    <legend>{legend}</legend>
    {allProducts !== undefined && allProducts !== null ? (
      <label class="check all">
        <input type="checkbox" name="allProducts" value="1" checked={allProducts} data-all-products />
        <span>
          All products <span class="sub">(including products added to the catalog later)</span>
        </span>
      </label>
    ) : null}
    <div class="checks">
      {catalog.map((p) => (
        <label class="check">
          <input type="checkbox" name="product" value={p.key} checked={selected.includes(p.key)} />
          <span>
            {p.name} <span class="sub">{p.dailyRate} tokens/day</span>
          </span>
        </label>
      ))}
    </div>
  </fieldset>
);

export interface InviteDraft {
  invite: string;
  guest: boolean;
  allProducts: boolean;
  products: string[];
}

const GuestCheck: FC<{ checked: boolean }> = ({ checked }) => (
  <label class="check">
    <input type="checkbox" name="guest" value="1" checked={checked} />
    <span>
      Guest <span class="sub">(never gets the team's default products)</span>
    </span>
  </label>
);

export const MembersView: FC<{
  team: { id: string; name: string };
  csrf: string;
  /** One page of members, in Autodesk ID order. */
  members: MemberView[];
  /** Every member of the team, by status. */
  counts: { active: number; invited: number; expired: number };
  /** `first`: this is not the first page; `next`: the cursor of the next page, if any; `at`: this page's. */
  paging: { first: boolean; next: string | null; at?: string | undefined };
  /** What the list is narrowed to (a name or e-mail contains it), '' for every member. */
  search?: string;
  catalog: Product[];
  defaults: string[];
  draft?: InviteDraft;
  imported?: ImportResult | null;
  /** Pending members never e-mailed (an import's, R14), the send form's key, and the hourly limit (null: none). */
  unsent?: { count: number; idem: string; perHour: number | null };
}> = ({ team, csrf, members, counts, paging, search = '', catalog, defaults, draft, imported, unsent }) => {
  const d = draft ?? { invite: '', guest: false, allProducts: false, products: [] };
  const total = counts.active + counts.invited + counts.expired;
  const list = teamPath(team.id, '/members');
  /** This list's address: the search kept from page to page. */
  const pageOf = (after?: string) => {
    const q = new URLSearchParams();
    if (search) q.set('q', search);
    if (after !== undefined) q.set('after', after);
    return q.size > 0 ? `${list}?${q}` : list;
  };
  return (
    <>
      <h1>Members</h1>
      <p class="lead">
        {total} member{total === 1 ? '' : 's'}: {counts.active} active, {counts.invited} invited, {counts.expired} with an expired
        invitation.
        {defaults.length > 0
          ? ` Non-guest members also get the team's default products (${productList({ allProducts: false, products: defaults }, catalog)}).`
          : ''}
      </p>

      {imported ? (
        <section class="panel import-result" id="import-result" aria-live="polite">
          <h2>Import result</h2>
          <p>
            {imported.created} member{imported.created === 1 ? '' : 's'} added, {imported.updated} updated,{' '}
            {imported.errors.length === 0
              ? 'no errors.'
              : `${imported.errors.length} line${imported.errors.length === 1 ? '' : 's'} refused:`}
          </p>
          {imported.errors.length > 0 ? (
            <TableWrap label="Import errors">
              <table class="errors">
                <thead>
                  <tr>
                    <th class="num">Line</th>
                    <th>Problem</th>
                  </tr>
                </thead>
                <tbody>
                  {imported.errors.map((e) => (
                    <tr>
                      <td class="num">{e.line}</td>
                      <td>{e.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </TableWrap>
          ) : null}
        </section>
      ) : null}

      {unsent && unsent.count > 0 ? (
        <section class="panel send-invitations" id="send-invitations">
          <h2>Invitations not sent yet</h2>
          <p>
            {unsent.count === 1 ? '1 invited person has' : `${unsent.count.toLocaleString('en-US')} invited people have`} not been e-mailed
            their invitation: an import adds people without e-mailing them. They can join the team only by accepting it.
          </p>
          <form method="post" action={teamPath(team.id, '/invitations/send')} class="stack">
            <Csrf token={csrf} />
            <input type="hidden" name="idem" value={unsent.idem} />
            <div>
              <button type="submit" class="btn primary">
                Send invitations to {unsent.count === 1 ? '1 person' : `${unsent.count.toLocaleString('en-US')} people`}
              </button>
            </div>
          </form>
          <p class="hint">
            Each gets an e-mail with a link valid for 7 days.
            {unsent.perHour !== null
              ? ` At most ${unsent.perHour.toLocaleString('en-US')} are sent an hour from your key and from this team; the rest wait for you to send again later.`
              : ''}{' '}
            Nobody gets more than 3 invitation e-mails a day, whichever teams send them.
          </p>
        </section>
      ) : null}

      <search>
        <form method="get" action={list} class="panel filters member-search">
          <label class="field">
            <span>Find a member</span>
            <input
              type="search"
              name="q"
              value={search}
              maxlength={MEMBER_SEARCH_MAX}
              placeholder="Part of a name or e-mail"
              autocomplete="off"
              spellcheck={false}
            />
          </label>
          <div class="filter-buttons">
            <button type="submit" class="btn primary">
              Search
            </button>
            {search ? (
              <a class="btn" href={list}>
                Show all
              </a>
            ) : null}
          </div>
        </form>
      </search>
      {search ? <p class="hint search-says">Members whose name or e-mail contains “{search}”, any case.</p> : null}

      <TableWrap label="Members">
        <table class="members stacked">
          <thead>
            <tr>
              <th>Member</th>
              <th>Status</th>
              <th>Guest</th>
              <th>Products</th>
              <th class="actions-col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {members.length === 0 ? (
              <tr>
                <td colspan={5} class="empty">
                  {search ? `No member's name or e-mail contains “${search}”.` : 'No members yet: invite someone below.'}
                </td>
              </tr>
            ) : (
              members.map((m) => (
                <tr data-member={m.autodeskId}>
                  <td class="who-cell">
                    <a href={memberPath(team.id, m.autodeskId)}>{m.name}</a>
                    <div class="sub mono">{m.autodeskId}</div>
                  </td>
                  <td class="inline">
                    <StatusBadge status={m.status} />
                    {m.invitation && m.status !== 'active' ? (
                      <div class="sub">
                        {m.invitation.emailedAt === null
                          ? 'not e-mailed yet'
                          : `${m.status === 'expired' ? 'on' : 'until'} ${day(m.invitation.expiresAt)}`}
                      </div>
                    ) : null}
                  </td>
                  <td class="inline">{m.guest ? <Badge kind="muted">guest</Badge> : ''}</td>
                  <td class="products" data-label="Products">
                    {productList(m, catalog)}
                  </td>
                  <td class="actions">
                    <a class="btn small" href={memberPath(team.id, m.autodeskId)}>
                      Access
                    </a>
                    {m.invitation && m.status !== 'active' ? (
                      <form method="post" action={`${memberPath(team.id, m.autodeskId)}/resend`}>
                        <Csrf token={csrf} />
                        <input type="hidden" name="invitation" value={m.invitation.id} />
                        <button type="submit" class="btn small">
                          Resend
                        </button>
                      </form>
                    ) : null}
                    <form method="post" action={`${memberPath(team.id, m.autodeskId)}/remove`}>
                      <Csrf token={csrf} />
                      {/* Where Cancel goes back to: this page of this search. */}
                      {search ? <input type="hidden" name="q" value={search} /> : null}
                      {paging.at !== undefined ? <input type="hidden" name="after" value={paging.at} /> : null}
                      <button type="submit" class="btn small danger">
                        Remove
                      </button>
                    </form>
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </TableWrap>
      <Pager label="Member pages" first={paging.first ? pageOf() : null} next={paging.next !== null ? pageOf(paging.next) : null} />

      <div class="split">
        {/* One form, one product picker: the text typed says whether a newcomer is invited by name or an existing account is asked. */}
        <section class="panel" id="add-member">
          <h2>Invite a member</h2>
          <form method="post" action={teamPath(team.id, '/members')} class="stack">
            <Csrf token={csrf} />
            <label class="field">
              <span>
                Name and e-mail, written <code>Full Name &lt;email&gt;</code>, or the Autodesk ID (e-mail) of an existing account
              </span>
              <input
                type="text"
                name="invite"
                required
                maxlength={320}
                placeholder="Ada Lovelace <ada@example.com> or ada@example.com"
                value={d.invite}
                autocomplete="off"
                autocapitalize="none"
                spellcheck={false}
                aria-describedby="invite-who"
              />
            </label>
            <p class="hint" id="invite-who">
              With a name, anyone is invited and listed under that name. An e-mail alone must be someone's Autodesk ID: they are listed
              under the name of their own account.
            </p>
            <GuestCheck checked={d.guest} />
            <ProductPicker catalog={catalog} selected={d.products} allProducts={d.allProducts} legend="Flex products" />
            <p class="hint">
              Either way the person is e-mailed an invitation and joins once they accept it, within 7 days; it can be resent after that.
            </p>
            <div>
              <button type="submit" class="btn primary">
                Send invitation
              </button>
            </div>
          </form>
        </section>
        <section class="panel">
          <h2>Import from CSV</h2>
          <form method="post" action={teamPath(team.id, '/members/import')} enctype="multipart/form-data" class="stack">
            <Csrf token={csrf} />
            <p class="hint">
              Columns <code>name,email,products,guest</code> (a header line first; products separated by <code>;</code>, or <code>*</code>{' '}
              for all). A line is applied whole or listed as an error. Import sends no e-mail: send the invitations afterwards with “Send
              invitations”.
            </p>
            <label class="field">
              <span>CSV file</span>
              <input type="file" name="file" accept=".csv,text/csv" required />
            </label>
            <div>
              <button type="submit" class="btn">
                Import
              </button>
            </div>
          </form>
        </section>
      </div>
    </>
  );
};
