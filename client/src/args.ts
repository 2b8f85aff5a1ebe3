import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8787';

const COMMON_HELP = `Common options:
  --gateway URL     the gateway; default $FLEXGATE_URL or ${DEFAULT_GATEWAY}
  --trust ROOT      the gateway's root key: its thumbprint or its JWK; default $FLEXGATE_TRUST,
                    else the one pinned at the first sign-in (trust on first use)
  --cache-dir DIR   sign-in and entitlements; default $FLEXGATE_CACHE_DIR or ~/.flexgate
  --json            machine-readable output on stdout
  -h, --help        this text`;

const EXIT_HELP = `Exit codes: 0 granted / done, 1 unexpected error, 2 usage error, 3 refused,
            4 gateway unreachable (and nothing usable offline), 5 ledger verification failed.`;

export const USAGE = `Usage: flexgate <command> [options]

Commands:
  signin --user ID                    sign in (asks for the password)
  signout                             end the sign-in, on the gateway too
  launch <product>                    ask for access to a product, as the product does at start
  products [--all]                    products you may use (--all: the whole catalog)
  usage [--from DAY] [--to DAY]       your own Flex use by day (default: the last 30 days)
  whoami                              who is signed in, what is cached for offline use
  simulate --users N --launches M     drive N simulated users launching M times each
  ledger verify --team T              check a team's ledger against a signed checkpoint (admin key)
  help [command]                      this text, or a command's

Run \`flexgate <command> --help\` (or \`flexgate help <command>\`) for its options and an example.

${COMMON_HELP}

${EXIT_HELP}`;

export type CommandName = 'signin' | 'signout' | 'launch' | 'products' | 'usage' | 'whoami' | 'simulate' | 'ledger';

