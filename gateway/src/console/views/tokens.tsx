import type { LedgerEntry, LedgerKind, UsageSummary } from '@flexgate/shared';
import type { FC } from 'hono/jsx';
import { formatMoney } from '../../domain/money';
import { ConfirmPanel } from './confirm';
import { day, instant, num, teamPath, tokenCount, withInstants } from './format';
import { Badge, Csrf, Person, TableWrap } from './layout';

type Team = { id: string; name: string };
export type TokensTab = 'events' | 'buy' | 'move' | 'ledger';

const KIND_LABEL: Record<LedgerKind, string> = {
  purchase: 'Purchase',
  charge: 'Charge',
  refund: 'Refund',
  'transfer-out': 'Moved out',
  'transfer-in': 'Moved in',
  expiry: 'Expiry',
};
export const LEDGER_KINDS = Object.keys(KIND_LABEL) as LedgerKind[];

const KindBadge: FC<{ kind: LedgerKind }> = ({ kind }) => (
  <Badge kind={kind === 'expiry' ? 'err' : kind === 'purchase' || kind === 'transfer-in' ? 'ok' : kind === 'charge' ? 'muted' : 'info'}>
    {KIND_LABEL[kind]}
  </Badge>
);

const Signed: FC<{ n: number }> = ({ n }) => <>{n > 0 ? `+${num(n)}` : num(n)}</>;

