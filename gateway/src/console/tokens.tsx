import { randomBytes } from 'node:crypto';
import { autodeskId, isCalendarInstant, type LedgerKind } from '@flexgate/shared';
import { Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { DomainError } from '../domain/errors';
import { lotExpiry } from '../domain/lots';
import { parseMoney } from '../domain/money';
import { balance, ledger } from '../services/balance';
import type { ServiceContext } from '../services/context';
import { KeyReused } from '../services/idempotency';
import { purchase } from '../services/purchase';
import { transfer } from '../services/transfer';
import { usageSummary } from '../services/usage';
import { adminNames, peopleOf, productCatalog } from './data';
import type { ConsoleContext, ConsoleKit } from './kit';
import type { ConsoleEnv } from './routes';
import { num, teamPath } from './views/format';
import { Page } from './views/layout';
import {
  BuyConfirmView,
  type BuyDraft,
  BuyView,
  LEDGER_KINDS,
  LedgerView,
  MoveConfirmView,
  type MoveDraft,
  MoveView,
  TokenEventsView,
} from './views/tokens';

const LEDGER_PAGE = 50;
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const COUNT_RE = /^\d{1,10}$/;
/** The per-form key of a purchase, a move or a bulk send: random, so a double submit is answered once. */
export const IDEM_RE = /^[A-Za-z0-9_-]{16,64}$/;
export const newIdem = () => randomBytes(16).toString('base64url');
/** A form sent a second time with other values (after Back): the first stands, this one is new. */
const RESENT =
  'this form had already been sent, with other values, and what it did then stands (see the Tokens page). The form below is a new one: send it to do this too.';

/**
 * The token pages: events of the last 90 days, buying (R1), moving between the admin's own
 * teams (R3), and the ledger (R5). The same services as the API's routes; the team guard and
 * the CSRF check of consoleRoutes run before these.
 */
export function tokenPages(ctx: ServiceContext, kit: ConsoleKit) {
  const app = new Hono<ConsoleEnv>();
  const { render, chromeOf, form, field, csrfOf, adminOf } = kit;

  app.get('/teams/:team/tokens', async (c) => {
    const team = kit.team(c);
    const summary = await usageSummary(ctx, team.id);
    return render(
      c,
      <Page title="Tokens" chrome={chromeOf(c, { tab: 'tokens' })}>
        <TokenEventsView team={team} summary={summary} />
      </Page>,
    );
  });

  // ---- buy (R1) ------------------------------------------------------------------------------

  const buyPage = (c: ConsoleContext, draft: BuyDraft, error: string | null, status: ContentfulStatusCode = 200) => {
    const now = ctx.clock.now();
    return render(
      c,
      <Page title="Buy tokens" chrome={chromeOf(c, { tab: 'tokens', ...(error ? { error, notice: null } : {}) })}>
        <BuyView
          team={kit.team(c)}
          csrf={csrfOf(c)}
          draft={draft}
          today={now.toISOString().slice(0, 10)}
          expiresIfToday={lotExpiry(now).toISOString()}
          idem={newIdem()}
          currency={ctx.config.currency}
        />
      </Page>,
      status,
    );
  };
  app.get('/teams/:team/tokens/buy', (c) => buyPage(c, { tokens: '', purchasedOn: '', price: '' }, null));
  // A purchase is two steps: the form's POST says what would be bought and asks; only the POST of
  // that page's Confirm (step=confirm, the same fields and key) records it. Change: the form again.
  app.post('/teams/:team/tokens/buy', async (c) => {
    const team = kit.team(c);
    const f = await form(c);
    const draft: BuyDraft = {
      tokens: field(f, 'tokens').trim().slice(0, 20),
      purchasedOn: field(f, 'purchasedOn').trim().slice(0, 20),
      price: field(f, 'price').trim().slice(0, 20),
    };
    const step = field(f, 'step');
    if (step === 'edit') return buyPage(c, draft, null);
    const tokens = COUNT_RE.test(draft.tokens) ? Number(draft.tokens) : Number.NaN;
    if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > 1_000_000_000)
      return buyPage(c, draft, 'Nothing was bought: tokens must be a whole number from 1 to 1,000,000,000.', 400);
    if (draft.purchasedOn !== '' && !(DAY_RE.test(draft.purchasedOn) && isCalendarInstant(draft.purchasedOn)))
      return buyPage(c, draft, 'Nothing was bought: the purchase date must be a day that exists, like 2026-03-15.', 400);
    const pricePerToken = draft.price === '' ? undefined : parseMoney(draft.price, ctx.config.currency);
    if (pricePerToken === null)
      return buyPage(
        c,
        draft,
        `Nothing was bought: the price per token must be an amount such as 1.25 (${ctx.config.currency}), or empty.`,
        400,
      );
    const now = ctx.clock.now();
    const today = now.toISOString().slice(0, 10);
    // Said before asking to confirm; the service refuses it all the same.
    if (draft.purchasedOn > today) return buyPage(c, draft, 'Nothing was bought: the purchase date cannot be in the future.', 400);
    // A past day is recorded at its start (UTC); today's purchase is now.
    const purchasedAt = draft.purchasedOn && draft.purchasedOn !== today ? `${draft.purchasedOn}T00:00:00.000Z` : undefined;
    const typed = field(f, 'idem');
    const idem = IDEM_RE.test(typed) ? typed : null;
    if (step !== 'confirm') {
      const expiresAt = lotExpiry(purchasedAt ? new Date(purchasedAt) : now);
      return render(
        c,
        <Page title="Buy tokens" chrome={chromeOf(c, { tab: 'tokens', notice: null })}>
          <BuyConfirmView
            team={team}
            csrf={csrfOf(c)}
            // "Today" sent back as the day it was: a Confirm after midnight (UTC) buys what was shown.
            draft={{ ...draft, purchasedOn: draft.purchasedOn || today }}
            facts={{
              tokens,
              purchasedOn: purchasedAt ? draft.purchasedOn : null,
              expiresAt: expiresAt.toISOString(),
              expired: expiresAt.getTime() <= now.getTime(),
              pricePerToken,
            }}
            // The form's key goes on to the confirmation, so a double click on Confirm buys once.
            idem={idem ?? newIdem()}
            currency={ctx.config.currency}
          />
        </Page>,
      );
    }
    const request = { tokens, purchasedAt, pricePerToken };
    try {
      const lot = await purchase(ctx, {
        teamId: team.id,
        tokens,
        purchasedAt,
        ...(pricePerToken !== undefined && { pricePerToken }),
        actor: adminOf(c),
        origin: kit.originOf(c),
        idempotency: idem ? { scope: `purchase:${team.id}`, key: `console-${idem}`, request } : undefined,
      });
      const q = new URLSearchParams({ done: 'bought', tokens: String(lot.tokens), expires: lot.expiresAt.slice(0, 10) });
      return c.redirect(`${teamPath(team.id, '/tokens')}?${q}`, 303);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      // The page sent again after Back, with another amount: its first purchase stands.
      if (e instanceof KeyReused) return buyPage(c, draft, `Nothing more was bought: ${RESENT}`, 409);
      return buyPage(c, draft, `Nothing was bought: ${e.message}`, kit.statusOf(e));
    }
  });

  // ---- move (R3) -----------------------------------------------------------------------------

  const movePage = async (c: ConsoleContext, draft: MoveDraft, error: string | null, status: ContentfulStatusCode = 200) => {
    const team = kit.team(c);
    const { balance: available } = await balance(ctx, team.id);
    return render(
      c,
      <Page title="Move tokens" chrome={chromeOf(c, { tab: 'tokens', ...(error ? { error, notice: null } : {}) })}>
        <MoveView
          team={team}
          csrf={csrfOf(c)}
          targets={kit.teams(c).filter((t) => t.id !== team.id)}
          available={available}
          draft={draft}
          idem={newIdem()}
        />
      </Page>,
      status,
    );
  };
  app.get('/teams/:team/tokens/move', (c) => movePage(c, { toTeam: c.req.query('to') ?? '', tokens: '' }, null));
  // A move is two steps, as a purchase: the form's POST says what would move and the balances
  // after, and asks; only the POST of its Confirm (step=confirm, the same fields and key) moves.
  app.post('/teams/:team/tokens/move', async (c) => {
    const team = kit.team(c);
    const f = await form(c);
    const draft: MoveDraft = { toTeam: field(f, 'toTeam').slice(0, 64), tokens: field(f, 'tokens').trim().slice(0, 20) };
    const step = field(f, 'step');
    if (step === 'edit') return movePage(c, draft, null);
    // R3: both teams must be the admin's; the same refusal whether or not the other team exists.
    const target = kit.teams(c).find((t) => t.id === draft.toTeam && t.id !== team.id);
    if (!target) return movePage(c, draft, 'Nothing was moved: choose another team you manage.', 403);
    const tokens = COUNT_RE.test(draft.tokens) ? Number(draft.tokens) : Number.NaN;
    if (!Number.isSafeInteger(tokens) || tokens < 1 || tokens > 1_000_000_000)
      return movePage(c, draft, 'Nothing was moved: tokens must be a whole number from 1 to 1,000,000,000.', 400);
    const typed = field(f, 'idem');
    const idem = IDEM_RE.test(typed) ? typed : null;
    if (step !== 'confirm') {
      const [from, to] = await Promise.all([balance(ctx, team.id), balance(ctx, target.id)]);
      // Said before asking to confirm; the transfer refuses it all the same (409, nothing moved).
      if (tokens > from.balance)
        return movePage(
          c,
          draft,
          `Nothing was moved: ${team.name} has ${num(from.balance)} valid tokens; it cannot move ${num(tokens)}.`,
          409,
        );
      return render(
        c,
        <Page title="Move tokens" chrome={chromeOf(c, { tab: 'tokens', notice: null })}>
          <MoveConfirmView
            team={team}
            target={target}
            csrf={csrfOf(c)}
            draft={draft}
            facts={{ tokens, from: from.balance, to: to.balance }}
            // The form's key goes on to the confirmation, so a double click on Confirm moves once.
            idem={idem ?? newIdem()}
          />
        </Page>,
      );
    }
    const request = { toTeam: target.id, tokens };
    try {
      await transfer(ctx, {
        fromTeam: team.id,
        toTeam: target.id,
        tokens,
        actor: adminOf(c),
        origin: kit.originOf(c),
        idempotency: idem ? { scope: `transfer:${team.id}`, key: `console-${idem}`, request } : undefined,
      });
      const q = new URLSearchParams({ done: 'moved', tokens: String(tokens), to: target.id });
      return c.redirect(`${teamPath(team.id, '/tokens')}?${q}`, 303);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      if (e instanceof KeyReused) return movePage(c, draft, `Nothing more was moved: ${RESENT}`, 409);
      return movePage(c, draft, `Nothing was moved: ${e.message}`, kit.statusOf(e));
    }
  });

  // ---- ledger (R5) ---------------------------------------------------------------------------

  app.get('/teams/:team/ledger', async (c) => {
    const team = kit.team(c);
    const kindQ = c.req.query('kind') ?? '';
    const kind = (LEDGER_KINDS as string[]).includes(kindQ) ? (kindQ as LedgerKind) : '';
    const userQ = (c.req.query('user') ?? '').trim();
    const user = userQ === '' ? null : autodeskId.safeParse(userQ);
    const beforeQ = c.req.query('before') ?? '';
    const before = /^\d{1,15}$/.test(beforeQ) ? Number(beforeQ) : null;
    const error = user && !user.success ? 'The user filter must be an e-mail address.' : null;
    // One more than a page tells whether there are older entries.
    const rows = error
      ? []
      : await ledger(ctx, team.id, {
          before: before ?? Number.MAX_SAFE_INTEGER,
          limit: LEDGER_PAGE + 1,
          kinds: kind ? [kind] : undefined,
          autodeskId: user?.success ? user.data : undefined,
        });
    const entries = rows.slice(0, LEDGER_PAGE);
    const older = rows.length > LEDGER_PAGE ? (entries.at(-1)?.id ?? null) : null;
    // Names as the other pages show them: people (users and `user:` actors), admins, products.
    const people = new Set(entries.flatMap((e) => [e.autodeskId ?? [], /^user:(.+)$/.exec(e.actor)?.[1] ?? []].flat()));
    const [admins, found, catalog] = await Promise.all([
      adminNames(
        ctx,
        entries.map((e) => e.actor),
      ),
      peopleOf(ctx, team.id, [...people]),
      productCatalog(ctx),
    ]);
    const labels = { admins, people: found.names, products: new Map(catalog.map((p) => [p.key, p.name])), members: found.members };
    return render(
      c,
      <Page title="Ledger" chrome={chromeOf(c, { tab: 'tokens', error })}>
        <LedgerView team={team} q={{ kind, user: userQ.slice(0, 254), before }} entries={entries} older={older} labels={labels} />
      </Page>,
      error ? 400 : 200,
    );
  });

  return app;
}