/** Each command's own --help: usage, what it does, its options, an example. */
const HELP: Record<CommandName, string> = {
  signin: `Usage: flexgate signin --user AUTODESK_ID [--password P]

Signs in to the gateway and keeps the sign-in in the cache directory: launches need it,
and so does the offline allowance the gateway gives with it (launches while the gateway is
away, until at most 24 hours after the last contact). Without --trust (or $FLEXGATE_TRUST)
the first sign-in pins the gateway's root key and says so; a configured trust always wins.

Options:
  --user ID         your Autodesk ID (e-mail address)
  --password P      the password; else $FLEXGATE_PASSWORD; else it is asked for on the
                    terminal (not echoed), or read from the first line of standard input

Examples:
  flexgate signin --user ada@example.com
  printf '%s\\n' "$PASSWORD" | flexgate signin --user ada@example.com

${COMMON_HELP}`,
  signout: `Usage: flexgate signout

Ends the sign-in on the gateway (its refresh token and access tokens stop working, a copy of
this cache included) and forgets it on this machine (cached entitlements can no longer be used).
With the gateway out of reach it is forgotten here only, and the output says so.

Example:
  flexgate signout

${COMMON_HELP}`,
  launch: `Usage: flexgate launch <product> [--team T] [--machine M] [--fresh] [--yes|-y] [--json]
                       [--run [--hold SECONDS] [--heartbeat SECONDS] [--idle-after SECONDS]]

Asks for access to a product as the product itself does when it starts. A valid cached
entitlement is used without the network; else the gateway decides, and charges Flex tokens
for the day. If the gateway cannot be reached, a cached entitlement or a 4-hour provisional
launch (charged later) may still be granted. Prints the source, the tokens charged, the
balance, when the session ends and how long the entitlement is valid offline.

Options:
  <product>             the product key, e.g. revit (\`flexgate products\` lists them)
  --team T              the team id to charge, when you belong to several
  --machine M           the machine name reported to the gateway (default: the host name)
  --fresh               ask the gateway even if the cache holds a valid entitlement
  --yes, -y             do not ask before a launch that charges tokens (on a terminal, the
                        CLI asks "This will use N tokens of TEAM (M left). Continue?" first)
  --run                 keep running as the product would, heartbeating, until Ctrl-C
                        or --hold; then end the session (free within 5 minutes, once a
                        day); stops at once (exit 3) if the gateway voids the session
  --hold SECONDS        with --run: close after SECONDS
  --idle-after SECONDS  with --run: the simulated user stops using the product after SECONDS;
                        idle stretches of 15 minutes or more are reported with the heartbeats,
                        and the session ends that much later (idle time is not charged)
  --heartbeat SECONDS   with --run: at most SECONDS between heartbeats (default 300;
                        sooner while the entitlement is a short lease)

Examples:
  flexgate launch revit
  flexgate launch autocad --run --hold 60 --heartbeat 10

${COMMON_HELP}

${EXIT_HELP}`,
  products: `Usage: flexgate products [--all]

Lists the products you may use (key, name, tokens per day of Flex use).

Options:
  --all             the gateway's whole catalog instead

Example:
  flexgate products --all

${COMMON_HELP}`,
  usage: `Usage: flexgate usage [--from DAY] [--to DAY]

Shows your own Flex use, whichever team paid: one line per day (UTC), product and team,
with the sessions charged and the tokens they used (a short launch refunded counts nothing).

Options:
  --from DAY        the first day, e.g. 2026-03-01 (default: 29 days before --to)
  --to DAY          the last day, included (default: today)

Examples:
  flexgate usage
  flexgate usage --from 2026-03-01 --to 2026-03-31 --json

${COMMON_HELP}`,
  whoami: `Usage: flexgate whoami

Shows who is signed in on this machine, the cached entitlements still usable offline and
the provisional launches not yet reported. Reads the cache only: no network.

Example:
  flexgate whoami --json

${COMMON_HELP}`,
  simulate: `Usage: flexgate simulate --users N --launches M [--concurrency C] [--products a,b]
                         [--password P] [--prefix sim] [--use-cache]
                         [--setup [--operator-key K] [--tokens T]]

Signs in N simulated users (<prefix>-<i>@simulated.example) and launches M times each,
round-robin over the products; a progress bar on stderr, then a summary: launches,
sources, tokens charged, refusals by code, latency p50/p95/p99/max.

Options:
  --users N             simulated users
  --launches M          launches per user
  --concurrency C       launches in flight at once (default 16)
  --products a,b        product keys (default: the catalog)
  --password P          the users' password (default $FLEXGATE_PASSWORD or simulated-password)
  --prefix P            user name prefix (default sim)
  --use-cache           serve relaunches from each user's cache
  --setup               first create a team, buy tokens, create and add the users
  --operator-key K      with --setup (default $FLEXGATE_OPERATOR_KEY)
  --tokens T            with --setup: tokens to buy (default 1000000)

Example:
  flexgate simulate --users 20 --launches 5 --setup --operator-key "$FLEXGATE_OPERATOR_KEY"

${COMMON_HELP}`,
  ledger: `Usage: flexgate ledger verify --team T [--admin-key K] [--keep DIR]

Downloads a signed checkpoint of the team's ledger, then the whole ledger (in pages), and checks
them offline, as docs/ledger.md describes: the checkpoint's signature against the gateway's JWKS
(and, with --trust or a root pinned at sign-in, against the key set the root key signs), every
entry's hash chain from the first, and the checkpoint's count, last hash and balance against the
chain. A break names the entry, its position and the hash expected vs found. Needs no sign-in.

Options:
  --team T          the team id
  --admin-key K     an admin key of the team (or the operator key); default $FLEXGATE_ADMIN_KEY
  --keep DIR        keep each verified checkpoint in DIR (with the key that verified it), and
                    check that the ledger still holds the history of every one kept before:
                    a history rewritten since, even with every later hash recomputed, fails

Exit codes: 0 the ledger verifies, 1 unexpected error, 2 usage error, 3 the gateway refused
            (unknown key, not your team), 4 gateway unreachable, 5 verification failed (a bad
            signature, a broken chain, or a chain that does not match the checkpoint).

Example:
  FLEXGATE_ADMIN_KEY=... flexgate ledger verify --team tm_abc123 --keep ~/flexgate-checkpoints

${COMMON_HELP}`,
};

const isCommand = (name: string): name is CommandName => Object.hasOwn(HELP, name);

/** The global help, or a command's. */
export function helpFor(topic?: CommandName): string {
  return topic ? HELP[topic] : USAGE;
}

interface Common {
  gateway: string;
  /** The root key configured (--trust, FLEXGATE_TRUST): a thumbprint or a JWK's JSON; else the pinned one. */
  trust?: string;
  cacheDir: string;
  json: boolean;
}

export type Command =
  | { name: 'help'; topic?: CommandName }
  /** Without a password the CLI asks for it (terminal) or reads it (standard input). */
  | ({ name: 'signin'; user: string; password?: string } & Common)
  | ({ name: 'signout' } & Common)
  | ({
      name: 'launch';
      product: string;
      team?: string;
      machine?: string;
      fresh: boolean;
      yes: boolean;
      idleAfterSec?: number;
      run: boolean;
      holdSec?: number;
      heartbeatSec: number;
    } & Common)
  | ({ name: 'products'; all: boolean } & Common)
  | ({ name: 'usage'; from?: string; to?: string } & Common)
  | ({ name: 'whoami' } & Common)
  | ({ name: 'ledger'; action: 'verify'; team: string; adminKey: string; keep?: string } & Common)
  | ({
      name: 'simulate';
      users: number;
      launches: number;
      concurrency: number;
      products?: string[];
      password: string;
      prefix: string;
      setup: boolean;
      operatorKey?: string;
      tokens: number;
      useCache: boolean;
    } & Common);

