import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptInvitationOf, expectLedgerMatchesBalance, ledgerOf } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { type Answer, type Api, expectStatus, simultaneously } from '../harness/http';

/**
 * Issue "One launch engine on both databases": one launch engine, so one behaviour. The same
 * random histories run against four gateways at once (SQLite and PostgreSQL, charges grouped by up
 * to 256 and one charge per transaction), and everything a user or an admin can see must agree:
 * every answer, the ledger, balances and lots, the usage reports and the e-mails.
 *
 * The gateways' clocks stand still between `POST /v1/test/clock` calls, so they answer the same
 * instants. What is random per gateway is normalised: session ids become S1, S2... in the order
 * they first appear, lots are named by what tells them apart (team, size, purchase instant: two
 * lots alike in all three are interchangeable, R2 breaks their tie by a random id), entitlements
 * and request ids are dropped. The background expiry sweep (every minute of real time) may write
 * an expiry entry before the charge that would have written it, so expiry entries are compared
 * per lot, not by position, and an expired lot's `remaining` only once the ledger read settled it.
 *
 * Bursts (concurrent launches) have no order among their launches: for them the per-request
 * outcome (granted or why not, which session) is compared, and what depends on the order is
 * compared as totals: the charges per (user, product), the balances after, the ledger's charges
 * per session and per lot, the e-mails per recipient and kind. To keep later steps comparable, a
 * burst never makes launches of one team compete for too few tokens (a purchase tops the team up
 * first; one (user, product) alone may be refused), and a burst session whose tokens came from
 * lots in an order-dependent way is not ended within its free 5 minutes (the refund would return
 * tokens to order-dependent lots).
 */

const T0 = Date.parse('2026-03-15T10:00:00Z');
const MINUTE = 60_000;
const DAY = 86_400_000;
const FREE_CLOSE_MS = 5 * MINUTE;

interface Variant {
  name: string;
  engine: 'sqlite' | 'postgres';
  chargeGroup: number;
}
const VARIANTS: Variant[] = [
  { name: 'sqlite, one charge per transaction', engine: 'sqlite', chargeGroup: 1 },
  { name: 'sqlite, groups of 256', engine: 'sqlite', chargeGroup: 256 },
  { name: 'postgres, one charge per transaction', engine: 'postgres', chargeGroup: 1 },
  { name: 'postgres, groups of 256', engine: 'postgres', chargeGroup: 256 },
];

let gateways: TestGateway[] = [];
beforeAll(async () => {
  // A clock that stands still: the gateway's time is T0 plus what /v1/test/clock says, nothing else.
  const still = { now: () => new Date(T0) };
  gateways = await Promise.all(
    VARIANTS.map((v) => startTestGateway({ chargeGroup: v.chargeGroup }, undefined, { engine: v.engine, clock: still })),
  );
}, 60_000);
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
});

// ---------------------------------------------------------------------------------------------
// Histories

const RATES = [7, 10, 4];
const USERS = 4;
/** Memberships: u0, u1 (an explicit list) in A; u2 in B; u3 in both, so u3's launches name a team. */
const MEMBERS: { user: number; team: 0 | 1; selection: { allProducts?: boolean; products?: number[] } }[] = [
  { user: 0, team: 0, selection: { allProducts: true } },
  { user: 1, team: 0, selection: { products: [0, 1] } },
  { user: 2, team: 1, selection: { allProducts: true } },
  { user: 3, team: 0, selection: { allProducts: true } },
  { user: 3, team: 1, selection: { products: [1, 2] } },
];

/** A launch of `product` by `user`; u3 names a team (or forgets to: a 400 listing its teams). */
interface Pair {
  user: number;
  product: number;
  team: 0 | 1 | null;
}
interface BurstEntry {
  pair: Pair;
  copies: number;
  /** none: no Idempotency-Key; shared: every copy sends one key; distinct: a key per copy. */
  keying: 'none' | 'shared' | 'distinct';
}
type AccessOp = 'clear' | 'restore' | 'remove' | 'readd';
type Step =
  | { kind: 'purchase'; team: 0 | 1; tokens: number; daysAgo: number }
  | { kind: 'launch'; pair: Pair; keyed: boolean; times: number }
  | { kind: 'retry'; pick: number; sameBody: boolean }
  | { kind: 'burst'; entries: BurstEntry[] }
  /** Ends the session opened last, or any session opened so far (by its user). */
  | { kind: 'end'; latest: boolean; pick: number }
  | { kind: 'clock'; minutes: number }
  | { kind: 'rate'; product: number; rate: number }
  | { kind: 'transfer'; from: 0 | 1; tokens: number }
  | { kind: 'access'; op: AccessOp; member: number }
  | { kind: 'subscribe'; user: number; product: number; days: number };

