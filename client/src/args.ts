import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const DEFAULT_GATEWAY = 'http://127.0.0.1:8787';

export const USAGE = `Usage: flexgate <command> [options]

Commands:
  signin --user ID [--password P]     sign in (password also from FLEXGATE_PASSWORD)
  signout                             forget the sign-in on this machine
  launch <product> [--team T]         ask for access to a product
         [--machine M] [--fresh]        --fresh: ask the gateway even if the cache has one
         [--run [--hold S] [--heartbeat S]]  keep running: heartbeat every S seconds
                                        (default 300), close after --hold S or on Ctrl-C
  products [--all]                    products you may install (--all: the whole catalog)
  whoami                              who is signed in, cached entitlements
  simulate --users N --launches M     drive N simulated users launching M times each
           [--concurrency C] [--products a,b] [--password P] [--prefix sim]
           [--setup [--operator-key K] [--tokens T]]  create team, users, tokens first
           [--use-cache]                serve relaunches from each user's cache

Options:
  --gateway URL     default $FLEXGATE_URL or ${DEFAULT_GATEWAY}
  --cache-dir DIR   default $FLEXGATE_CACHE_DIR or ~/.flexgate
  --json            machine-readable output on stdout
  -h, --help

Exit codes: 0 granted / done, 1 unexpected error, 2 usage error, 3 refused,
            4 gateway unreachable (and nothing usable offline).`;

interface Common {
  gateway: string;
  cacheDir: string;
  json: boolean;
}

export type Command =
  | { name: 'help' }
  | ({ name: 'signin'; user: string; password: string } & Common)
  | ({ name: 'signout' } & Common)
  | ({
      name: 'launch';
      product: string;
      team?: string;
      machine?: string;
      fresh: boolean;
      run: boolean;
      holdSec?: number;
      heartbeatSec: number;
    } & Common)
  | ({ name: 'products'; all: boolean } & Common)
  | ({ name: 'whoami' } & Common)
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
}

const options = {
  gateway: { type: 'string' },
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
} as const;

/** Which options each command takes; anything else is a usage error rather than silently ignored. */
const ALLOWED: Record<string, readonly string[]> = {
  signin: ['user', 'password'],
  signout: [],
  launch: ['team', 'machine', 'fresh', 'run', 'hold', 'heartbeat'],
  products: ['all'],
  whoami: [],
  simulate: ['users', 'launches', 'concurrency', 'products', 'password', 'prefix', 'setup', 'operator-key', 'tokens', 'use-cache'],
};
const COMMON = ['gateway', 'cache-dir', 'json', 'help'];

function positiveInt(name: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`--${name} is required`);
    return fallback;
  }
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new UsageError(`--${name} must be a positive whole number, not "${raw}"`);
  return Number(raw);
}

/** Pure: argv (without node and the script) and the environment in, a command or a UsageError out. */
export function parseCli(argv: readonly string[], env: Record<string, string | undefined>): Command {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true; strict: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values: v, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (v.help || name === undefined || name === 'help') return { name: 'help' };
  const allowed = ALLOWED[name];
  if (!allowed) throw new UsageError(`unknown command "${name}"`);
  for (const key of Object.keys(v)) {
    if (!allowed.includes(key) && !COMMON.includes(key)) throw new UsageError(`${name} does not take --${key}`);
  }
  const gateway = v.gateway ?? env.FLEXGATE_URL ?? DEFAULT_GATEWAY;
  try {
    new URL(gateway);
  } catch {
    throw new UsageError(`--gateway must be a URL, not "${gateway}"`);
  }
  const common: Common = {
    gateway,
    cacheDir: v['cache-dir'] ?? env.FLEXGATE_CACHE_DIR ?? join(homedir(), '.flexgate'),
    json: v.json ?? false,
  };
  const expectPositionals = name === 'launch' ? 1 : 0;
  if (rest.length > expectPositionals) throw new UsageError(`unexpected argument "${rest[expectPositionals]}"`);

  switch (name) {
    case 'signin': {
      if (!v.user) throw new UsageError('signin needs --user AUTODESK_ID');
      const password = v.password ?? env.FLEXGATE_PASSWORD;
      if (!password) throw new UsageError('signin needs --password or FLEXGATE_PASSWORD');
      return { name, user: v.user, password, ...common };
    }
    case 'launch': {
      const product = rest[0];
      if (!product) throw new UsageError('launch needs a product key, e.g. flexgate launch autocad');
      if ((v.hold !== undefined || v.heartbeat !== undefined) && !v.run) throw new UsageError('--hold and --heartbeat go with --run');
      return {
        name,
        product,
        ...(v.team !== undefined && { team: v.team }),
        ...(v.machine !== undefined && { machine: v.machine }),
        fresh: v.fresh ?? false,
        run: v.run ?? false,
        ...(v.hold !== undefined && { holdSec: positiveInt('hold', v.hold) }),
        heartbeatSec: positiveInt('heartbeat', v.heartbeat, 300),
        ...common,
      };
    }
    case 'products':
      return { name, all: v.all ?? false, ...common };
    case 'simulate': {
      const operatorKey = v['operator-key'] ?? env.FLEXGATE_OPERATOR_KEY;
      if (v.setup && !operatorKey) throw new UsageError('--setup needs --operator-key or FLEXGATE_OPERATOR_KEY');
      const products = v.products
        ?.split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      return {
        name,
        users: positiveInt('users', v.users),
        launches: positiveInt('launches', v.launches),
        concurrency: positiveInt('concurrency', v.concurrency, 16),
        ...(products && products.length > 0 && { products }),
        password: v.password ?? env.FLEXGATE_PASSWORD ?? 'simulated-password',
        prefix: v.prefix ?? 'sim',
        setup: v.setup ?? false,
        ...(operatorKey !== undefined && { operatorKey }),
        tokens: positiveInt('tokens', v.tokens, 1_000_000),
        useCache: v['use-cache'] ?? false,
        ...common,
      };
    }
    case 'signout':
    case 'whoami':
      return { name, ...common };
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}
