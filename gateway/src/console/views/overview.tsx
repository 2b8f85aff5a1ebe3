import type { FC } from 'hono/jsx';
import type { Overview } from '../data';
import { UsageChart } from './chart';
import { day, daysUntil, num, teamPath } from './format';
import { Badge, Person, TableWrap } from './layout';

/** Lots expiring within this many days stand out on the overview. */
export const SOON_DAYS = 30;

/**
 * A team's overview. `moveFrom`: the admin's other team that has tokens to move here (R3), if any;
 * the low-balance banner offers that move, opening the Move page of that team with this one as the
 * destination, and otherwise offers buying alone.
 */
export const OverviewView: FC<{ team: { id: string; name: string }; o: Overview; moveFrom: { id: string; name: string } | null }> = ({
  team,
  o,
  moveFrom,
}) => {
  const { balance: b, now } = o;
  const live = b.lots.filter((l) => !l.expired);
  const soon = live.filter((l) => l.remaining > 0 && daysUntil(l.expiresAt, now) <= SOON_DAYS);
  return (
    <>
      <h1>{team.name}</h1>
      <section class="cards" aria-label="Balance">
        <div class="card">
          <div class="card-label">Balance</div>
          <div class="card-value" data-testid="balance">
            {num(b.balance)}
          </div>
          <div class="card-note">tokens available now</div>
        </div>
        <div class="card">
          <div class="card-label">Used, last 30 days</div>
          <div class="card-value">{num(o.total.tokens)}</div>
          <div class="card-note">
            {num(o.total.sessions)} usage session{o.total.sessions === 1 ? '' : 's'}
          </div>
        </div>
        <div class="card">
          <div class="card-label">Valid tokens bought</div>
          <div class="card-value">{num(b.alerts.validBought)}</div>
          <div class="card-note">low-balance alert below {num(b.alerts.lowBalanceThreshold)}</div>
        </div>
      </section>
      {b.alerts.lowBalance ? (
        <div class="banner warn banner-actions">
          <p>
            The balance is below 20% of the valid tokens bought ({num(b.alerts.lowBalanceThreshold)}): launches will soon be refused. Buy
            tokens{moveFrom ? ` or move some from ${moveFrom.name}` : ''}.
          </p>
          <p class="banner-buttons">
            <a class="btn small primary" href={teamPath(team.id, '/tokens/buy')}>
              Buy tokens
            </a>
            {moveFrom ? (
              <a class="btn small" href={`${teamPath(moveFrom.id, '/tokens/move')}?${new URLSearchParams({ to: team.id })}`}>
                Move tokens from {moveFrom.name}
              </a>
            ) : null}
          </p>
        </div>
      ) : null}
      {soon.length > 0 ? (
        <p class="banner warn">
          {num(soon.reduce((s, l) => s + l.remaining, 0))} tokens expire within {SOON_DAYS} days and cannot be used after that.
        </p>
      ) : null}

      <section>
        <h2>Tokens consumed, last 30 days</h2>
        <div class="panel chart-panel">
          <UsageChart days={o.days} />
        </div>
      </section>

      <div class="split">
        <section>
          <h2>Top users</h2>
          <TableWrap label="Top users">
            <table>
              <thead>
                <tr>
                  <th>User</th>
                  <th class="num">Tokens</th>
                  <th class="num">Sessions</th>
                </tr>
              </thead>
              <tbody>
                {o.topUsers.length === 0 ? (
                  <tr>
                    <td colspan={3} class="empty">
                      No use in the last 30 days.
                    </td>
                  </tr>
                ) : (
                  o.topUsers.map((u) => (
                    <tr>
                      <td>
                        <Person team={team.id} id={u.key} name={u.name} member={u.member} />
                      </td>
                      <td class="num">{num(u.tokens)}</td>
                      <td class="num">{num(u.sessions)}</td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </TableWrap>
        </section>
        <section>
          <h2>Top products</h2>
          <TableWrap label="Top products">
            <table>
              <thead>
                <tr>
                  <th>Product</th>
                  <th class="num">Tokens</th>
                  <th class="num">Sessions</th>
                </tr>
              </thead>
              <tbody>
                {o.topProducts.length === 0 ? (
                  <tr>
                    <td colspan={3} class="empty">
                      No use in the last 30 days.
                    </td>
                  </tr>
                ) : (
                  o.topProducts.map((p) => (
                    <tr>
                      <td>{p.name}</td>
                      <td class="num">{num(p.tokens)}</td>
                      <td class="num">{num(p.sessions)}</td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </TableWrap>
          <p class="more">
            <a href={teamPath(team.id, '/usage')}>Full usage report →</a>
          </p>
        </section>
      </div>

      <section>
        <h2>Token lots</h2>
        <p class="hint">Each purchase is a lot valid for one year. Tokens are drawn from the lot that expires first.</p>
        <TableWrap label="Token lots">
          <table class="lots">
            <thead>
              <tr>
                <th>Lot</th>
                <th>Purchased</th>
                <th>Expires</th>
                <th class="num">Bought</th>
                <th class="num">Remaining</th>
                <th>State</th>
              </tr>
            </thead>
            <tbody>
              {b.lots.length === 0 ? (
                <tr>
                  <td colspan={6} class="empty">
                    No tokens bought yet.
                  </td>
                </tr>
              ) : (
                b.lots.map((l) => {
                  const left = daysUntil(l.expiresAt, now);
                  // A lot used up or moved away has nothing left to lose: its expiry is no warning.
                  const empty = !l.expired && l.remaining === 0;
                  const isSoon = !l.expired && !empty && left <= SOON_DAYS;
                  return (
                    <tr class={l.expired ? 'expired' : empty ? 'empty' : isSoon ? 'soon' : undefined} data-lot={l.id}>
                      <td class="mono">{l.id}</td>
                      <td>{day(l.purchasedAt)}</td>
                      <td>{day(l.expiresAt)}</td>
                      <td class="num">{num(l.tokens)}</td>
                      <td class="num">{num(l.remaining)}</td>
                      <td>
                        {l.expired ? (
                          <Badge kind="muted">expired</Badge>
                        ) : empty ? (
                          <Badge kind="muted">used up</Badge>
                        ) : isSoon ? (
                          <Badge kind="warn">{left <= 1 ? 'expires within a day' : `expires in ${left} day${left === 1 ? '' : 's'}`}</Badge>
                        ) : (
                          <Badge kind="ok">{`${left} days left`}</Badge>
                        )}
                      </td>
                    </tr>
                  );
                })
              )}
            </tbody>
          </table>
        </TableWrap>
      </section>
    </>
  );
};