export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose usage to show with the message (else the global usage). */
  constructor(
    message: string,
    readonly command?: CommandName,
  ) {
    super(message);
  }
}

const options = {
  gateway: { type: 'string' },
  trust: { type: 'string' },
  'cache-dir': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  user: { type: 'string' },
  password: { type: 'string' },
  team: { type: 'string' },
  machine: { type: 'string' },
  fresh: { type: 'boolean' },
  run: { type: 'boolean' },
  hold: { type: 'string' },
  heartbeat: { type: 'string' },
  all: { type: 'boolean' },
  users: { type: 'string' },
  launches: { type: 'string' },
  concurrency: { type: 'string' },
  products: { type: 'string' },
  prefix: { type: 'string' },
  setup: { type: 'boolean' },
  'operator-key': { type: 'string' },
  tokens: { type: 'string' },
  'use-cache': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  'idle-after': { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'admin-key': { type: 'string' },
  keep: { type: 'string' },
} as const;

/** Which options each command takes; anything else is a usage error rather than silently ignored. */
const ALLOWED: Record<CommandName, readonly string[]> = {
  signin: ['user', 'password'],
  signout: [],
  launch: ['team', 'machine', 'fresh', 'run', 'hold', 'heartbeat', 'yes', 'idle-after'],
  products: ['all'],
  usage: ['from', 'to'],
  whoami: [],
  simulate: ['users', 'launches', 'concurrency', 'products', 'password', 'prefix', 'setup', 'operator-key', 'tokens', 'use-cache'],
  ledger: ['team', 'admin-key', 'keep'],
};
const COMMON = ['gateway', 'trust', 'cache-dir', 'json', 'help'];

function positiveInt(command: CommandName, name: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`, command);
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} must be a positive whole number, not "${raw}"`, command);
  return Number(raw);
}

const isOption = (token: string): boolean =>
  token === '--' ||
  (token.startsWith('--') && (token.slice(2).split('=')[0] as string) in options) ||
  Object.values(options).some((o) => 'short' in o && token === `-${o.short}`);

/**
 * `--trust -Xk…` as `--trust=-Xk…`: parseArgs refuses a value that starts with a dash, and a key
 * thumbprint (base64url) starts with one once in 64, a password may too. What is itself an option
 * (`--team --fresh`) stays an option, and the missing value is reported as before.
 */
function dashValuesAttached(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] as string;
    const next = argv[i + 1];
    const name = token.startsWith('--') && !token.includes('=') ? token.slice(2) : '';
    const takesValue = name in options && options[name as keyof typeof options].type === 'string';
    if (takesValue && next?.startsWith('-') && !isOption(next)) {
      out.push(`${token}=${next}`);
      i++;
    } else out.push(token);
  }
  return out;
}

