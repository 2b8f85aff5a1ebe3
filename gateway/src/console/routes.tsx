import { randomBytes } from 'node:crypto';
import { auditQuery, autodeskId, isCalendarInstant, MEMBER_SEARCH_MAX, memberSearch, PROBLEM_STATUS } from '@flexgate/shared';
import { type Context, Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isDatabaseUnavailable } from '../db/errors';
import type { AuditOrigin } from '../domain/audit';
import { DomainError } from '../domain/errors';
import { INVITATION_PAGE } from '../domain/mails';
import { humanInstant } from '../domain/time';
import { parseUserRankCursor, presetRange, USAGE_PRESETS } from '../domain/usage-views';
import { csvDownload } from '../lib/csv-download';
import type { Logger } from '../lib/logger';
import { type LimitOptions, peerAddress, takeLimit } from '../middleware/rate-limit';
import { advice, adviceCsv } from '../services/advice';
import { auditCsvExport, auditTrail, originOf } from '../services/audit';
import type { ServiceContext } from '../services/context';
import { getDefaults, setDefaults } from '../services/defaults';
import { explainAccess } from '../services/explain';
import { forecastReport } from '../services/forecast';
import { importMembers } from '../services/import';
import {
  acceptInvitation,
  declineInvitation,
  InvitationsPerAdminUsedUp,
  invitationByToken,
  inviteMember,
  resendInvitation,
} from '../services/invitations';
import {
  addMember,
  MEMBERS_PAGE_DEFAULT,
  removeMember,
  setMemberGuest,
  setMemberProducts,
  teamMember,
  teamMemberCounts,
  teamMembers,
} from '../services/members';
import { invitationsNeverEmailed, sendInvitations } from '../services/send-invitations';
import { productUsersOf, usage, usageCsvExport, userWeeksOf } from '../services/usage';
import { findAsset } from './assets';
import { adminNames, moveSource, peopleOf, productCatalog, teamNames, teamOverview } from './data';
import { inspectEntitlement } from './inspect';
import type { ConsoleKit } from './kit';
import { type ConsoleSession, closeConsoleSession, csrfMatches, openConsoleSession, resolveConsoleSession } from './session';
import { IDEM_RE, newIdem, tokenPages } from './tokens';
import { AdviceView } from './views/advice';
import { type AuditForm, AuditView } from './views/audit';
import { DefaultsView } from './views/defaults';
import { ErrorPage } from './views/error';
import { day, memberPath, readable, teamPath, waitWords } from './views/format';
import { InspectView } from './views/inspect';
import { InvitationDone, type InvitationFacts, InvitationPage } from './views/invitation';
import { type Chrome, Page } from './views/layout';
import { MemberPage, RemoveConfirmView } from './views/member';
import { type InviteDraft, MembersView } from './views/members';
import { OverviewView } from './views/overview';
import { SignInPage } from './views/signin';
import { SpendView } from './views/spend';
import { type UsageForm, UsageView } from './views/usage';

type Team = { id: string; name: string };

export interface ConsoleEnv {
  Variables: {
    requestId: string;
    session: ConsoleSession | null;
    sessionId: string | null;
    team: Team;
    teams: Team[];
  };
}
type C = Context<ConsoleEnv>;

/** The session cookie holds an opaque random id; the signed-in state lives in `console_sessions`. */
const SESSION_COOKIE = 'fg_console';
/** Double-submit token of the sign-in form, the one form shown before there is a session. */
const SIGNIN_COOKIE = 'fg_console_signin';
/** Double-submit token of the invitation page's form, which a person without a console session answers. */
const INVITE_COOKIE = 'fg_console_invite';
const FORM_LIMIT = 64 * 1024;
/** The team pages the switcher keeps when it changes team (the overview otherwise). */
const SWITCH_TABS: readonly string[] = ['members', 'defaults', 'usage', 'tokens', 'spend', 'advice', 'audit'];
const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const EMAIL_RE = /^[^\s<>@]{1,200}@[^\s<>@]{1,200}$/;
/** A console page to return to after sign-in: a path of this console only, never another site. */
const NEXT_RE = /^\/console\/[A-Za-z0-9][^\s\\]{0,1000}$/;
const nextPage = (v: string | undefined): string | null => (v && NEXT_RE.test(v) ? v : null);

const isHttps = (c: C) => new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto') === 'https';
const cookieOptions = (c: C) => ({ path: '/console', httpOnly: true, sameSite: 'Strict' as const, secure: isHttps(c) });

/** One fixed sentence per outcome: nothing but an e-mail address is taken from the query string. */
function noticeOf(c: C): string | null {
  const who = c.req.query('who');
  const name = who && EMAIL_RE.test(who) ? who : 'the member';
  switch (c.req.query('done')) {
    case 'invited':
      return `Invitation sent to ${name}. They are listed as invited until they accept it.`;
    case 'resent':
      return `Invitation sent again to ${name}; it is valid for 7 days.`;
    case 'removed':
      return `${name} was removed from the team.`;
    case 'products':
      return `Products of ${name} saved.`;
    case 'guest':
      return `${name} is now a guest: the team's default products no longer apply to them.`;
    case 'regular':
      return `${name} is now a regular member: the team's default products apply to them.`;
    case 'defaults':
      return 'Default products saved.';
    case 'bought':
    case 'moved':
      return tokenNotice(c);
    case 'sent':
      return sentNotice(c);
    default:
      return null;
  }
}