const pairArb: fc.Arbitrary<Pair> = fc
  .record({
    user: fc.integer({ min: 0, max: USERS - 1 }),
    product: fc.integer({ min: 0, max: RATES.length - 1 }),
    team: fc.oneof({ weight: 5, arbitrary: fc.constantFrom<0 | 1>(0, 1) }, { weight: 1, arbitrary: fc.constant(null) }),
  })
  .map((p) => ({ ...p, team: p.user === 3 ? p.team : null }));

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('purchase' as const),
      team: fc.constantFrom<0 | 1>(0, 1),
      tokens: fc.integer({ min: 1, max: 60 }),
      // Today, any time in the past year and more (born expired), or just under a year (expires soon).
      daysAgo: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 355, max: 365 })),
    }),
  },
  {
    weight: 6,
    // Relaunched one after the other: the second and third come from the warm cache.
    arbitrary: fc.record({
      kind: fc.constant('launch' as const),
      pair: pairArb,
      keyed: fc.boolean(),
      times: fc.integer({ min: 1, max: 3 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick: fc.nat(), sameBody: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('burst' as const),
      entries: fc.uniqueArray(
        fc.record({
          pair: pairArb,
          copies: fc.integer({ min: 1, max: 3 }),
          keying: fc.constantFrom<BurstEntry['keying']>('none', 'shared', 'distinct'),
        }),
        { minLength: 1, maxLength: 5, selector: (e) => `${e.pair.user}/${e.pair.product}` },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('end' as const), latest: fc.boolean(), pick: fc.nat() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('clock' as const),
      // Inside and just past the free 5 minutes (5 is still inside), hours, days, months, a year.
      minutes: fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(1, 2, 4, 5, 6, 10) },
        { weight: 2, arbitrary: fc.integer({ min: 60, max: 23 * 60 }) },
        { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }).map((d) => d * 1440) },
        { weight: 1, arbitrary: fc.integer({ min: 30, max: 200 }).map((d) => d * 1440) },
        { weight: 1, arbitrary: fc.constant(365 * 1440) },
      ),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('rate' as const),
      product: fc.integer({ min: 0, max: RATES.length - 1 }),
      rate: fc.integer({ min: 1, max: 25 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      from: fc.constantFrom<0 | 1>(0, 1),
      tokens: fc.integer({ min: 1, max: 40 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('access' as const),
      op: fc.constantFrom<AccessOp>('clear', 'restore', 'remove', 'readd'),
      member: fc.integer({ min: 0, max: MEMBERS.length - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('subscribe' as const),
      user: fc.integer({ min: 0, max: USERS - 1 }),
      product: fc.integer({ min: 0, max: RATES.length - 1 }),
      days: fc.integer({ min: 1, max: 40 }),
    }),
  },
);

/** Histories that told the gateways apart once: every run starts with them. */
const EXAMPLES: Step[][] = [
  // R19 and grouping: a lot that came within 90 days of its expiry by time alone (no warning yet)
  // is drained by two launches at once. One by one, the first leaves it 4 tokens and the admin is
  // warned about them; in one group, it is empty when the group checks, and no one is.
  [
    { kind: 'purchase', team: 1, tokens: 14, daysAgo: 249 },
    { kind: 'clock', minutes: 93 * 1440 },
    {
      kind: 'burst',
      entries: [
        { pair: { user: 2, product: 1, team: null }, copies: 1, keying: 'none' },
        { pair: { user: 3, product: 1, team: 1 }, copies: 1, keying: 'none' },
      ],
    },
  ],
  // Idempotency-Key: three copies of one launch, one key, at once: one charge, and the first answer for all.
  [{ kind: 'burst', entries: [{ pair: { user: 0, product: 0, team: null }, copies: 3, keying: 'shared' }] }],
];

// ---------------------------------------------------------------------------------------------
// Normalisation: what is random per gateway becomes what it stands for

const TEAM_NAMES = ['A', 'B'];
const ID = /\b(?:ses_[A-Za-z0-9_-]{21}|(?:lot|tm|adm|sub|trl|inv|ent|idt)_[A-Za-z0-9_-]{12})(?![A-Za-z0-9_-])/g;
const DROPPED = new Set(['entitlement', 'requestId', 'token']);

/** One gateway's names for one history: real id -> the name every gateway gives it. */
class Canon {
  private readonly names = new Map<string, string>();
  private readonly sessions = new Map<string, string>();
  private readonly lotPurchases = new Map<string, string>();
  private readonly counters = new Map<string, number>();

  constructor(teams: string[], admin: string) {
    for (const [i, t] of teams.entries()) this.names.set(t, TEAM_NAMES[i] as string);
    this.names.set(admin, 'ADMIN');
  }

  /** A lot is what tells it apart: its team, size and purchase instant (its expiry follows). */
  lot(id: string, team: string, tokens: number, purchasedAt: string): void {
    if (this.names.has(id)) return;
    this.names.set(id, `lot(${team} ${tokens} ${purchasedAt})`);
    this.lotPurchases.set(id, purchasedAt);
  }

  purchasedAt(lotId: string): string {
    const at = this.lotPurchases.get(lotId);
    if (!at) throw new Error(`lot ${lotId} appeared before its purchase or transfer`);
    return at;
  }

  team(id: string): string {
    return this.names.get(id) ?? this.id(id);
  }

  /** The real id of a session name (S3), to end it. */
  realSession(name: string): string {
    for (const [real, n] of this.sessions) if (n === name) return real;
    throw new Error(`no session ${name} on this gateway`);
  }

  id(real: string): string {
    const known = this.names.get(real) ?? this.sessions.get(real);
    if (known) return known;
    const prefix = real.slice(0, real.indexOf('_'));
    const n = (this.counters.get(prefix) ?? 0) + 1;
    this.counters.set(prefix, n);
    // Sessions by order of appearance; a lot not seen bought or transferred would be a surprise.
    const name = prefix === 'ses' ? `S${n}` : `${prefix}?${n}`;
    if (prefix === 'ses') this.sessions.set(real, name);
    else this.names.set(real, name);
    return name;
  }

  value(v: unknown): any {
    // Each gateway listens on its own port, and an invitation's token is random: its link names both.
    if (typeof v === 'string') {
      const link = v.replace(/http:\/\/127\.0\.0\.1:\d+\//g, '<gateway>/').replace(/([?&]token=)[^&\s]+/g, '$1<token>');
      return sortTeamList(link.replace(ID, (m) => this.id(m)));
    }
    if (Array.isArray(v)) return v.map((x) => this.value(x));
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) if (!DROPPED.has(k)) out[k] = this.value(x);
      return out;
    }
    return v;
  }

  answer(a: Answer): { status: number; body: any } {
    return { status: a.status, body: this.value(a.body) };
  }
}
/** R9's "member of several teams" lists them by team id, which is random per gateway. */
function sortTeamList(text: string): string {
  return text.replace(/several teams: (.*?)\. Say/, (_, list: string) => `several teams: ${list.split(', ').sort().join(', ')}. Say`);
}

/** Balance and lots; an expired lot's `remaining` counts only once expiries are settled (ledger read). */
function balanceView(canon: Canon, team: string, body: any, settled: boolean): any {
  for (const l of body.lots) canon.lot(l.id, canon.team(team), l.tokens, l.purchasedAt);
  const lots = body.lots.map((l: any) => {
    const view = canon.value(l);
    if (l.expired && !settled) delete view.remaining;
    return view;
  });
  // Lots alike in team, size and instants are interchangeable: among them, order by what they hold.
  const ordered: any[] = [];
  for (let i = 0; i < lots.length; ) {
    let j = i;
    while (j < lots.length && lots[j].id === lots[i].id) j++;
    ordered.push(...lots.slice(i, j).sort((a: any, b: any) => JSON.stringify(a).localeCompare(JSON.stringify(b))));
    i = j;
  }
  return { ...canon.value(body), lots: ordered };
}

/**
 * The ledger as a user can compare it: expiry entries per lot (the sweep may write them earlier or
 * in two parts), each burst's charges as totals per session and per lot, everything else in order.
 */
function ledgerView(canon: Canon, entries: any[], burstOf: Map<string, number>): any {
  const expiries = new Map<string, { at: string; tokens: number }>();
  const rest: any[] = [];
  for (const raw of entries) {
    // Ids, and so the hashes over them, differ between databases; each side's chain is checked on its own (R5).
    const { id: _id, prevHash: _prev, hash: _hash, ...e } = canon.value(raw);
    if (e.kind === 'expiry') {
      const seen = expiries.get(e.lotId);
      expiries.set(e.lotId, { at: e.at, tokens: (seen?.tokens ?? 0) + e.tokens });
      continue;
    }
    const burst = e.kind === 'charge' ? burstOf.get(e.sessionId) : undefined;
    const last = rest[rest.length - 1];
    if (burst === undefined) rest.push(e);
    else if (last?.burst === burst) last.entries.push(e);
    else rest.push({ burst, entries: [e] });
  }
  const total = (entries: any[], key: string) => {
    const sums = new Map<string, number>();
    for (const e of entries) sums.set(e[key], (sums.get(e[key]) ?? 0) + e.tokens);
    return [...sums.entries()].sort(([a], [b]) => a.localeCompare(b));
  };
  return {
    entries: rest.map((e) =>
      e.burst === undefined
        ? e
        : {
            burst: e.burst,
            perSession: total(e.entries, 'sessionId'),
            perLot: total(e.entries, 'lotId'),
            reasons: [...new Set(e.entries.map((x: any) => `${x.sessionId} ${x.reason}`))].sort(),
          },
    ),
    expiries: [...expiries.entries()].sort(([a], [b]) => a.localeCompare(b)),
  };
}

// ---------------------------------------------------------------------------------------------
// Running one history on every gateway

/** One gateway's side of a history. */
interface Side {
  variant: Variant;
  gw: TestGateway;
  teams: string[];
  admin: Api;
  users: Api[];
  canon: Canon;
  /** How many of the admin's e-mails were compared already. */
  mailsSeen: number;
}

interface Model {
  run: string;
  now: number;
  rates: number[];
  /** Every session answered so far, by name, in the order they opened. */
  sessions: { name: string; user: number; startsAt: number; refundable: boolean }[];
  /** Their names, to tell a session just opened from one answered again. */
  seen: Set<string>;
  /** Sessions opened in a burst: their charges are compared as that burst's totals. */
  burstOf: Map<string, number>;
  /** Keyed launches whose stored answer (or none) is the same on every gateway, to retry. */
  /** Keyed requests to retry; `inBurst`: its first answer's balance depends on the burst's order. */
  keys: { user: number; product: number; body: Record<string, unknown>; key: string; inBurst?: boolean }[];
  /** Purchases so far: each gets an instant of its own. */
  purchases: number;
}

const emailOf = (run: string, who: string) => `${who}@r${run}.example.com`;
const productKey = (run: string, i: number) => `p${i}-${run}`;

/** The teams a launch may charge: its member's, or for u3 the one named (either, when none is: u3 may have left one). */
function teamsOfPair(p: Pair): (0 | 1)[] {
  if (p.user === 3) return p.team === null ? [0, 1] : [p.team];
  return p.user === 2 ? [1] : [0];
}

function launchBody(side: Side, model: Model, p: Pair): Record<string, unknown> {
  const body: Record<string, unknown> = { product: productKey(model.run, p.product) };
  if (p.user === 3 && p.team !== null) body.team = side.teams[p.team];
  return body;
}

function selectionBody(model: Model, selection: { allProducts?: boolean; products?: number[] }) {
  return selection.allProducts ? { allProducts: true } : { products: (selection.products ?? []).map((i) => productKey(model.run, i)) };
}

/** Every gateway must agree on `what`, as the first one (SQLite, one charge per transaction) has it. */
function expectAgreement<T>(sides: Side[], step: string, views: T[]): void {
  const [first, ...others] = views;
  others.forEach((view, i) => {
    expect(view, `${step}: ${sides[i + 1]?.variant.name} disagrees with ${sides[0]?.variant.name}`).toEqual(first);
  });
}

/**
 * Runs `act` on every gateway at once (each gateway its own history) and compares the answers
 * exactly; `withoutBalance` leaves out a balance that depends on the order of an earlier burst.
 */
async function sequential(
  sides: Side[],
  step: string,
  act: (side: Side) => Promise<Answer | Answer[]>,
  withoutBalance = false,
): Promise<Answer[][]> {
  const answers = await Promise.all(sides.map(async (s) => [await act(s)].flat()));
  const view = (side: Side, a: Answer) => {
    const canon = side.canon.answer(a) as { body?: unknown };
    if (!withoutBalance || typeof canon.body !== 'object' || canon.body === null) return canon;
    const { balance: _balance, ...body } = canon.body as Record<string, unknown>;
    return { ...canon, body };
  };
  expectAgreement(
    sides,
    step,
    answers.map((list, i) => list.map((a) => view(sides[i] as Side, a))),
  );
  return answers;
}

function registerLots(side: Side, team: string, a: Answer): void {
  if (a.status === 201 && a.body.lotId) side.canon.lot(a.body.lotId, side.canon.team(team), a.body.tokens, a.body.purchasedAt);
}

function registerTransfer(side: Side, a: Answer): void {
  if (a.status !== 201) return;
  const to = side.canon.team(a.body.to);
  for (const part of a.body.lots) side.canon.lot(part.toLot, to, part.tokens, side.canon.purchasedAt(part.fromLot));
}

/**
 * A launch answer (of the first gateway) that opened a session moves the model: a session to end,
 * as every gateway names it. Relaunches and replays answer sessions seen before.
 */
function noteSession(model: Model, side: Side, p: Pair, a: Answer, refundable: boolean): void {
  if (a.status !== 200 || !a.body.session) return;
  const name = side.canon.id(a.body.session.id);
  if (model.seen.has(name)) return;
  model.seen.add(name);
  model.sessions.push({ name, user: p.user, startsAt: Date.parse(a.body.session.startsAt), refundable });
}

async function signInAll(sides: Side[], model: Model): Promise<void> {
  await Promise.all(
    sides.map(async (s) => {
      for (let u = 0; u < USERS; u++) {
        const autodeskId = emailOf(model.run, `u${u}`);
        const { token } = expectStatus(await s.gw.anon.post('/v1/signin', { autodeskId, password: `pw-${model.run}-${u}` }), 200);
        s.users[u] = s.gw.anon.as(token);
      }
    }),
  );
}

async function setUp(run: string): Promise<{ sides: Side[]; model: Model }> {
  const model: Model = {
    run,
    now: T0,
    rates: [...RATES],
    sessions: [],
    seen: new Set(),
    burstOf: new Map(),
    keys: [],
    purchases: 0,
  };
  const made = await Promise.all(
    gateways.map(async (gw, i) => {
      const answers: Answer[] = [];
      answers.push(await gw.op.post('/v1/test/clock', { now: new Date(T0).toISOString() }));
      for (const [p, dailyRate] of RATES.entries())
        answers.push(await gw.op.post('/v1/products', { key: productKey(run, p), name: `Product ${p} ${run}`, dailyRate }));
      const teams: string[] = [];
      for (const name of TEAM_NAMES) {
        const t = await gw.op.post('/v1/teams', { name: `${name} ${run}` });
        answers.push(t);
        teams.push(expectStatus(t, 201).id);
      }
      const adminAnswer = await gw.op.post('/v1/admins', { name: `Admin ${run}`, email: emailOf(run, 'admin'), teams });
      const { id: adminId, key, ...adminRest } = expectStatus(adminAnswer, 201);
      answers.push({ ...adminAnswer, body: adminRest });
      for (let u = 0; u < USERS; u++)
        answers.push(
          await gw.op.post('/v1/users', { autodeskId: emailOf(run, `u${u}`), name: `User ${u} ${run}`, password: `pw-${run}-${u}` }),
        );
      const side: Side = {
        variant: VARIANTS[i] as Variant,
        gw,
        teams,
        admin: gw.anon.as(key),
        users: [],
        canon: new Canon(teams, adminId),
        mailsSeen: 0,
      };
      for (const m of MEMBERS) {
        const account = { autodeskId: emailOf(run, `u${m.user}`), password: `pw-${run}-${m.user}` };
        answers.push(
          await gw.op.post(`/v1/teams/${teams[m.team]}/members`, { autodeskId: account.autodeskId, ...selectionBody(model, m.selection) }),
        );
        // R11: the person accepts, as every member of an existing account must.
        await acceptInvitationOf(gw, account);
      }
      return { side, answers };
    }),
  );
  const sides = made.map((m) => m.side);
  expectAgreement(
    sides,
    'set-up',
    made.map((m) => m.answers.map((a) => m.side.canon.answer(a))),
  );
  await signInAll(sides, model);
  // Something to spend from the start: an old lot in A (expires within the year), a new one in B.
  await runStep(sides, model, { kind: 'purchase', team: 0, tokens: 40, daysAgo: 300 }, -2);
  await runStep(sides, model, { kind: 'purchase', team: 1, tokens: 25, daysAgo: 0 }, -1);
  return { sides, model };
}

async function purchase(sides: Side[], model: Model, team: 0 | 1, tokens: number, daysAgo: number, label: string): Promise<void> {
  // Every purchase at its own instant (a millisecond apart): lots that differ are told apart by it.
  model.purchases += 1;
  const purchasedAt = new Date(model.now - daysAgo * DAY - model.purchases).toISOString();
  await sequential(sides, label, async (s) => {
    const a = await s.gw.op.post(`/v1/teams/${s.teams[team]}/purchases`, { tokens, purchasedAt });
    registerLots(s, s.teams[team] as string, a);
    return a;
  });
}

async function balances(sides: Side[], label: string): Promise<any[][]> {
  const raw = await Promise.all(
    sides.map((s) => Promise.all(s.teams.map(async (t) => expectStatus(await s.gw.op.get(`/v1/teams/${t}/balance`), 200)))),
  );
  expectAgreement(
    sides,
    label,
    raw.map((perTeam, i) => perTeam.map((b, t) => balanceView((sides[i] as Side).canon, (sides[i] as Side).teams[t] as string, b, false))),
  );
  return raw;
}

/** The admin's e-mails since the last look (R19 alerts go to the admin): in order, or per kind for a burst. */
async function compareMails(sides: Side[], model: Model, label: string, burst: boolean): Promise<void> {
  const fresh = await Promise.all(
    sides.map(async (s) => {
      const all = expectStatus(await s.gw.op.get(`/v1/outbox?to=${encodeURIComponent(emailOf(model.run, 'admin'))}&limit=10000`), 200);
      const mine = all.slice(s.mailsSeen);
      s.mailsSeen = all.length;
      return mine.map(({ id: _id, ...m }: any) => s.canon.value(m));
    }),
  );
  expectAgreement(
    sides,
    `${label}: the admin's e-mails`,
    fresh.map((mails) => (burst ? mails.map((m: any) => `${m.to} ${m.kind}`).sort() : mails)),
  );
}

async function runStep(sides: Side[], model: Model, step: Step, index: number): Promise<void> {
  const label = `step ${index} ${JSON.stringify(step)}`;
  const ref = sides[0] as Side;
  switch (step.kind) {
    case 'purchase':
      return purchase(sides, model, step.team, step.tokens, step.daysAgo, label);
    case 'clock': {
      model.now += step.minutes * MINUTE;
      await sequential(sides, label, (s) => s.gw.op.post('/v1/test/clock', { now: new Date(model.now).toISOString() }));
      // ID tokens last 7 days in tests; sign in again as a product's user would.
      return signInAll(sides, model);
    }
    case 'rate': {
      model.rates[step.product] = step.rate;
      await sequential(sides, label, (s) => s.gw.op.patch(`/v1/products/${productKey(model.run, step.product)}`, { dailyRate: step.rate }));
      return;
    }
    case 'transfer': {
      const to = step.from === 0 ? 1 : 0;
      await sequential(sides, label, async (s) => {
        const a = await s.admin.post(`/v1/teams/${s.teams[step.from]}/transfers`, { toTeam: s.teams[to], tokens: step.tokens });
        registerTransfer(s, a);
        return a;
      });
      return;
    }
    case 'access': {
      const m = MEMBERS[step.member] as (typeof MEMBERS)[number];
      const id = emailOf(model.run, `u${m.user}`);
      await sequential(sides, label, (s) => {
        const team = s.teams[m.team];
        switch (step.op) {
          case 'clear':
            return s.admin.put(`/v1/teams/${team}/members/${id}/products`, {});
          case 'restore':
            return s.admin.put(`/v1/teams/${team}/members/${id}/products`, selectionBody(model, m.selection));
          case 'remove':
            return s.admin.delete(`/v1/teams/${team}/members/${id}`);
          case 'readd':
            return (async () => {
              const a = await s.admin.post(`/v1/teams/${team}/members`, { autodeskId: id, ...selectionBody(model, m.selection) });
              if (a.status === 201) await acceptInvitationOf(s.gw, { autodeskId: id, password: `pw-${model.run}-${m.user}` });
              return a;
            })();
        }
      });
      return;
    }
    case 'subscribe': {
      const endsAt = new Date(model.now + step.days * DAY).toISOString();
      await sequential(sides, label, (s) =>
        s.gw.op.post('/v1/subscriptions', {
          autodeskId: emailOf(model.run, `u${step.user}`),
          product: productKey(model.run, step.product),
          endsAt,
        }),
      );
      return;
    }
    case 'launch': {
      const key = step.keyed ? `k-${model.run}-${index}` : undefined;
      const answers = await sequential(sides, label, async (s) => {
        const out: Answer[] = [];
        for (let i = 0; i < step.times; i++)
          out.push(
            await (s.users[step.pair.user] as Api).post(
              '/v1/launch',
              launchBody(s, model, step.pair),
              key ? { 'idempotency-key': key } : {},
            ),
          );
        return out;
      });
      for (const a of answers[0] ?? []) noteSession(model, ref, step.pair, a, true);
      if (key) model.keys.push({ user: step.pair.user, product: step.pair.product, body: launchBody(ref, model, step.pair), key });
      return;
    }
    case 'retry': {
      const k = model.keys[step.pick % Math.max(1, model.keys.length)];
      if (!k) return;
      const product = step.sameBody ? k.product : (k.product + 1) % RATES.length;
      const pair: Pair = { user: k.user, product, team: null };
      const answers = await sequential(
        sides,
        label,
        (s) => {
          // The body as first sent (its team is this gateway's own id), or another product: a 409 if the key was used.
          const body: Record<string, unknown> = { ...k.body, product: productKey(model.run, product) };
          if (typeof k.body.team === 'string') body.team = s.teams[ref.teams.indexOf(k.body.team)];
          return (s.users[k.user] as Api).post('/v1/launch', body, { 'idempotency-key': k.key });
        },
        Boolean(k.inBurst),
      );
      noteSession(model, ref, pair, answers[0]?.[0] as Answer, true);
      return;
    }
    case 'end': {
      const s = step.latest ? model.sessions[model.sessions.length - 1] : model.sessions[step.pick % Math.max(1, model.sessions.length)];
      if (!s) return;
      // A burst session whose tokens came from lots in an order of its own would be refunded to them.
      if (!s.refundable && model.now - s.startsAt <= FREE_CLOSE_MS) return;
      await sequential(sides, label, (side) => (side.users[s.user] as Api).post(`/v1/sessions/${side.canon.realSession(s.name)}/end`));
      return;
    }
    case 'burst':
      return burst(sides, model, step.entries, index, label);
  }
}

async function burst(sides: Side[], model: Model, entries: BurstEntry[], index: number, label: string): Promise<void> {
  const ref = sides[0] as Side;
  // Launches of one team must not compete for too few tokens: then who wins depends on the order.
  const before = await balances(sides, `${label}: balances before`);
  for (const team of [0, 1] as const) {
    const charging = entries.filter((e) => teamsOfPair(e.pair).includes(team));
    const need = charging.reduce((sum, e) => sum + (model.rates[e.pair.product] as number), 0);
    const has = before[0]?.[team].balance as number;
    if (charging.length > 1 && has < need) await purchase(sides, model, team, need - has, 0, `${label}: top-up of ${'AB'[team]}`);
  }
  const lotsBefore = (await balances(sides, `${label}: balances after top-up`))[0] as any[];
  await compareMails(sides, model, `${label}: before`, false);

  // Copies interleaved: every entry's first copy, then every second copy, ...
  const requests: { entry: number; copy: number }[] = [];
  for (let copy = 0; copy < 3; copy++) for (const [entry, e] of entries.entries()) if (copy < e.copies) requests.push({ entry, copy });
  const keyOf = (entry: number, copy: number) => {
    const e = entries[entry] as BurstEntry;
    if (e.keying === 'none') return undefined;
    return e.keying === 'shared' ? `b-${model.run}-${index}-${entry}` : `b-${model.run}-${index}-${entry}-${copy}`;
  };
  // All of a gateway's launches written in one turn, each on a connection of its own: they arrive together.
  const answers = await Promise.all(
    sides.map((s) =>
      simultaneously(
        requests.map(({ entry, copy }) => {
          const e = entries[entry] as BurstEntry;
          const key = keyOf(entry, copy);
          const headers: Record<string, string> = key ? { 'idempotency-key': key } : {};
          return { api: s.users[e.pair.user] as Api, method: 'POST', path: '/v1/launch', body: launchBody(s, model, e.pair), headers };
        }),
      ),
    ),
  );

  // The same key, the same body: once one of them charged, the same answer, byte for byte, on each
  // gateway (docs/http.md). A relaunch in a session already open changes nothing and is decided again.
  answers.forEach((list, i) => {
    entries.forEach((e, entry) => {
      if (e.keying !== 'shared') return;
      const mine = requests.flatMap((r, k) => (r.entry === entry ? [list[k] as Answer] : []));
      if (!mine.some((a) => a.status === 200 && a.body.charged > 0)) return;
      const texts = mine.map((a) => a.text);
      expect(new Set(texts).size, `${label}: ${VARIANTS[i]?.name}: one key, ${texts.length} answers:\n${texts.join('\n')}`).toBe(1);
    });
  });

  // Per request: granted or why not, and which session; charged and balance depend on the order.
  const views = answers.map((list, i) =>
    list.map((a) => {
      const { body, status } = (sides[i] as Side).canon.answer(a);
      if (status !== 200) return { status, body };
      const { charged: _c, balance: _b, ...rest } = body;
      return { status, body: rest };
    }),
  );
  expectAgreement(sides, `${label}: answers`, views);
  // Per (user, product): what its launches charged, in all.
  expectAgreement(
    sides,
    `${label}: charges per (user, product)`,
    answers.map((list) =>
      entries.map((_, entry) => requests.flatMap((r, k) => (r.entry === entry ? [list[k]?.body.charged ?? null] : [])).sort()),
    ),
  );
  await balances(sides, `${label}: balances after`);
  await compareMails(sides, model, label, true);

  // The model, from the first gateway: sessions opened, whether a refund would be order-free, keys to retry.
  const refAnswers = answers[0] as Answer[];
  // Sessions opened here: the ones some answer charged for (every key of a burst is new).
  const opened = new Map<string, { team: number; charged: number }>();
  for (const a of refAnswers)
    if (a.status === 200 && a.body.session && a.body.charged > 0)
      opened.set(ref.canon.id(a.body.session.id), { team: ref.teams.indexOf(a.body.team), charged: a.body.charged });
  const refundable = [0, 1].map((team) => {
    const charged = [...opened.values()].flatMap((o) => (o.team === team ? [o.charged] : []));
    if (charged.length <= 1) return true;
    // Several sessions of one team charged at once: refundable when all of it came from one lot.
    const first = lotsBefore[team].lots.find((l: any) => !l.expired && l.remaining > 0);
    return first !== undefined && first.remaining >= charged.reduce((s, c) => s + c, 0);
  });
  for (const name of opened.keys()) if (!model.burstOf.has(name)) model.burstOf.set(name, index);
  requests.forEach(({ entry }, k) => {
    const a = refAnswers[k] as Answer;
    const team = a.status === 200 && a.body.team ? ref.teams.indexOf(a.body.team) : -1;
    noteSession(model, ref, (entries[entry] as BurstEntry).pair, a, team < 0 || (refundable[team] ?? true));
  });
  entries.forEach((e, entry) => {
    if (e.keying === 'shared')
      model.keys.push({
        user: e.pair.user,
        product: e.pair.product,
        body: launchBody(ref, model, e.pair),
        key: keyOf(entry, 0) as string,
        inBurst: true,
      });
  });
}

/** After the history: ledger, balances, members, usage and everyone's e-mails, on every gateway. */
async function compareEnd(sides: Side[], model: Model): Promise<void> {
  for (const [t, name] of TEAM_NAMES.entries()) {
    const ledgers = await Promise.all(sides.map((s) => ledgerOf(s.gw, s.teams[t] as string)));
    expectAgreement(
      sides,
      `the ledger of ${name}`,
      ledgers.map((entries, i) => ledgerView((sides[i] as Side).canon, entries, model.burstOf)),
    );
    const settled = await Promise.all(sides.map(async (s) => expectStatus(await s.gw.op.get(`/v1/teams/${s.teams[t]}/balance`), 200)));
    expectAgreement(
      sides,
      `the balance and lots of ${name}`,
      settled.map((b, i) => balanceView((sides[i] as Side).canon, (sides[i] as Side).teams[t] as string, b, true)),
    );
    for (const s of sides) await expectLedgerMatchesBalance(s.gw, s.teams[t] as string);
    const members = await Promise.all(sides.map(async (s) => s.canon.answer(await s.gw.op.get(`/v1/teams/${s.teams[t]}/members`))));
    expectAgreement(sides, `the members of ${name}`, members);
    // R15 over whole days, in windows of a year (a report spans at most three).
    for (let from = T0 - DAY; from <= model.now; from += 365 * DAY) {
      const to = Math.min(from + 364 * DAY, model.now);
      for (const by of ['day', 'user', 'product']) {
        const q = `from=${new Date(from).toISOString().slice(0, 10)}&to=${new Date(to).toISOString().slice(0, 10)}&by=${by}&format=json`;
        const usage = await Promise.all(sides.map(async (s) => s.canon.answer(await s.gw.op.get(`/v1/teams/${s.teams[t]}/usage?${q}`))));
        expectAgreement(sides, `the usage of ${name} (${q})`, usage);
      }
    }
  }
  await compareMails(sides, model, 'after the history', false);
  for (let u = 0; u < USERS; u++) {
    const to = encodeURIComponent(emailOf(model.run, `u${u}`));
    const mails = await Promise.all(
      sides.map(async (s) =>
        expectStatus(await s.gw.op.get(`/v1/outbox?to=${to}&limit=10000`), 200).map(({ id: _id, ...m }: any) => s.canon.value(m)),
      ),
    );
    expectAgreement(sides, `the e-mails of u${u}`, mails);
  }
}

async function runHistory(steps: Step[]): Promise<void> {
  const run = randomBytes(3).toString('hex');
  const { sides, model } = await setUp(run);
  for (const [i, step] of steps.entries()) await runStep(sides, model, step, i);
  await compareEnd(sides, model);
}

describe('one launch engine: SQLite and PostgreSQL, grouped and one by one, answer every history alike', () => {
  it('purchases, launches and bursts of them, ends, transfers, clock moves, rate and access changes: the same answers, ledger, balances, usage and e-mails', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { minLength: 6, maxLength: 30 }), runHistory),
      // Shrinking re-runs histories on four gateways; FLEXGATE_DIFF_SHRINK=1 asks for a minimal one.
      {
        numRuns: Number(process.env.FLEXGATE_DIFF_RUNS ?? 20),
        examples: EXAMPLES.map((steps) => [steps]),
        endOnFailure: process.env.FLEXGATE_DIFF_SHRINK !== '1',
        // Shrinking replays histories on four gateways: what it reached in 4 minutes is reported.
        ...(process.env.FLEXGATE_DIFF_SHRINK === '1' ? { interruptAfterTimeLimit: 240_000 } : {}),
        // To replay a failure: the seed and path fast-check printed.
        ...(process.env.FLEXGATE_DIFF_SEED ? { seed: Number(process.env.FLEXGATE_DIFF_SEED), path: process.env.FLEXGATE_DIFF_PATH } : {}),
      },
    );
  }, 300_000);
});