/** Pure: argv (without node and the script) and the environment in, a command or a UsageError out. */
export function parseCli(argv: readonly string[], env: Record<string, string | undefined>): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: dashValuesAttached(argv), options, allowPositionals: true, strict: true });
  } catch (err) {
    // Unknown option and the like: show the usage of the command they were given to, if any.
    const command = argv.find((a) => !a.startsWith('-'));
    throw new UsageError((err as Error).message, command !== undefined && isCommand(command) ? command : undefined);
  }
  const { values: v, positionals } = parsed;
  const [first, ...rest] = positionals;
  if (first === undefined) return { name: 'help' };
  if (first === 'help') {
    // `flexgate help launch`, as `flexgate launch --help`.
    const [topic, extra] = rest;
    if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
    if (topic === undefined || topic === 'help') return { name: 'help' };
    if (!isCommand(topic)) throw new UsageError(`unknown command "${topic}"`);
    return { name: 'help', topic };
  }
  if (!isCommand(first)) throw new UsageError(`unknown command "${first}"`);
  const name: CommandName = first;
  if (v.help) return { name: 'help', topic: name };
  const usage = (message: string) => new UsageError(message, name);
  const allowed = ALLOWED[name];
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key) && !COMMON.includes(key)) throw usage(`${name} does not take --${key}`);
  }
  const gateway = v.gateway ?? env.FLEXGATE_URL ?? DEFAULT_GATEWAY;
  let protocol: string;
  try {
    ({ protocol } = new URL(gateway));
  } catch {
    throw usage(`--gateway must be a URL, not "${gateway}"`);
  }
  if (protocol !== 'http:' && protocol !== 'https:') throw usage(`--gateway must be an http:// or https:// URL, not "${gateway}"`);
  const trust = (v.trust ?? env.FLEXGATE_TRUST)?.trim() || undefined;
  // The shape only: the key itself is checked by the client (verify.ts), which this module does not load.
  if (trust !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(trust) && !trust.startsWith('{')) {
    throw usage("--trust must be the root key's thumbprint (43 characters) or its JWK (JSON)");
  }
  const common: Common = {
    gateway,
    ...(trust !== undefined && { trust }),
    cacheDir: v['cache-dir'] ?? env.FLEXGATE_CACHE_DIR ?? join(homedir(), '.flexgate'),
    json: v.json ?? false,
  };
  const expectPositionals = name === 'launch' || name === 'ledger' ? 1 : 0;
  if (rest.length > expectPositionals) throw usage(`unexpected argument "${rest[expectPositionals]}"`);

  switch (name) {
    case 'signin': {
      if (!v.user) throw usage('signin needs --user AUTODESK_ID');
      const password = v.password ?? env.FLEXGATE_PASSWORD;
      return { name, user: v.user, ...(password ? { password } : {}), ...common };
    }
    case 'launch': {
      const product = rest[0];
      if (!product) throw usage('launch needs a product key, e.g. flexgate launch autocad');
      if ((v.hold !== undefined || v.heartbeat !== undefined || v['idle-after'] !== undefined) && !v.run)
        throw usage('--hold, --heartbeat and --idle-after go with --run');
      return {
        name,
        product,
        ...(v.team !== undefined && { team: v.team }),
        ...(v.machine !== undefined && { machine: v.machine }),
        fresh: v.fresh ?? false,
        yes: v.yes ?? false,
        run: v.run ?? false,
        ...(v.hold !== undefined && { holdSec: positiveInt(name, 'hold', v.hold) }),
        ...(v['idle-after'] !== undefined && { idleAfterSec: positiveInt(name, 'idle-after', v['idle-after']) }),
        heartbeatSec: positiveInt(name, 'heartbeat', v.heartbeat, 300),
        ...common,
      };
    }
    case 'products':
      return { name, all: v.all ?? false, ...common };
    case 'usage': {
      // The shape only; the gateway checks the days exist and the range (as for the team report).
      for (const key of ['from', 'to'] as const) {
        const day = v[key];
        if (day !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(day)) throw usage(`--${key} must be a day such as 2026-03-15, not "${day}"`);
      }
      if (v.from !== undefined && v.to !== undefined && v.from > v.to) throw usage(`--from ${v.from} is after --to ${v.to}`);
      return { name, ...(v.from !== undefined && { from: v.from }), ...(v.to !== undefined && { to: v.to }), ...common };
    }
    case 'ledger': {
      if (rest[0] !== 'verify')
        throw usage(rest[0] === undefined ? 'ledger needs an action: ledger verify' : `unknown ledger action "${rest[0]}"`);
      if (!v.team) throw usage('ledger verify needs --team T');
      const adminKey = v['admin-key'] ?? env.FLEXGATE_ADMIN_KEY;
      if (!adminKey) throw usage('ledger verify needs --admin-key or FLEXGATE_ADMIN_KEY');
      return { name, action: 'verify', team: v.team, adminKey, ...(v.keep !== undefined && { keep: v.keep }), ...common };
    }
    case 'simulate': {
      const operatorKey = v['operator-key'] ?? env.FLEXGATE_OPERATOR_KEY;
      if (v.setup && !operatorKey) throw usage('--setup needs --operator-key or FLEXGATE_OPERATOR_KEY');
      const products = v.products
        ?.split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      return {
        name,
        users: positiveInt(name, 'users', v.users),
        launches: positiveInt(name, 'launches', v.launches),
        concurrency: positiveInt(name, 'concurrency', v.concurrency, 16),
        ...(products && products.length > 0 && { products }),
        password: v.password ?? env.FLEXGATE_PASSWORD ?? 'simulated-password',
        prefix: v.prefix ?? 'sim',
        setup: v.setup ?? false,
        ...(operatorKey !== undefined && { operatorKey }),
        tokens: positiveInt(name, 'tokens', v.tokens, 1_000_000),
        useCache: v['use-cache'] ?? false,
        ...common,
      };
    }
    case 'signout':
    case 'whoami':
      return { name, ...common };
  }
}