/** After a purchase or a move: figures checked for shape, a team named only if it is the admin's. */
function tokenNotice(c: C): string | null {
  const tokens = c.req.query('tokens') ?? '';
  if (!/^\d{1,10}$/.test(tokens)) return null;
  const n = Number(tokens).toLocaleString('en-US');
  if (c.req.query('done') === 'bought') {
    const expires = c.req.query('expires') ?? '';
    return /^\d{4}-\d{2}-\d{2}$/.test(expires) ? `${n} tokens bought; they expire on ${day(expires)}.` : `${n} tokens bought.`;
  }
  const to = c.get('teams').find((t) => t.id === c.req.query('to'));
  return to ? `${n} tokens moved to ${to.name}.` : null;
}

const people = (n: number) => `${n.toLocaleString('en-US')} ${n === 1 ? 'person' : 'people'}`;

/** After a bulk send of invitations: its figures checked for shape, said in words. */
function sentNotice(c: C): string | null {
  const [sent, volume, capped] = ['sent', 'volume', 'capped'].map((name) => {
    const v = c.req.query(name) ?? '0';
    return /^\d{1,6}$/.test(v) ? Number(v) : Number.NaN;
  }) as [number, number, number];
  if ([sent, volume, capped].some(Number.isNaN)) return null;
  if (sent + volume + capped === 0) return 'Nobody was waiting for an invitation e-mail: every pending member has been sent one.';
  const next = c.req.query('next') ?? '';
  const parts = [
    sent > 0 ? `Invitations sent to ${people(sent)}; each is valid for 7 days.` : 'No invitation was sent.',
    volume > 0 ? `${people(volume)} still wait: the invitation e-mails you or this team may send this hour are used up.` : '',
    capped > 0
      ? `${people(capped)} already had 3 invitation e-mails in the last 24 hours (from any team) and ${capped === 1 ? 'is' : 'are'} not sent another yet.`
      : '',
    volume + capped > 0
      ? ISO_RE.test(next)
        ? `Send again from ${humanInstant(next)} for the rest.`
        : 'Send again later for the rest.'
      : '',
  ];
  return parts.filter((p) => p !== '').join(' ');
}