/** The four token pages, one link each; the current one marked for screen readers too. */
export const TokensNav: FC<{ team: Team; active: TokensTab }> = ({ team, active }) => {
  const links: [TokensTab, string, string][] = [
    ['events', '/tokens', 'Token events'],
    ['buy', '/tokens/buy', 'Buy tokens'],
    ['move', '/tokens/move', 'Move tokens'],
    ['ledger', '/ledger', 'Ledger'],
  ];
  return (
    <nav class="subnav" aria-label="Tokens">
      {links.map(([tab, path, label]) => (
        <a href={teamPath(team.id, path)} class={tab === active ? 'active' : undefined} aria-current={tab === active ? 'page' : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
};

/** Flex's "token events": purchases, moves and expiries of the last 90 days, newest first. */
export const TokenEventsView: FC<{ team: Team; summary: UsageSummary }> = ({ team, summary: s }) => (
  <>
    <h1>Tokens</h1>
    <TokensNav team={team} active="events" />
    <section class="cards" aria-label="Tokens of the valid lots">
      <div class="card">
        <div class="card-label">Available</div>
        <div class="card-value" data-testid="available">
          {num(s.available)}
        </div>
        <div class="card-note">tokens that can be used now</div>
      </div>
      <div class="card">
        <div class="card-label">Used</div>
        <div class="card-value">{num(s.used)}</div>
        <div class="card-note">from the lots still valid</div>
      </div>
      <div class="card">
        <div class="card-label">Bought</div>
        <div class="card-value">{num(s.bought)}</div>
        <div class="card-note">lots still valid, moves included</div>
      </div>
    </section>
    <h2>Token events, last 90 days</h2>
    <p class="hint">Purchases, tokens moved between teams, and tokens that expired unused. Charges for use are in the ledger.</p>
    <TableWrap label="Token events">
      <table class="events stacked">
        <thead>
          <tr>
            <th>Date</th>
            <th>Event</th>
            <th class="num">Tokens</th>
            <th>Lot</th>
            <th>Details</th>
          </tr>
        </thead>
        <tbody>
          {s.events.length === 0 ? (
            <tr>
              <td colspan={5} class="empty">
                No purchase, move or expiry in the last 90 days.
              </td>
            </tr>
          ) : (
            s.events.map((e) => (
              <tr data-kind={e.kind}>
                <td class="strong">{instant(e.at)}</td>
                <td class="inline">
                  <KindBadge kind={e.kind} />
                </td>
                <td class="num inline">
                  <Signed n={e.tokens} />
                </td>
                <td class="mono" data-label="Lot">
                  {e.lotId}
                </td>
                <td>{withInstants(e.reason)}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
    </TableWrap>
  </>
);

export interface BuyDraft {
  tokens: string;
  purchasedOn: string;
  /** The price per token as typed, in the currency's major units (empty: no price recorded). */
  price: string;
}

/** R1: a purchase is one lot, valid one calendar year from its purchase date. */
export const BuyView: FC<{
  team: Team;
  csrf: string;
  draft: BuyDraft;
  today: string;
  expiresIfToday: string;
  idem: string;
  currency: string;
}> = ({ team, csrf, draft, today, expiresIfToday, idem, currency }) => (
  <>
    <h1>Buy tokens</h1>
    <TokensNav team={team} active="buy" />
    <section class="panel">
      <form method="post" action={teamPath(team.id, '/tokens/buy')} class="stack">
        <Csrf token={csrf} />
        {/* One key per form shown: a second click or a resend of the same form buys once. */}
        <input type="hidden" name="idem" value={idem} />
        <label class="field">
          <span>Tokens</span>
          <input type="number" name="tokens" min="1" max="1000000000" step="1" inputmode="numeric" value={draft.tokens} required />
        </label>
        <label class="field">
          <span>
            Purchase date <span class="sub">(optional: leave empty for now; an earlier date records a past purchase)</span>
          </span>
          <input type="date" name="purchasedOn" max={today} value={draft.purchasedOn} />
        </label>
        <label class="field">
          <span>
            Price per token, {currency} <span class="sub">(optional: what the tokens cost, for Spend and Advice)</span>
          </span>
          <input type="text" name="price" inputmode="decimal" placeholder="e.g. 1.00" value={draft.price} />
        </label>
        <p class="hint" id="expiry-note">
          Expiry: tokens are valid one year from their purchase date. Bought today, they expire on <strong>{day(expiresIfToday)}</strong>.
          The oldest tokens are used first.
        </p>
        <div>
          <button type="submit" class="btn primary">
            Buy tokens for {team.name}
          </button>
        </div>
      </form>
    </section>
  </>
);

/** What a purchase typed in the form will record, worked out before it is confirmed. */
export interface BuyFacts {
  tokens: number;
  /** The purchase day, or null: today, now. */
  purchasedOn: string | null;
  expiresAt: string;
  /** A backdated lot past its year: recorded, and expired at once. */
  expired: boolean;
  /** Minor units of the currency per token, if a price was typed. */
  pricePerToken: number | undefined;
}

/**
 * The purchase said in full before anything is recorded: buying is money, and one click on the
 * form must not be it. Confirm sends the same fields and key again; Change brings the form back.
 */
export const BuyConfirmView: FC<{ team: Team; csrf: string; draft: BuyDraft; facts: BuyFacts; idem: string; currency: string }> = ({
  team,
  csrf,
  draft,
  facts,
  idem,
  currency,
}) => {
  const total = facts.pricePerToken === undefined ? null : facts.tokens * facts.pricePerToken;
  return (
    <>
      <h1>Buy tokens</h1>
      <TokensNav team={team} active="buy" />
      <ConfirmPanel
        name="buy"
        question={`Buy ${tokenCount(facts.tokens)} for ${team.name}, ${facts.expired ? 'expired on' : 'expiring on'} ${day(facts.expiresAt)}?`}
        action={teamPath(team.id, '/tokens/buy')}
        csrf={csrf}
        fields={[
          ['idem', idem],
          ['tokens', draft.tokens],
          ['purchasedOn', draft.purchasedOn],
          ['price', draft.price],
        ]}
        confirm={`Confirm: buy ${tokenCount(facts.tokens)}`}
        change
        cancel={teamPath(team.id, '/tokens')}
        hint="Nothing is bought until you confirm."
      >
        <ul class="buy-facts">
          <li>
            Purchase date:{' '}
            {facts.purchasedOn === null ? 'today, now' : `${day(facts.purchasedOn)} (recorded at the start of that day, UTC)`}.
          </li>
          <li>
            {facts.pricePerToken === undefined
              ? 'No price recorded: Spend and Advice will not value these tokens.'
              : // Two safe integers multiply exactly while the product stays below 2^53; a larger total is not said.
                `Price: ${formatMoney(facts.pricePerToken, currency)} a token${
                  total !== null && Number.isSafeInteger(total) ? `, ${formatMoney(total, currency)} in all` : ''
                }.`}
          </li>
        </ul>
        {facts.expired ? (
          <p class="banner warn">
            Bought on that day, these tokens expired on {day(facts.expiresAt)}: they are recorded, and cannot be used.
          </p>
        ) : null}
      </ConfirmPanel>
    </>
  );
};

export interface MoveDraft {
  toTeam: string;
  tokens: string;
}

/** R3: tokens move to another team this admin manages, oldest lots first, keeping their expiry. */
export const MoveView: FC<{ team: Team; csrf: string; targets: Team[]; available: number; draft: MoveDraft; idem: string }> = ({
  team,
  csrf,
  targets,
  available,
  draft,
  idem,
}) => (
  <>
    <h1>Move tokens</h1>
    <TokensNav team={team} active="move" />
    <p class="lead">
      {team.name} has <strong>{num(available)}</strong> tokens available. Moved tokens keep their expiry date; the ones that expire first
      move first.
    </p>
    {targets.length === 0 ? (
      <section class="panel">
        <p>You manage only {team.name}: tokens can move only between teams you manage.</p>
      </section>
    ) : (
      <section class="panel">
        <form method="post" action={teamPath(team.id, '/tokens/move')} class="stack">
          <Csrf token={csrf} />
          <input type="hidden" name="idem" value={idem} />
          <label class="field">
            <span>To team</span>
            <select name="toTeam" required>
              {targets.map((t) => (
                <option value={t.id} selected={t.id === draft.toTeam}>
                  {t.name}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Tokens</span>
            <input type="number" name="tokens" min="1" max={String(Math.max(1, available))} step="1" value={draft.tokens} required />
          </label>
          <div>
            <button type="submit" class="btn primary">
              Move tokens
            </button>
          </div>
        </form>
      </section>
    )}
  </>
);

/**
 * R3: a move said in full before it is made, the balances of both teams after it included: one
 * click on the form must not empty a team. Confirm sends the same fields and key again.
 */
export const MoveConfirmView: FC<{
  team: Team;
  target: Team;
  csrf: string;
  draft: MoveDraft;
  /** The tokens to move and both teams' balances now. */
  facts: { tokens: number; from: number; to: number };
  idem: string;
}> = ({ team, target, csrf, draft, facts, idem }) => (
  <>
    <h1>Move tokens</h1>
    <TokensNav team={team} active="move" />
    <ConfirmPanel
      name="move"
      question={`Move ${tokenCount(facts.tokens)} from ${team.name} to ${target.name}?`}
      action={teamPath(team.id, '/tokens/move')}
      csrf={csrf}
      fields={[
        ['idem', idem],
        ['toTeam', draft.toTeam],
        ['tokens', draft.tokens],
      ]}
      confirm={`Confirm: move ${tokenCount(facts.tokens)}`}
      change
      cancel={teamPath(team.id, '/tokens')}
      hint="Nothing is moved until you confirm."
    >
      <ul class="move-facts">
        <li>
          {team.name}: {tokenCount(facts.from)} now, {tokenCount(facts.from - facts.tokens)} after.
        </li>
        <li>
          {target.name}: {tokenCount(facts.to)} now, {tokenCount(facts.to + facts.tokens)} after.
        </li>
        <li>Moved tokens keep their expiry date; the ones that expire first move first.</li>
      </ul>
    </ConfirmPanel>
  </>
);

export interface LedgerQuery {
  kind: LedgerKind | '';
  user: string;
  before: number | null;
}

/** Names for a ledger page, by id: admins, people (members and accounts), products; and who is still a member. */
export interface LedgerLabels {
  admins: Map<string, string>;
  people: Map<string, string>;
  products: Map<string, string>;
  members: Set<string>;
}

/**
 * Who made an entry, as a person reads it. The ledger's actor does not say whether an admin used
 * its API key or the console (the audit trail does), so an admin is its name alone.
 */
function by(actor: string, labels: LedgerLabels): string {
  const [kind, id = ''] = actor.split(/:(.*)/s);
  if (kind === 'admin' || kind === 'console') return labels.admins.get(id) ?? id;
  if (kind === 'user') return labels.people.get(id) ?? id;
  if (kind === 'operator') return 'Platform operator';
  return kind === 'system' ? 'flexgate (automatic)' : actor;
}

/** R5: every change of the balance, newest first, a page at a time. */
export const LedgerView: FC<{ team: Team; q: LedgerQuery; entries: LedgerEntry[]; older: number | null; labels: LedgerLabels }> = ({
  team,
  q,
  entries,
  older,
  labels,
}) => {
  const filters = new URLSearchParams();
  if (q.kind) filters.set('kind', q.kind);
  if (q.user) filters.set('user', q.user);
  const page = (before: number | null) => {
    const p = new URLSearchParams(filters);
    if (before !== null) p.set('before', String(before));
    const s = p.toString();
    return `${teamPath(team.id, '/ledger')}${s ? `?${s}` : ''}`;
  };
  return (
    <>
      <h1>Ledger</h1>
      <TokensNav team={team} active="ledger" />
      <p class="lead">Every change of the balance, newest first: purchases, charges for use, refunds, moves and expiries.</p>
      <form method="get" action={teamPath(team.id, '/ledger')} class="panel filters">
        <label class="field">
          <span>Kind</span>
          <select name="kind">
            <option value="" selected={q.kind === ''}>
              All kinds
            </option>
            {LEDGER_KINDS.map((k) => (
              <option value={k} selected={q.kind === k}>
                {KIND_LABEL[k]}
              </option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>User (e-mail)</span>
          <input type="email" name="user" value={q.user} placeholder="anyone" />
        </label>
        <div class="filter-buttons">
          <button type="submit" class="btn primary">
            Filter
          </button>
          {q.kind || q.user ? (
            <a class="btn" href={teamPath(team.id, '/ledger')}>
              Clear
            </a>
          ) : null}
        </div>
      </form>
      <TableWrap label="Ledger entries">
        <table class="ledger stacked">
          <thead>
            <tr>
              <th>When</th>
              <th>Kind</th>
              <th class="num">Tokens</th>
              <th>User</th>
              <th>Product</th>
              <th>Lot</th>
              <th>By</th>
            </tr>
          </thead>
          <tbody>
            {entries.length === 0 ? (
              <tr>
                <td colspan={7} class="empty">
                  No ledger entry {q.kind || q.user ? 'matches these filters' : 'yet'}.
                </td>
              </tr>
            ) : (
              entries.map((e) => (
                <tr data-entry={e.id} data-kind={e.kind}>
                  <td>
                    <strong class="when">{instant(e.at)}</strong>
                    <div class="sub">{withInstants(e.reason)}</div>
                  </td>
                  <td class="inline">
                    <KindBadge kind={e.kind} />
                  </td>
                  <td class="num inline">
                    <Signed n={e.tokens} />
                  </td>
                  <td data-label={e.autodeskId ? 'User' : undefined}>
                    {e.autodeskId ? (
                      <Person
                        team={team.id}
                        id={e.autodeskId}
                        name={labels.people.get(e.autodeskId)}
                        member={labels.members.has(e.autodeskId)}
                      />
                    ) : (
                      ''
                    )}
                  </td>
                  <td data-label={e.product ? 'Product' : undefined}>
                    {e.product ? (
                      <>
                        {labels.products.get(e.product) ?? e.product}
                        {labels.products.get(e.product) ? <div class="sub">{e.product}</div> : null}
                      </>
                    ) : (
                      ''
                    )}
                  </td>
                  <td class="mono" data-label="Lot">
                    {e.lotId}
                  </td>
                  <td data-label="By" title={e.actor}>
                    {by(e.actor, labels)}
                  </td>
                </tr>
              ))
            )}
          </tbody>
        </table>
      </TableWrap>
      {q.before !== null || older !== null ? (
        <nav class="pager" aria-label="Ledger pages">
          {q.before !== null ? <a href={page(null)}>Newest entries</a> : null}
          {older !== null ? (
            <a href={page(older)} rel="next">
              Older entries
            </a>
          ) : null}
        </nav>
      ) : null}
    </>
  );
};