async function form(c: C): Promise<Record<string, string | File | (string | File)[]>> {
  const type = c.req.header('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded') && !type.startsWith('multipart/form-data')) return {};
  return c.req.parseBody({ all: true });
}
const field = (f: Record<string, unknown>, name: string): string => {
  const v = f[name];
  const one = Array.isArray(v) ? v[0] : v;
  return typeof one === 'string' ? one : '';
};
const fields = (f: Record<string, unknown>, name: string): string[] => {
  const v = f[name];
  return (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
};
const checked = (f: Record<string, unknown>, name: string) => field(f, name) !== '';

/**
 * Where a removal's Cancel goes back to: the member's page, or the page of the list (its search and
 * cursor, each checked as the list checks them) that Remove was pressed on.
 */
function removeCancel(teamId: string, member: string, f: Record<string, unknown>): string {
  if (field(f, 'from') === 'member') return memberPath(teamId, member);
  const q = new URLSearchParams();
  const search = field(f, 'q').trim();
  if (search && memberSearch.safeParse(search).success) q.set('q', search);
  const after = autodeskId.safeParse(field(f, 'after'));
  if (after.success) q.set('after', after.data);
  const list = teamPath(teamId, '/members');
  return q.size > 0 ? `${list}?${q}` : list;
}

const statusOf = (e: DomainError): ContentfulStatusCode => PROBLEM_STATUS[e.code] as ContentfulStatusCode;

/** A refusal's wait as the API answers it (Retry-After), so a console 429 tells a browser or a script when to come back. */
const retryAfter = (c: C, e: DomainError): void => {
  const wait = e.extra.retryAfterSeconds;
  if (wait !== undefined) c.header('retry-after', String(wait));
};

/** Why an invitation was not sent, in console words: the API's per-admin limit names a key and seconds. */
const invitationRefusal = (e: DomainError): string =>
  e instanceof InvitationsPerAdminUsedUp
    ? `you sent too many invitations in a short time. Wait ${waitWords(e.wait)}, then try again.`
    : e.message;

/**
 * The admin console: server-rendered pages over the same services as the admin API.
 * Sign-in takes an admin key once and hands the browser an opaque session cookie (HttpOnly,
 * SameSite=Strict); every form carries the session's CSRF token; an admin sees only its teams.
 */
export function consoleRoutes(
  ctx: ServiceContext,
  logger: Logger,
  limits: {
    /** The sign-in bucket per peer address, which the invitation page's passwords draw on too; null: limits are off. */
    perIpSignin: Pick<LimitOptions, 'name' | 'buckets' | 'metrics'> | null;
    /** The API's per-admin bucket of existing-account look-ups (each answer tells whether an Autodesk ID exists); null: limits are off. */
    lookupPerAdmin: Pick<LimitOptions, 'name' | 'buckets' | 'metrics'> | null;
  },
) {
  const app = new Hono<ConsoleEnv>();

  const chromeOf = (c: C, extra: Partial<Chrome> = {}): Chrome => {
    const s = c.get('session');
    return {
      ...(s ? { admin: { name: s.admin.name, email: s.admin.email }, csrf: s.csrf } : {}),
      teams: c.get('teams') ?? [],
      ...(c.get('team') ? { team: c.get('team') } : {}),
      notice: noticeOf(c),
      ...extra,
      ...(extra.error ? { error: readable(extra.error) } : {}),
    };
  };
  const render = (c: C, node: Parameters<C['html']>[0], status: ContentfulStatusCode = 200) => c.html(node, status);
  const errorPage = (c: C, status: ContentfulStatusCode, message: string) =>
    render(c, <ErrorPage status={status} message={readable(message)} chrome={chromeOf(c, { notice: null })} />, status);

  // Scripts and styles come from /console/assets only: no inline script, no inline style.
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
    }),
  );

  app.get('/assets/:name', (c) => {
    const asset = findAsset(c.req.param('name'));
    if (!asset) return c.text('Not found', 404);
    const immutable = c.req.query('v') === asset.hash;
    return c.body(asset.body, 200, {
      'content-type': asset.type,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      etag: `"${asset.hash}"`,
    });
  });

  // Forms are small; only the CSV import may be as large as the API's import route allows.
  const small = bodyLimit({ maxSize: FORM_LIMIT, onError: (c) => errorPage(c as C, 413, 'The form is larger than the console accepts.') });
  const large = bodyLimit({
    maxSize: ctx.config.importBodyLimit,
    onError: (c) => errorPage(c as C, 413, `The file is over ${ctx.config.importBodyLimit} bytes, the largest import accepted.`),
  });
  app.use('*', async (c, next) => {
    if (c.req.method !== 'POST') return next();
    return (c.req.path.endsWith('/members/import') ? large : small)(c, next);
  });

  // Who is signed in. Pages are personal: never cached.
  app.use('*', async (c, next) => {
    c.header('cache-control', 'no-store');
    const id = getCookie(c, SESSION_COOKIE);
    const session = id ? await resolveConsoleSession(ctx, id) : null;
    c.set('session', session);
    c.set('sessionId', session && id ? id : null);
    c.set('teams', []);
    await next();
  });

  // ---- sign in / out -------------------------------------------------------------------------

  const signInForm = (
    c: C,
    status: ContentfulStatusCode,
    error: string | null,
    notice: string | null = null,
    next: string | null = null,
  ) => {
    const token = randomBytes(24).toString('base64url');
    setCookie(c, SIGNIN_COOKIE, token, { ...cookieOptions(c), maxAge: 3600 });
    return render(c, <SignInPage csrf={token} error={error} notice={notice} next={next} />, status);
  };

  app.get('/signin', (c) => {
    if (c.get('session')) return c.redirect('/console', 303);
    return signInForm(
      c,
      200,
      null,
      c.req.query('out') ? 'You are signed out.' : c.req.query('expired') ? 'Your session ended; sign in again.' : null,
      nextPage(c.req.query('next')),
    );
  });

  app.post('/signin', async (c) => {
    const f = await form(c);
    const expected = getCookie(c, SIGNIN_COOKIE);
    const next = nextPage(field(f, 'next'));
    if (!expected || !csrfMatches(expected, field(f, '_csrf')))
      return signInForm(c, 403, 'The sign-in form expired. Please try again.', null, next);
    const opened = await openConsoleSession(ctx, field(f, 'key'));
    if (!opened) return signInForm(c, 401, 'This admin key is not valid.', null, next);
    // A new sign-in replaces whatever session this browser held (no fixation, no orphan).
    const previous = getCookie(c, SESSION_COOKIE);
    if (previous) await closeConsoleSession(ctx, previous);
    deleteCookie(c, SIGNIN_COOKIE, { path: '/console' });
    setCookie(c, SESSION_COOKIE, opened.id, cookieOptions(c));
    return c.redirect(next ?? '/console', 303);
  });

  // ---- the invitation page (R11): a person, not an admin, answers it ------------------------

  const invitationForm = (c: C, token: string, facts: InvitationFacts, error: string | null, status: ContentfulStatusCode) => {
    const csrf = randomBytes(24).toString('base64url');
    setCookie(c, INVITE_COOKIE, csrf, { ...cookieOptions(c), path: INVITATION_PAGE, maxAge: 3600 });
    return render(c, <InvitationPage token={token} csrf={csrf} facts={facts} error={error} />, status);
  };
  const deadLink = (c: C, e: DomainError) =>
    render(c, <InvitationDone title="This invitation cannot be used" message={e.message} />, statusOf(e));

  app.get('/invitations/accept', async (c) => {
    const token = (c.req.query('token') ?? '').slice(0, 200);
    try {
      return invitationForm(c, token, await invitationByToken(ctx, token), null, 200);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return deadLink(c, e);
    }
  });

  app.post('/invitations/accept', async (c) => {
    const f = await form(c);
    const token = field(f, 'token').slice(0, 200);
    let facts: InvitationFacts;
    try {
      facts = await invitationByToken(ctx, token);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return deadLink(c, e);
    }
    const expected = getCookie(c, INVITE_COOKIE);
    if (!expected || !csrfMatches(expected, field(f, '_csrf'))) {
      return invitationForm(c, token, facts, 'The form expired or did not come from this page. Please try again.', 403);
    }
    const requestId = c.get('requestId') ?? null;
    try {
      if (field(f, 'answer') === 'decline') {
        await declineInvitation(ctx, token, requestId);
        deleteCookie(c, INVITE_COOKIE, { path: INVITATION_PAGE });
        return render(
          c,
          <InvitationDone title="Invitation declined" message={`You declined to join ${facts.teamName}. Nothing else changes.`} />,
        );
      }
      const password = field(f, 'password');
      if (!facts.hasAccount && password !== field(f, 'repeat')) {
        return invitationForm(c, token, facts, 'The two passwords differ.', 400);
      }
      if (password.length < 8 || password.length > 1024) {
        return invitationForm(c, token, facts, 'A password has 8 to 1024 characters.', 400);
      }
      // As POST /v1/invitations/accept: one bucket per address with sign-in, then the sign-in guard.
      const wait = limits.perIpSignin ? takeLimit(limits.perIpSignin, peerAddress(c)) : 0;
      if (wait > 0) {
        c.header('retry-after', String(wait));
        const message = `Too many passwords were tried from your network. Wait ${waitWords(wait)}, then try again.`;
        return invitationForm(c, token, facts, message, 429);
      }
      await acceptInvitation(ctx, { token, password }, requestId);
      deleteCookie(c, INVITE_COOKIE, { path: INVITATION_PAGE });
      return render(c, <InvitationDone title="Welcome" message={`You joined ${facts.teamName}.`} autodeskId={facts.autodeskId} />);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      const wait = e.extra.retryAfterSeconds;
      if (wait !== undefined) c.header('retry-after', String(wait));
      const message =
        e.code === 'unauthorized'
          ? 'That is not the password of this Autodesk account.'
          : e.code === 'too-many-requests' && wait !== undefined
            ? `Too many wrong passwords were tried for this Autodesk account. Wait ${waitWords(wait)}, then try again.`
            : e.message;
      return invitationForm(c, token, facts, message, statusOf(e));
    }
  });

  // Everything below needs a session; every POST below needs its CSRF token.
  app.use('*', async (c, next) => {
    const s = c.get('session');
    if (!s) {
      if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.redirect('/console/signin?expired=1', 303);
      // A bookmark, or a tab left open past the session: back to that page after signing in.
      const url = new URL(c.req.url);
      const next = nextPage(url.pathname + url.search);
      return c.redirect(next ? `/console/signin?${new URLSearchParams({ next })}` : '/console/signin', 303);
    }
    c.set('teams', await teamNames(ctx, s.admin.teams));
    if (c.req.method === 'POST' && !csrfMatches(s.csrf, field(await form(c), '_csrf'))) {
      return errorPage(
        c,
        403,
        'This form is out of date or did not come from the console (CSRF check). Go back, reload the page and try again.',
      );
    }
    await next();
  });

  app.post('/signout', async (c) => {
    const id = c.get('sessionId');
    if (id) await closeConsoleSession(ctx, id);
    deleteCookie(c, SESSION_COOKIE, { path: '/console' });
    return c.redirect('/console/signin?out=1', 303);
  });

  app.get('/', (c) => {
    const first = c.get('teams')[0];
    if (first) return c.redirect(teamPath(first.id), 303);
    return render(
      c,
      <Page title="No team" chrome={chromeOf(c)}>
        <section class="panel">
          <h1>No team yet</h1>
          <p>Your admin key manages no team. Ask the platform operator to add you to one; the entitlement inspector works meanwhile.</p>
        </section>
      </Page>,
    );
  });

  app.get('/switch', (c) => {
    const id = c.req.query('team') ?? '';
    if (!c.get('teams').some((t) => t.id === id)) return errorPage(c, 403, 'You do not manage this team.');
    const tab = c.req.query('tab') ?? '';
    if (tab === 'inspect') return c.redirect(`/console/inspect?team=${encodeURIComponent(id)}`, 303);
    return c.redirect(teamPath(id, SWITCH_TABS.includes(tab) ? `/${tab}` : ''), 303);
  });

  // ---- entitlement inspector (not tied to a team: the JWKS is public) ------------------------

  /** The inspector keeps the team tabs of the team the admin came from. */
  const withTeamFromQuery = (c: C): string => {
    const t = c.get('teams').find((x) => x.id === c.req.query('team')) ?? c.get('teams')[0];
    if (!t) return '/console/inspect';
    c.set('team', t);
    return `/console/inspect?team=${encodeURIComponent(t.id)}`;
  };
  app.get('/inspect', (c) => {
    const action = withTeamFromQuery(c);
    const s = c.get('session') as ConsoleSession;
    return render(
      c,
      <Page title="Entitlement inspector" chrome={chromeOf(c, { tab: 'inspect' })}>
        <InspectView csrf={s.csrf} action={action} input="" result={null} now={ctx.clock.now().toISOString()} />
      </Page>,
    );
  });
  app.post('/inspect', async (c) => {
    const action = withTeamFromQuery(c);
    const s = c.get('session') as ConsoleSession;
    const input = field(await form(c), 'jws').slice(0, 16_384);
    const now = ctx.clock.now();
    const result = await inspectEntitlement(input, ctx.keys.jwks(), now, ctx.config.issuer);
    return render(
      c,
      <Page title="Entitlement inspector" chrome={chromeOf(c, { tab: 'inspect' })}>
        <InspectView csrf={s.csrf} action={action} input={input} result={result} now={now.toISOString()} />
      </Page>,
    );
  });

  // ---- team pages: only the teams this admin manages -----------------------------------------

  const teamGuard: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
    const team = c.get('teams').find((t) => t.id === c.req.param('team'));
    // The same answer whether the team exists or not: an admin learns nothing of other teams.
    if (!team) return errorPage(c, 403, 'You do not manage this team.');
    c.set('team', team);
    await next();
  };
  app.use('/teams/:team', teamGuard);
  app.use('/teams/:team/*', teamGuard);
  const csrfOf = (c: C) => (c.get('session') as ConsoleSession).csrf;
  /** The audit trail's who: this admin, through the console, in this request. */
  const originOfPage = (c: C): AuditOrigin =>
    originOf({ kind: 'admin', id: (c.get('session') as ConsoleSession).admin.id }, c.get('requestId') ?? null, 'console');

  app.get('/teams/:team', async (c) => {
    const team = c.get('team');
    const o = await teamOverview(ctx, team.id);
    // R3: a low balance may be topped up from another team of this admin's, if one has tokens.
    const from = o.balance.alerts.lowBalance ? await moveSource(ctx, team.id, c.get('teams')) : null;
    return render(
      c,
      <Page title="Overview" chrome={chromeOf(c, { tab: 'overview' })}>
        <OverviewView team={team} o={o} moveFrom={from} />
      </Page>,
    );
  });

  const membersPage = async (
    c: C,
    opts: {
      draft?: InviteDraft;
      error?: string;
      imported?: Parameters<typeof MembersView>[0]['imported'];
      importError?: string;
    } = {},
    status: ContentfulStatusCode = 200,
  ) => {
    const team = c.get('team');
    // A page of members, as the API pages them; a cursor that is not an Autodesk ID starts over.
    const cursor = autodeskId.safeParse(c.req.query('after') ?? '');
    const after = cursor.success ? cursor.data : undefined;
    // The search, as the API takes it; one that is not valid is dropped and said, as the audit's filters are.
    const typed = (c.req.query('q') ?? '').trim();
    const valid = memberSearch.safeParse(typed).success;
    const search = valid ? typed : '';
    // After asking an existing account: the name its own account holds, read here (the query string gives only the ID).
    const asked = c.req.query('done') === 'asked' ? autodeskId.safeParse(c.req.query('who') ?? '') : null;
    const [page, counts, catalog, defaults, unsent, askedMember] = await Promise.all([
      teamMembers(ctx, team.id, { after, limit: MEMBERS_PAGE_DEFAULT, q: search }),
      teamMemberCounts(ctx, team.id),
      productCatalog(ctx),
      getDefaults(ctx, team.id),
      invitationsNeverEmailed(ctx, team.id),
      asked?.success ? teamMember(ctx, team.id, asked.data) : null,
    ]);
    const notice =
      askedMember && askedMember.status === 'invited'
        ? `Invitation sent to ${askedMember.name} (${askedMember.autodeskId}), who already has an Autodesk account. They are listed as invited until they accept it.`
        : undefined;
    // A refused import is said at the top, where the page opens, not beside the form far below the list.
    const error =
      opts.error ??
      opts.importError ??
      (valid ? undefined : `Ignored a search that is not valid: at most ${MEMBER_SEARCH_MAX} characters, no control characters.`);
    return render(
      c,
      <Page
        title="Members"
        chrome={chromeOf(c, { tab: 'members', ...(notice ? { notice } : {}), ...(error ? { error, notice: null } : {}) })}
      >
        <MembersView
          team={team}
          csrf={csrfOf(c)}
          members={page.members}
          counts={counts}
          paging={{ first: after !== undefined, next: page.next, at: after }}
          search={search}
          catalog={catalog}
          defaults={defaults.products}
          {...(opts.draft ? { draft: opts.draft } : {})}
          imported={opts.imported ?? null}
          unsent={{ count: unsent, idem: newIdem(), perHour: ctx.config.rateLimit ? ctx.config.rateLimits.inviteBulkPerHour : null }}
        />
      </Page>,
      status,
    );
  };

  app.get('/teams/:team/members', (c) => membersPage(c));

  /**
   * R11: the one form that asks someone to join. `Full Name <email>` invites anyone under that name;
   * an e-mail alone asks the existing account with that Autodesk ID, as POST /v1/teams/:team/members
   * with {autodeskId} does: the same service, the same per-admin look-up bucket (each answer tells
   * whether the ID exists), the account's own name. A refusal shows the form again as typed.
   */
  const addPerson = async (c: C, draft: InviteDraft) => {
    const team = c.get('team');
    const by = { kind: 'admin' as const, id: (c.get('session') as ConsoleSession).admin.id };
    const refused = (message: string, status: ContentfulStatusCode) =>
      membersPage(c, { draft, error: `No invitation was sent: ${message}` }, status);
    const text = draft.invite.trim();
    const id = text.includes('<') ? null : autodeskId.safeParse(text);
    if (id && !id.success && text !== '')
      return refused(`“${text}” is neither a name and e-mail (Full Name <email>) nor an Autodesk ID (an e-mail address).`, 400);
    if (id?.success) {
      const wait = limits.lookupPerAdmin ? takeLimit(limits.lookupPerAdmin, by.id) : 0;
      if (wait > 0) {
        c.header('retry-after', String(wait));
        return refused(`you looked up too many Autodesk IDs in a short time. Wait ${waitWords(wait)}, then try again.`, 429);
      }
    }
    try {
      const common = {
        by,
        origin: originOfPage(c),
        teamId: team.id,
        guest: draft.guest,
        allProducts: draft.allProducts,
        products: draft.products,
      };
      const added = await (id?.success
        ? addMember(ctx, { ...common, autodeskId: id.data })
        : inviteMember(ctx, { ...common, invite: draft.invite }));
      const done = id?.success ? 'asked' : 'invited';
      return c.redirect(`${teamPath(team.id, '/members')}?done=${done}&who=${encodeURIComponent(added.member.autodeskId)}`, 303);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      retryAfter(c, e);
      const who = id?.success ? id.data : null;
      const message =
        who && e.code === 'not-found'
          ? `there is no Autodesk account ${who}. To invite someone without one, write their name before the e-mail: Full Name <${who}>.`
          : who && e.code === 'conflict'
            ? `${who} is already a member of ${team.name} or invited to it. To remind them, use Resend in the list.`
            : invitationRefusal(e);
      return refused(message, statusOf(e));
    }
  };
  const addDraft = (f: Record<string, unknown>, name: string): InviteDraft => ({
    invite: field(f, name).slice(0, 400),
    guest: checked(f, 'guest'),
    allProducts: checked(f, 'allProducts'),
    products: fields(f, 'product'),
  });
  app.post('/teams/:team/members', async (c) => addPerson(c, addDraft(await form(c), 'invite')));
  // The "Add an existing account" form of pages served before the one form (a tab left open): answered by it.
  app.post('/teams/:team/members/existing', async (c) => addPerson(c, addDraft(await form(c), 'autodeskId')));

  // R14: an import sends no e-mail; its per-line errors are shown with the result.
  app.post('/teams/:team/members/import', async (c) => {
    const team = c.get('team');
    const file = (await form(c)).file;
    const upload = Array.isArray(file) ? file[0] : file;
    if (!(upload instanceof File) || upload.size === 0) return membersPage(c, { importError: 'Choose a CSV file to import.' }, 400);
    try {
      const imported = await importMembers(ctx, team.id, await upload.text(), originOfPage(c));
      return membersPage(c, { imported });
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return membersPage(c, { importError: `Nothing was imported: ${e.message}` }, statusOf(e));
    }
  });

  // R11, R14: the invitations an import left unsent, e-mailed in one go (within the limits the
  // notice explains). The form's random key makes a double submit, or the page sent again, answer
  // what the first did instead of a confusing "nobody was waiting".
  app.post('/teams/:team/invitations/send', async (c) => {
    const team = c.get('team');
    const idem = field(await form(c), 'idem');
    try {
      const r = await sendInvitations(ctx, {
        teamId: team.id,
        by: { kind: 'admin', id: (c.get('session') as ConsoleSession).admin.id },
        origin: originOfPage(c),
        idempotency: IDEM_RE.test(idem) ? { scope: `invitations-send:${team.id}`, key: `console-${idem}`, request: {} } : undefined,
      });
      const q = new URLSearchParams({
        done: 'sent',
        sent: String(r.sent),
        volume: String(r.heldByVolume),
        capped: String(r.heldByRecipient),
      });
      if (r.retryAfterSeconds !== null) q.set('next', new Date(ctx.clock.now().getTime() + r.retryAfterSeconds * 1000).toISOString());
      return c.redirect(`${teamPath(team.id, '/members')}?${q}`, 303);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      return membersPage(c, { error: `No invitation was sent: ${e.message}` }, statusOf(e));
    }
  });

  app.get('/teams/:team/members/:member', async (c) => {
    const team = c.get('team');
    const id = c.req.param('member');
    const [member, catalog, defaults] = await Promise.all([teamMember(ctx, team.id, id), productCatalog(ctx), getDefaults(ctx, team.id)]);
    if (!member) return errorPage(c, 404, `${id} is not a member of ${team.name}.`);
    const access = await explainAccess(ctx, team.id, id);
    return render(
      c,
      <Page title={member.name} chrome={chromeOf(c, { tab: 'members' })}>
        <MemberPage team={team} csrf={csrfOf(c)} member={member} catalog={catalog} defaults={defaults.products} access={access} />
      </Page>,
    );
  });

  // R12: a product list or "all products", replacing the previous choice.
  app.post('/teams/:team/members/:member/products', async (c) => {
    const team = c.get('team');
    const id = c.req.param('member');
    const f = await form(c);
    await setMemberProducts(ctx, {
      teamId: team.id,
      autodeskId: id,
      allProducts: checked(f, 'allProducts'),
      products: fields(f, 'product'),
      origin: originOfPage(c),
    });
    return c.redirect(`${memberPath(team.id, id)}?done=products&who=${encodeURIComponent(id)}`, 303);
  });

  // R13: guest or regular member. The form names the status it asks for, so a second submit of
  // it (the page sent again) asks for the same one and changes nothing, never toggles back.
  app.post('/teams/:team/members/:member/guest', async (c) => {
    const team = c.get('team');
    const id = c.req.param('member');
    const asked = field(await form(c), 'guest');
    if (asked !== 'true' && asked !== 'false') return errorPage(c, 400, 'The form did not say whether the member is to be a guest.');
    const guest = asked === 'true';
    await setMemberGuest(ctx, { teamId: team.id, autodeskId: id, guest, origin: originOfPage(c) });
    return c.redirect(`${memberPath(team.id, id)}?done=${guest ? 'guest' : 'regular'}&who=${encodeURIComponent(id)}`, 303);
  });

  app.post('/teams/:team/members/:member/resend', async (c) => {
    const team = c.get('team');
    const id = c.req.param('member');
    const invitation = field(await form(c), 'invitation');
    try {
      await resendInvitation(
        ctx,
        team.id,
        invitation,
        { kind: 'admin', id: (c.get('session') as ConsoleSession).admin.id },
        originOfPage(c),
      );
    } catch (e) {
      // A refusal (the person's daily cap, an invitation accepted meanwhile) keeps the admin on the list.
      if (!(e instanceof DomainError)) throw e;
      retryAfter(c, e);
      return membersPage(c, { error: `The invitation was not sent again: ${invitationRefusal(e)}` }, statusOf(e));
    }
    return c.redirect(`${teamPath(team.id, '/members')}?done=resent&who=${encodeURIComponent(id)}`, 303);
  });

  // R11: a removal is two steps, as a purchase: Remove's POST says what it ends and asks; only the
  // POST of its Confirm (step=confirm) removes. Plain forms, so it works without JavaScript.
  app.post('/teams/:team/members/:member/remove', async (c) => {
    const team = c.get('team');
    const id = c.req.param('member');
    const f = await form(c);
    // Also the answer to a second Confirm (a double click): the first removed them.
    const gone = () =>
      membersPage(c, { error: `Nothing was removed: ${id} is not a member of ${team.name}; they may have been removed already.` }, 404);
    if (field(f, 'step') !== 'confirm') {
      const member = await teamMember(ctx, team.id, id);
      if (!member) return gone();
      return render(
        c,
        <Page title="Remove a member" chrome={chromeOf(c, { tab: 'members', notice: null })}>
          <RemoveConfirmView team={team} csrf={csrfOf(c)} member={member} cancel={removeCancel(team.id, id, f)} />
        </Page>,
      );
    }
    try {
      await removeMember(ctx, team.id, id, originOfPage(c));
    } catch (e) {
      if (e instanceof DomainError && e.code === 'not-found') return gone();
      throw e;
    }
    return c.redirect(`${teamPath(team.id, '/members')}?done=removed&who=${encodeURIComponent(id)}`, 303);
  });

  // ---- defaults (R13) ------------------------------------------------------------------------

  const defaultsPage = async (c: C) => {
    const team = c.get('team');
    const [catalog, defaults] = await Promise.all([productCatalog(ctx), getDefaults(ctx, team.id)]);
    return render(
      c,
      <Page title="Defaults" chrome={chromeOf(c, { tab: 'defaults' })}>
        <DefaultsView team={team} csrf={csrfOf(c)} catalog={catalog} defaults={defaults.products} />
      </Page>,
    );
  };
  app.get('/teams/:team/defaults', defaultsPage);
  app.post('/teams/:team/defaults', async (c) => {
    const team = c.get('team');
    await setDefaults(ctx, team.id, fields(await form(c), 'product'), originOfPage(c));
    return c.redirect(`${teamPath(team.id, '/defaults')}?done=defaults`, 303);
  });

  // ---- usage (R15) ---------------------------------------------------------------------------

  /** A custom day of the usage form: one that exists, as 2026-03-15. */
  const isUsageDay = (v: string) => DAY_RE.test(v) && isCalendarInstant(v);

  const usageForm = (c: C): UsageForm => {
    const today = ctx.clock.now().toISOString().slice(0, 10);
    const by = c.req.query('by');
    const grouping = by === 'product' || by === 'day' ? by : 'user';
    // A preset range (Flex's "past 3 months") wins over from/to; without either, the past 30 days.
    const preset = USAGE_PRESETS.find((p) => p === c.req.query('range')) ?? null;
    const from = c.req.query('from') ?? '';
    const to = c.req.query('to') ?? '';
    const fromOk = isUsageDay(from);
    const toOk = isUsageDay(to);
    if (preset || (!fromOk && !toOk)) return { ...presetRange(preset ?? '30d', today), by: grouping, preset: preset ?? '30d' };
    const end = toOk ? to : today;
    return { from: fromOk ? from : presetRange('30d', end).from, to: end, by: grouping, preset: null };
  };

  /** A custom day that is not one is replaced (the past 30 days, or 30 days to `to`): said, as the audit's filters are. */
  const usageIgnored = (c: C): string | null => {
    if (USAGE_PRESETS.some((p) => p === c.req.query('range'))) return null;
    const bad = (['from', 'to'] as const).filter((k) => {
      const v = c.req.query(k) ?? '';
      return v !== '' && !isUsageDay(v);
    });
    return bad.length > 0 ? `Ignored a date that is not valid: ${bad.map((k) => `${k} ${c.req.query(k)}`).join(', ')}.` : null;
  };

  app.get('/teams/:team/usage', async (c) => {
    const team = c.get('team');
    const q = usageForm(c);
    // A page of the per-user view, as the Members page pages members; a cursor that is not one starts over.
    const after = q.by === 'user' ? (parseUserRankCursor(c.req.query('after') ?? '') ?? undefined) : undefined;
    let report = null;
    let products = null;
    let weeks = null;
    let error: string | null = null;
    try {
      [report, products, weeks] = await Promise.all([
        usage(ctx, team.id, q),
        q.by === 'product' ? productUsersOf(ctx, team.id, q) : null,
        q.by === 'user' ? userWeeksOf(ctx, team.id, q, after) : null,
      ]);
    } catch (e) {
      if (!(e instanceof DomainError)) throw e;
      error = e.message;
    }
    const people = [
      ...new Set([
        ...(q.by === 'user' ? (report?.rows.map((r) => r.key) ?? []) : []),
        ...(products?.products.flatMap((p) => p.users.map((u) => u.autodeskId)) ?? []),
        ...(weeks?.users.map((u) => u.autodeskId) ?? []),
      ]),
    ];
    const { names, members } = await peopleOf(ctx, team.id, people);
    const labels =
      q.by === 'user'
        ? names
        : q.by === 'product'
          ? new Map((await productCatalog(ctx)).map((p) => [p.key, p.name]))
          : new Map<string, string>();
    return render(
      c,
      <Page title="Usage" chrome={chromeOf(c, { tab: 'usage', error: error ?? usageIgnored(c) })}>
        <UsageView
          team={team}
          form={q}
          report={report}
          labels={labels}
          products={products}
          weeks={weeks ? { ...weeks, first: after !== undefined } : null}
          names={names}
          members={members}
        />
      </Page>,
      error ? 400 : 200,
    );
  });

  app.get('/teams/:team/usage.csv', async (c) => {
    const { filename, csv } = await usageCsvExport(ctx, c.get('team').id, usageForm(c));
    return csvDownload(c, csv, filename);
  });

  const kit: ConsoleKit = {
    render,
    chromeOf,
    form,
    field,
    csrfOf,
    adminOf: (c) => ({ kind: 'admin', id: (c.get('session') as ConsoleSession).admin.id }),
    originOf: (c) => originOfPage(c),
    team: (c) => c.get('team'),
    teams: (c) => c.get('teams'),
    statusOf,
  };
  app.route('/', tokenPages(ctx, kit));
  // ---- spend: forecast, prices, right-sizing advice ------------------------------------------

  app.get('/teams/:team/spend', async (c) => {
    const team = c.get('team');
    const [f, catalog] = await Promise.all([forecastReport(ctx, team.id), productCatalog(ctx)]);
    return render(
      c,
      <Page title="Spend" chrome={chromeOf(c, { tab: 'spend' })}>
        <SpendView team={team} f={f} catalog={catalog} canMove={c.get('teams').some((t) => t.id !== team.id)} />
      </Page>,
    );
  });

  // ---- audit trail --------------------------------------------------------------------------

  /** The filters as typed; one that does not parse is dropped (and said), the others still apply. */
  const auditFilters = (c: C): { form: AuditForm; error: string | null } => {
    const raw = {
      action: c.req.query('action') ?? '',
      actor: (c.req.query('actor') ?? '').trim(),
      from: c.req.query('from') ?? '',
      to: c.req.query('to') ?? '',
    };
    const form: AuditForm = { action: '', actor: '', from: '', to: '' };
    const bad: string[] = [];
    for (const k of ['action', 'actor', 'from', 'to'] as const) {
      if (raw[k] === '') continue;
      if (auditQuery.shape[k].safeParse(raw[k]).success && (k === 'action' || k === 'actor' || DAY_RE.test(raw[k]))) form[k] = raw[k];
      else bad.push(k);
    }
    return { form, error: bad.length > 0 ? `Ignored a filter that is not valid: ${bad.join(', ')}.` : null };
  };
  const auditFilter = (form: AuditForm) => ({
    ...(form.action ? { action: form.action } : {}),
    ...(form.actor ? { actor: form.actor } : {}),
    ...(form.from ? { from: form.from } : {}),
    ...(form.to ? { to: form.to } : {}),
  });

  app.get('/teams/:team/audit', async (c) => {
    const team = c.get('team');
    const { form: filters, error } = auditFilters(c);
    const cursor = Number(c.req.query('before'));
    const before = Number.isSafeInteger(cursor) && cursor > 0 ? cursor : undefined;
    const page = await auditTrail(ctx, team.id, { ...auditFilter(filters), limit: 100, ...(before ? { before } : {}) });
    const admins = await adminNames(
      ctx,
      page.entries.map((e) => e.actor),
    );
    return render(
      c,
      <Page title="Audit trail" chrome={chromeOf(c, { tab: 'audit', error })}>
        <AuditView team={team} form={filters} entries={page.entries} next={page.next} first={before !== undefined} admins={admins} />
      </Page>,
    );
  });

  app.get('/teams/:team/advice', async (c) => {
    const team = c.get('team');
    const a = await advice(ctx, team.id);
    const [{ names, members }, catalog] = await Promise.all([
      peopleOf(ctx, team.id, [...new Set([...a.flex, ...a.subscriptions].map((r) => r.autodeskId))]),
      productCatalog(ctx),
    ]);
    return render(
      c,
      <Page title="Advice" chrome={chromeOf(c, { tab: 'advice' })}>
        <AdviceView team={team} a={a} names={names} members={members} products={new Map(catalog.map((p) => [p.key, p.name]))} />
      </Page>,
    );
  });

  app.get('/teams/:team/advice.csv', async (c) => {
    const { filename, csv } = await adviceCsv(ctx, c.get('team').id);
    return csvDownload(c, csv, filename);
  });

  app.get('/teams/:team/audit.csv', async (c) => {
    const team = c.get('team');
    const csv = await auditCsvExport(ctx, team.id, auditFilter(auditFilters(c).form));
    const name = `audit-${team.id}-${ctx.clock.now().toISOString().slice(0, 10)}.csv`;
    return csvDownload(c, csv, name);
  });

  app.all('*', (c) => errorPage(c, 404, `No console page at ${c.req.path}.`));

  // Service refusals become a readable page; anything else is logged and shown as a 500.
  app.onError((err, c) => {
    if (err instanceof DomainError) return errorPage(c, statusOf(err), err.message);
    if (isDatabaseUnavailable(err)) {
      logger.warn('database unavailable', { requestId: c.get('requestId'), err: err.message });
      c.header('retry-after', '1');
      return errorPage(
        c,
        503,
        'The database is unavailable for a moment. Reload this page in a few seconds; if you had sent a form, check that it was saved before sending it again.',
      );
    }
    logger.error('console error', { requestId: c.get('requestId'), err: err.stack ?? String(err) });
    return errorPage(c, 500, `Something went wrong on our side (request ${c.get('requestId') ?? 'unknown'}).`);
  });

  return app;
}
