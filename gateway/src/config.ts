import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * How one kind of value is read from the text of a variable: the zod schema, and what a valid
 * value looks like (it completes "NAME must be ...", and --help shows it).
 */
interface Rule<T> {
  readonly schema: z.ZodType<T, string>;
  readonly expects: string;
  /** Never echoed whole in a message: `text` shows only its length, `url` hides its password. */
  readonly secret?: 'text' | 'url';
  /** Why an invalid value is invalid, when the shape in `expects` does not make it plain. */
  readonly reason?: (value: string) => string | undefined;
}

/** One environment variable: its rule, its default as a user would write it, and what it does. */
interface Variable<S extends z.ZodType> {
  readonly schema: S;
  readonly expects: string;
  readonly secret: 'text' | 'url' | undefined;
  readonly reason?: (value: string) => string | undefined;
  /** The text used when the variable is unset or empty; undefined: the setting stays off. */
  readonly default: string | undefined;
  readonly meaning: string;
}

function variable<T>(rule: Rule<T>, defaultText: string, meaning: string): Variable<z.ZodType<T, string>> {
  return { schema: rule.schema, expects: rule.expects, secret: rule.secret, reason: rule.reason, default: defaultText, meaning };
}

function unlessSet<T>(rule: Rule<T>, meaning: string): Variable<z.ZodOptional<z.ZodType<T, string>>> {
  const { schema, expects, secret, reason } = rule;
  return { schema: schema.optional(), expects, secret, reason, default: undefined, meaning };
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER, unit = ''): Rule<number> {
  return {
    // Digits only: Number() would take "1e3", "0x10" and " " (as 0), which nobody means.
    schema: z
      .string()
      .regex(/^\s*\d+\s*$/)
      .transform(Number)
      .pipe(z.number().int().min(min).max(max)),
    expects: max === Number.MAX_SAFE_INTEGER ? `a whole number${unit}, at least ${min}` : `a whole number${unit} from ${min} to ${max}`,
  };
}

function oneOf<const V extends readonly [string, ...string[]]>(values: V): Rule<V[number]> {
  const last = values[values.length - 1];
  const list = values.length === 1 ? last : `${values.slice(0, -1).join(', ')} or ${last}`;
  return { schema: z.enum(values), expects: values.length > 2 ? `one of ${list}` : `${list}` };
}

const FLAG_WORDS = { '1': true, on: true, true: true, yes: true, '0': false, off: false, false: false, no: false } as const;
const flag: Rule<boolean> = {
  schema: z
    .string()
    .transform((v) => v.trim().toLowerCase())
    .pipe(z.enum(Object.keys(FLAG_WORDS) as [keyof typeof FLAG_WORDS, ...(keyof typeof FLAG_WORDS)[]]))
    .transform((v) => FLAG_WORDS[v]),
  expects: 'on or off (also 1/0, true/false, yes/no)',
};

// Secrets often come from files (Docker and Kubernetes secrets, `$(cat key)`), whose trailing
// newline would otherwise become part of the key, and every bearer compared against it would fail.
const trimmed = z.string().transform((v) => v.trim());

const secretText = (min: number): Rule<string> => ({
  schema: trimmed.pipe(z.string().min(min)),
  expects: `a value of at least ${min} characters`,
  secret: 'text',
});

/** The operator's key: a bearer key shaped like an ID token (three dotted parts) would be read as one. */
const operatorKey: Rule<string> = {
  schema: trimmed.pipe(z.string().min(16)).refine((k) => k.split('.').length !== 3, 'shaped like an ID token'),
  expects: "a value of at least 16 characters, with other than exactly two dots (an ID token's shape)",
  secret: 'text',
};

const kek: Rule<string> = {
  schema: trimmed.refine((k) => /^[A-Za-z0-9+/_-]{43}=?$/.test(k) && Buffer.from(k, 'base64').length === 32),
  expects: '32 bytes in base64 or base64url (openssl rand -base64 32)',
  secret: 'text',
};

const text: Rule<string> = { schema: z.string(), expects: 'any text' };

/** An ISO 4217 code Intl knows, so that its minor units (2 for EUR, 0 for JPY) are known too. */
const currency: Rule<string> = {
  schema: z
    .string()
    .transform((v) => v.trim().toUpperCase())
    .refine((v) => /^[A-Z]{3}$/.test(v) && Intl.supportedValuesOf('currency').includes(v)),
  expects: 'an ISO 4217 currency code such as USD, EUR or JPY',
};

/** Exact for every safe integer, unlike `n & (n - 1)`, which truncates to 32 bits (2^32 * 3 passed). */
const isPowerOfTwo = (n: number) => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

const powerOfTwo = (min: number, max: number): Rule<number> => ({
  schema: integer(min, max).schema.refine(isPowerOfTwo),
  expects: `a power of two from ${min} to ${max} (${min}, ${min * 2}, ${min * 4}, ...)`,
});

/**
 * The largest scrypt cost accepted. Node refuses N of 2^32 and beyond outright, and scrypt needs
 * 1 KiB x N of memory per hash (lib/password-pool.ts lets it, maxmem 2 KiB x N): 2^20 is 1 GiB and
 * seconds per sign-in, per hashing thread; beyond, memory runs out (2^25 already fails to allocate
 * on a 24 GB machine) and every sign-in would answer 500.
 */
const SCRYPT_N_MAX = 2 ** 20;

const databaseUrl: Rule<string> = {
  schema: z.string().refine((u) => /^sqlite:./.test(u) || (/^postgres(ql)?:\/\/./.test(u) && postgresUrlProblem(u) === undefined)),
  expects: 'sqlite:PATH, sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DATABASE',
  secret: 'url',
  reason: (u) =>
    u.trim() !== u ? 'remove the spaces or line breaks around it' : /^postgres(ql)?:\/\/./.test(u) ? postgresUrlProblem(u) : undefined,
};

const smtpUrl: Rule<string> = {
  // A URL the mailer can dial: a port past 65535 would otherwise fail every e-mail, one by one, for ever.
  schema: z.string().refine((u) => /^smtps?:\/\/[^/\s]/.test(u) && dialable(u)),
  expects: 'smtp://HOST:PORT or smtps://USER:PASSWORD@HOST',
  secret: 'url',
};

function dialable(url: string): boolean {
  try {
    const { hostname, port } = new URL(url);
    return hostname !== '' && (port === '' || (Number(port) >= 1 && Number(port) <= 65535));
  } catch {
    return false;
  }
}

const publicUrl: Rule<string> = {
  // Links in e-mails are built on it: an origin (and optional path), without a trailing slash or query.
  schema: z
    .string()
    .refine((u) => /^https?:\/\/[^/\s?#]+(\/[^\s?#]*)?$/.test(u))
    .transform((u) => u.replace(/\/+$/, '')),
  expects: 'http(s)://HOST[:PORT][/PATH], the address people reach the gateway at',
};

const host: Rule<string> = {
  // A URL or HOST:PORT here is the usual slip; IPv6 addresses have colons but never end in :digits after a name.
  schema: z.string().refine((h) => !/[\s/]/.test(h) && !/^[^:]+:\d+$/.test(h)),
  expects: 'a host name or IP address such as 127.0.0.1, 0.0.0.0 or :: (no scheme, no port: PORT sets the port)',
};

/**
 * Every environment variable the gateway reads: the one place they are defined. The zod schema,
 * the error messages and `--help` are all generated from this table, so they cannot drift apart.
 */
const VARIABLES = {
  PORT: variable(integer(0, 65535), '8787', 'TCP port to listen on; 0 picks a free one'),
  HOST: variable(host, '127.0.0.1', 'address to listen on; 0.0.0.0 for every IPv4 interface, :: for every interface'),
  DATABASE_URL: variable(
    databaseUrl,
    'sqlite:./data/flexgate.db',
    'the database: a SQLite file (created with its directory if absent), SQLite in memory, or PostgreSQL',
  ),
  DATABASE_POOL_SIZE: variable(integer(1, 200), '10', 'PostgreSQL connections per process'),
  DATABASE_TIMEOUT: variable(
    integer(1, 3600, ' of seconds'),
    '30',
    'PostgreSQL: seconds a statement, or a new connection, may go unanswered before its connection is given up (503 meanwhile)',
  ),
  FLEXGATE_OPERATOR_KEY: unlessSet(operatorKey, "the operator's bearer key; unset, operator routes answer 401"),
  FLEXGATE_TEST_CLOCK: variable(flag, 'off', 'on enables POST /v1/test/clock, which moves the clock (tests only)'),
  FLEXGATE_RATE_LIMIT: variable(flag, 'on', 'off disables rate limiting (load tests from one address)'),
  // Rate limits in requests per minute (token buckets: a burst of that many, refilled evenly). The
  // defaults sit far above real use (a product relaunches a few times a minute, an office signs in
  // from one address at 9 am): they stop password guessing and floods, not people.
  FLEXGATE_RATE_SIGNIN_PER_USER: variable(integer(1, 1_000_000), '10', 'sign-ins per minute per Autodesk ID (429 and Retry-After beyond)'),
  FLEXGATE_RATE_SIGNIN_PER_IP: variable(
    integer(1, 1_000_000),
    '300',
    'sign-ins per minute per peer address, and as many wrong operator or admin keys',
  ),
  FLEXGATE_RATE_LAUNCH_PER_USER: variable(integer(1, 1_000_000), '120', 'launches per minute per user'),
  FLEXGATE_RATE_LAUNCH_PER_IP: variable(integer(1, 1_000_000), '3000', 'launches per minute per peer address'),
  FLEXGATE_RATE_INVITE_PER_ADMIN: variable(
    integer(1, 1_000_000),
    '20',
    'invitation e-mails (invitations and resends) an admin key may send per minute; a recipient gets at most 3 a day whoever sends them',
  ),
  FLEXGATE_RATE_INVITE_BULK_PER_HOUR: variable(
    integer(1, 1_000_000),
    '1000',
    'invitation e-mails the bulk send (POST /v1/teams/:team/invitations/send, the console\'s "Send invitations") may send per hour, per admin key and per team; what is left waits for a later call',
  ),
  FLEXGATE_RATE_LOOKUP_PER_ADMIN: variable(
    integer(1, 1_000_000),
    '30',
    'existing Autodesk accounts an admin key may add per minute (each tells whether an ID exists)',
  ),
  FLEXGATE_METRICS_TOKEN: unlessSet(
    secretText(16),
    'bearer token for GET /metrics (Prometheus); unset, /metrics answers loopback peers and the operator',
  ),
  FLEXGATE_ISSUER: variable(text, 'flexgate', '`iss` of entitlements, ID tokens and the key set'),
  FLEXGATE_ROOT_KEY_FILE: unlessSet(
    text,
    'PEM file of the Ed25519 root key that signs the key set (openssl genpkey -algorithm ed25519); unset, a root key is made on first start and kept in the database',
  ),
  FLEXGATE_KEK: unlessSet(
    kek,
    'key-encryption key sealing the private signing keys and root key in the database (AES-256-GCM); unset, they are stored in clear (a warning says so) and the gateway refuses to start on a database whose keys are sealed',
  ),
  FLEXGATE_KEK_PREVIOUS: unlessSet(
    kek,
    'the key-encryption key being rotated out: read only, every key it sealed is sealed again with FLEXGATE_KEK on start (SECURITY.md)',
  ),
  FLEXGATE_OFFLINE_HOURS: variable(
    integer(0, 24, ' of hours'),
    '24',
    'how long an offline allowance lets a client launch on its own during an outage, after its last contact; 0 turns provisional launches off',
  ),
  FLEXGATE_OFFLINE_LAUNCHES: variable(
    integer(1, 100),
    '6',
    'provisional launches one offline allowance permits (each is charged when reported)',
  ),
  FLEXGATE_ID_TOKEN_TTL: variable(
    integer(60, 7 * 86400, ' of seconds'),
    '600',
    'access (ID) token lifetime in seconds; clients refresh them with their refresh token (30 days without use)',
  ),
  FLEXGATE_SQLITE_SYNC: variable(
    oneOf(['normal', 'full']),
    'normal',
    'SQLite durability: normal (WAL) survives a process crash, full also a power loss, at a cost per write',
  ),
  FLEXGATE_SCRYPT_N: variable(
    powerOfTwo(1024, SCRYPT_N_MAX),
    '16384',
    'scrypt cost of password hashes; lower only for tests and benchmarks',
  ),
  FLEXGATE_SCRYPT_THREADS: variable(
    integer(1, 64, ' of threads'),
    '1',
    'threads hashing passwords, apart from the ones that sign entitlements (more on machines with more cores)',
  ),
  FLEXGATE_SCRYPT_QUEUE: variable(integer(1, 100_000), '64', 'sign-ins waiting for a hashing thread; beyond, 503 with Retry-After'),
  FLEXGATE_BODY_LIMIT: variable(integer(1024, Number.MAX_SAFE_INTEGER, ' of bytes'), '1048576', 'largest JSON body (413 beyond)'),
  FLEXGATE_IMPORT_BODY_LIMIT: variable(
    integer(1024, Number.MAX_SAFE_INTEGER, ' of bytes'),
    '5242880',
    'largest CSV member import (10,000 rows fit)',
  ),
  SMTP_URL: unlessSet(
    smtpUrl,
    'mail server; unset, e-mails wait in the outbox (GET /v1/outbox), set, a background sender delivers them with retries',
  ),
  FLEXGATE_PUBLIC_URL: unlessSet(
    publicUrl,
    'the address people reach the gateway at, for links in e-mails (the invitation page); unset, http://HOST:PORT of the listening socket (localhost for 0.0.0.0 and ::)',
  ),
  FLEXGATE_MAIL_FROM: variable(text, 'Autodesk Flex (flexgate) <no-reply@flexgate.local>', 'sender of every e-mail'),
  FLEXGATE_CLUSTER: variable(
    integer(0, 64, ' of workers'),
    '0',
    'worker processes sharing the port (same as --cluster N); 0 serves from this one process',
  ),
  FLEXGATE_LAUNCH_CACHE: variable(
    integer(0, 10_000_000),
    '50000',
    'decided warm launches kept per process (about 1 KB each); 0 turns the cache off and every launch decides from the database',
  ),
  FLEXGATE_CHARGE_GROUP: variable(
    integer(1, 10_000),
    '256',
    'most charges committed in one transaction (the launches waiting together); 1 commits every charge alone',
  ),
  FLEXGATE_CURRENCY: variable(
    currency,
    'USD',
    'the one currency of prices (subscription prices, prices per token), given in its minor units (cents)',
  ),
  FLEXGATE_LOG: variable(oneOf(['debug', 'info', 'warn', 'error', 'silent']), 'info', 'log level (JSON lines on stdout)'),
};

export type VariableName = keyof typeof VARIABLES;
type Shape = { [K in VariableName]: (typeof VARIABLES)[K]['schema'] };

const NAMES = Object.keys(VARIABLES) as VariableName[];
const envSchema = z.object(Object.fromEntries(NAMES.map((name) => [name, VARIABLES[name].schema])) as Shape);

/** What `--help` lists, in order: each variable, its default as text (undefined: unset), what it means and takes. */
export const variables: readonly { name: VariableName; default: string | undefined; meaning: string; expects: string }[] = NAMES.map(
  (name) => ({ name, default: VARIABLES[name].default, meaning: VARIABLES[name].meaning, expects: VARIABLES[name].expects }),
);

/** Command-line options, each standing for a variable so that the one table above validates it. */
const OPTIONS = [
  { name: 'cluster', value: 'N', variable: 'FLEXGATE_CLUSTER', meaning: 'run N worker processes sharing the port' },
] as const satisfies readonly { name: string; value: string; variable: VariableName; meaning: string }[];

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly databaseUrl: string;
  readonly databasePoolSize: number;
  /** PostgreSQL: how long a statement or a new connection may go unanswered (DATABASE_TIMEOUT). */
  readonly databaseTimeoutMs: number;
  readonly operatorKey: string | undefined;
  readonly testClock: boolean;
  readonly rateLimit: boolean;
  /** Requests per minute per key (see FLEXGATE_RATE_*). */
  readonly rateLimits: RateLimits;
  readonly metricsToken: string | undefined;
  readonly issuer: string;
  /** The operator's root key file; undefined: the root key kept in the database. */
  readonly rootKeyFile: string | undefined;
  /** FLEXGATE_KEK: seals private keys at rest; undefined: they are stored in clear. */
  readonly kek: string | undefined;
  /** FLEXGATE_KEK_PREVIOUS: opens what the KEK being rotated out sealed. */
  readonly kekPrevious: string | undefined;
  readonly idTokenTtlSeconds: number;
  /** Hours an offline allowance lasts (at most 24); 0: no allowances, so no provisional launches. */
  readonly offlineHours: number;
  /** Provisional launches (slots) per offline allowance. */
  readonly offlineLaunches: number;
  readonly sqliteSync: 'normal' | 'full';
  readonly scryptN: number;
  readonly scryptThreads: number;
  readonly scryptQueue: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  readonly bodyLimit: number;
  readonly importBodyLimit: number;
  readonly smtpUrl: string | undefined;
  readonly mailFrom: string;
  /** FLEXGATE_PUBLIC_URL; undefined: derived from the listening address (`publicUrlOf`). */
  readonly publicUrl: string | undefined;
  /** Worker processes for `--cluster N`; 0 runs the gateway in this process. */
  readonly cluster: number;
  /** Entries of the warm-launch cache; 0: every launch decides from the database. */
  readonly launchCache: number;
  /** Most charges in one group transaction (launch/charges.ts); 1: each charge alone. */
  readonly chargeGroup: number;
  /** FLEXGATE_CURRENCY: ISO 4217 code of every price, which is given in its minor units. */
  readonly currency: string;
}

export interface RateLimits {
  readonly signinPerUser: number;
  readonly signinPerIp: number;
  readonly launchPerUser: number;
  readonly launchPerIp: number;
  readonly lookupPerAdmin: number;
  readonly invitePerAdmin: number;
  /** Per hour, not per minute: invitation e-mails of bulk sends, per admin key and per team. */
  readonly inviteBulkPerHour: number;
}

/**
 * The exit code of a gateway that stopped because a newer flexgate migrated its database while it
 * served (server.ts): distinct from a stop (0), a bug (1) and a start refused (2), for supervisors.
 */
export const EXIT_NEWER_SCHEMA = 3;

/**
 * A problem the operator fixes in the configuration or on the machine (an invalid variable, a port
 * in use, a database out of reach), not a bug: main.ts prints each problem as one line, no stack
 * trace, and exits 2.
 */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * A URL with whatever could be a credential replaced by `***`, fit for messages and logs, however
 * malformed it is: everything between the scheme (and its slashes) and the last @, but for the user
 * name of a well-formed `scheme://USER:PASSWORD@`; and a `?password=`.
 */
export function maskUrl(url: string): string {
  return maskUserinfo(url).replace(/([?&]password=)[^&#]*/gi, '$1***');
}

function maskUserinfo(url: string): string {
  const at = url.lastIndexOf('@');
  if (at < 0) return url;
  const scheme = /^\s*[a-z][a-z0-9+.-]*:/i.exec(url)?.[0] ?? '';
  // A SQLite URL is a path: an @ in it belongs to a file name.
  if (/^\s*sqlite:$/i.test(scheme)) return url;
  const slashes = /^\/*/.exec(url.slice(scheme.length))?.[0] ?? '';
  const start = scheme.length + slashes.length;
  if (at < start) return url;
  const credentials = url.slice(start, at);
  const colon = credentials.indexOf(':');
  // Only `scheme://USER:` is sure to be a user name; without the `//` or the colon it may be the password.
  const wellFormed = scheme !== '' && slashes === '//';
  if (wellFormed && colon < 0) return url;
  const user = wellFormed ? credentials.slice(0, colon + 1) : '';
  return `${url.slice(0, start)}${user}***@${url.slice(at + 1)}`;
}

const PERCENT_ENCODE = 'a / ? or # in the user or password must be percent-encoded as %2F %3F %23';

/**
 * Why pg could not use this postgres:// URL as meant, or undefined. pg reads it with the WHATWG URL
 * parser, which throws on a port that is not a number (a TypeError naming no variable) and ends the
 * host at the first / ? or #: an unencoded one in the password either throws or moves the host.
 */
export function postgresUrlProblem(text: string): string | undefined {
  const url = parseLikePg(text);
  if (url === undefined) {
    const credentials = text.slice(text.indexOf('//') + 2, Math.max(text.lastIndexOf('@'), 0));
    return /[/?#]/.test(credentials) ? PERCENT_ENCODE : 'it is not a valid URL (check the host and the port)';
  }
  // pg ignores a fragment, and no database name or user-less query holds an @: a password cut short.
  if (url.hash !== '' || url.pathname.includes('@') || (url.username === '' && url.search.includes('@'))) return PERCENT_ENCODE;
  return undefined;
}

/** pg-connection-string's parse: spaces and stray % encoded first, and `user@/db` (a Unix socket) given a placeholder host. */
function parseLikePg(text: string): URL | undefined {
  const encoded = / |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(text) ? encodeURI(text).replace(/%25(\d\d)/g, '%$1') : text;
  for (const candidate of [encoded, encoded.replace('@/', '@___DUMMY___/')]) {
    try {
      return new URL(candidate);
    } catch {
      // the next candidate, as pg does
    }
  }
  return undefined;
}

function shown(v: Variable<z.ZodType>, value: string): string {
  // Secrets are trimmed before they are measured (`trimmed`): the length shown is the one judged.
  if (v.secret === 'text') return `a ${value.trim().length}-character value`;
  const safe = v.secret === 'url' ? maskUrl(value) : value;
  return JSON.stringify(safe.length > 100 ? `${safe.slice(0, 97)}...` : safe);
}

type Env = Record<string, string | undefined>;

/**
 * Parses the environment once; nothing else in the gateway reads `process.env`. An empty variable
 * counts as unset (`PORT=` in a compose file means "the default", not port 0). Every invalid
 * variable is one problem of the ConfigError, named by `labels` when it came from an option.
 */
export function loadConfig(env: Env, labels: Partial<Record<VariableName, string>> = {}): Config {
  const given = (name: VariableName) => (env[name] === '' ? undefined : env[name]);
  const input = Object.fromEntries(NAMES.map((name) => [name, given(name) ?? VARIABLES[name].default]));
  const parsed = envSchema.safeParse(input);
  if (!parsed.success) {
    const invalid = new Set(parsed.error.issues.map((i) => i.path[0]));
    throw new ConfigError(
      NAMES.filter((name) => invalid.has(name)).map((name) => {
        const v: Variable<z.ZodType> = VARIABLES[name];
        const value = String(input[name]);
        const reason = v.reason?.(value);
        return `${labels[name] ?? name} must be ${v.expects}, not ${shown(v, value)}${reason ? `: ${reason}` : ''}`;
      }),
    );
  }
  const e = parsed.data;
  // Sealing needs a current KEK; the previous one alone would leave nothing to seal with.
  if (e.FLEXGATE_KEK_PREVIOUS !== undefined && e.FLEXGATE_KEK === undefined) {
    throw new ConfigError(['FLEXGATE_KEK_PREVIOUS is set without FLEXGATE_KEK: set FLEXGATE_KEK to the new key-encryption key']);
  }
  if (e.FLEXGATE_KEK_PREVIOUS !== undefined && e.FLEXGATE_KEK_PREVIOUS === e.FLEXGATE_KEK) {
    throw new ConfigError(['FLEXGATE_KEK_PREVIOUS equals FLEXGATE_KEK: give the key being rotated out, or unset it']);
  }
  // Each worker would open its own empty in-memory database: answers alternating between them.
  if (e.FLEXGATE_CLUSTER > 1 && e.DATABASE_URL === 'sqlite::memory:') {
    const cluster = labels.FLEXGATE_CLUSTER ? `${labels.FLEXGATE_CLUSTER} ${e.FLEXGATE_CLUSTER}` : `FLEXGATE_CLUSTER=${e.FLEXGATE_CLUSTER}`;
    throw new ConfigError([
      `${cluster} with DATABASE_URL=sqlite::memory: would give every worker its own database; use a SQLite file or PostgreSQL, or no cluster`,
    ]);
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databaseTimeoutMs: e.DATABASE_TIMEOUT * 1000,
    operatorKey: e.FLEXGATE_OPERATOR_KEY,
    testClock: e.FLEXGATE_TEST_CLOCK,
    rateLimit: e.FLEXGATE_RATE_LIMIT,
    rateLimits: Object.freeze({
      signinPerUser: e.FLEXGATE_RATE_SIGNIN_PER_USER,
      signinPerIp: e.FLEXGATE_RATE_SIGNIN_PER_IP,
      launchPerUser: e.FLEXGATE_RATE_LAUNCH_PER_USER,
      launchPerIp: e.FLEXGATE_RATE_LAUNCH_PER_IP,
      lookupPerAdmin: e.FLEXGATE_RATE_LOOKUP_PER_ADMIN,
      invitePerAdmin: e.FLEXGATE_RATE_INVITE_PER_ADMIN,
      inviteBulkPerHour: e.FLEXGATE_RATE_INVITE_BULK_PER_HOUR,
    }),
    metricsToken: e.FLEXGATE_METRICS_TOKEN,
    issuer: e.FLEXGATE_ISSUER,
    rootKeyFile: e.FLEXGATE_ROOT_KEY_FILE,
    kek: e.FLEXGATE_KEK,
    kekPrevious: e.FLEXGATE_KEK_PREVIOUS,
    idTokenTtlSeconds: e.FLEXGATE_ID_TOKEN_TTL,
    offlineHours: e.FLEXGATE_OFFLINE_HOURS,
    offlineLaunches: e.FLEXGATE_OFFLINE_LAUNCHES,
    sqliteSync: e.FLEXGATE_SQLITE_SYNC,
    scryptN: e.FLEXGATE_SCRYPT_N,
    scryptThreads: e.FLEXGATE_SCRYPT_THREADS,
    scryptQueue: e.FLEXGATE_SCRYPT_QUEUE,
    logLevel: e.FLEXGATE_LOG,
    bodyLimit: e.FLEXGATE_BODY_LIMIT,
    importBodyLimit: e.FLEXGATE_IMPORT_BODY_LIMIT,
    smtpUrl: e.SMTP_URL,
    mailFrom: e.FLEXGATE_MAIL_FROM,
    publicUrl: e.FLEXGATE_PUBLIC_URL,
    cluster: e.FLEXGATE_CLUSTER,
    launchCache: e.FLEXGATE_LAUNCH_CACHE,
    chargeGroup: e.FLEXGATE_CHARGE_GROUP,
    currency: e.FLEXGATE_CURRENCY,
  });
}

/** Defaults for in-process use (tests, the demo), overridable field by field. */
/** Where people reach the gateway: FLEXGATE_PUBLIC_URL, else the listening address (a wildcard one as localhost). */
export function publicUrlOf(config: Pick<Config, 'publicUrl' | 'host' | 'port'>, port = config.port): string {
  if (config.publicUrl !== undefined) return config.publicUrl;
  const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({}), ...overrides });
}

/** What the command line asks for: the help, serving with this configuration, or a backup of its database to `backup`. */
export type Command = { readonly help: true } | { readonly help: false; readonly config: Config; readonly backup?: string };

/** The command line and the environment, read together: an option is validated as the variable it stands for. */
export function readCommand(argv: readonly string[], env: Env): Command {
  // `pnpm gateway -- --cluster 2` passes the `--` through.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  if (args.includes('--help') || args.includes('-h')) return { help: true };
  if (args[0] === 'backup') return { help: false, config: loadConfig(env), backup: backupTarget(args.slice(1)) };
  let values: Record<string, string | boolean | undefined>;
  try {
    const options = Object.fromEntries(OPTIONS.map((o) => [o.name, { type: 'string' as const }]));
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new ConfigError([argumentProblem(error)]);
  }
  const fromArgs: Env = {};
  const labels: Partial<Record<VariableName, string>> = {};
  for (const o of OPTIONS) {
    const value = values[o.name];
    if (typeof value !== 'string') continue;
    fromArgs[o.variable] = value;
    labels[o.variable] = `--${o.name}`;
  }
  return { help: false, config: loadConfig({ ...env, ...fromArgs }, labels) };
}

/** `backup FILE`: one file to write, nothing else. */
function backupTarget(args: readonly string[]): string {
  const [to, ...rest] = args;
  if (to === undefined || to === '' || to.startsWith('-') || rest.length > 0) {
    throw new ConfigError(['backup takes one argument, the file to write: node gateway/dist/main.js backup FILE']);
  }
  return to;
}

/** node:util's parseArgs explains itself at length; one line naming the culprit is enough. */
function argumentProblem(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? '';
  const seeHelp = 'pnpm gateway --help lists the options';
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${quoted}; ${seeHelp}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${JSON.stringify(quoted)}; ${seeHelp}`;
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const option = OPTIONS.find((o) => quoted.startsWith(`--${o.name}`));
    return option ? `--${option.name} needs a value: --${option.name} ${option.value}` : `${message}; ${seeHelp}`;
  }
  return `${message}; ${seeHelp}`;
}

/** Wraps `text` at `width` columns, every line indented by `indent`. */
function wrap(text: string, indent: string, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines.join('\n');
}

/** `--help`: the options and every variable of the table, with its default, meaning and accepted values. */
export function helpText(): string {
  const options = [
    ...OPTIONS.map((o) => [`--${o.name} ${o.value}`, `${o.meaning} (same as ${o.variable}=${o.value})`] as const),
    ['-h, --help', 'print this help and exit'] as const,
  ];
  const column = Math.max(...options.map(([left]) => left.length)) + 3;
  const quote = (v: string) => (/[\s"'<>()]/.test(v) ? JSON.stringify(v) : v);
  return [
    // pnpm does not pass SIGTERM on to the gateway: a supervisor must start node itself (README).
    'usage: node gateway/dist/main.js [--cluster N]   (in production: node gets the signals)',
    '       pnpm gateway [--cluster N]                (in development)',
    '       node gateway/dist/main.js backup FILE     (a checked copy of the SQLite database, taken while it serves)',
    '',
    'The flexgate entitlement gateway. It creates or migrates its database, prints',
    '"listening on http://HOST:PORT" once it accepts requests, and serves until SIGTERM or Ctrl-C.',
    '',
    'options:',
    ...options.map(([left, right]) => `  ${left.padEnd(column)}${right}`),
    '',
    'environment (an empty variable counts as unset):',
    ...variables.flatMap((v) => [
      `  ${v.default === undefined ? `${v.name} (unset)` : `${v.name}=${quote(v.default)}`}`,
      wrap(`${v.meaning.charAt(0).toUpperCase()}${v.meaning.slice(1)}. Takes ${v.expects}.`, '      '),
    ]),
    '',
    'exit codes: 0 stopped by SIGTERM or Ctrl-C; 1 unexpected error (with its stack trace);',
    '2 configuration problem (a port in use, a database out of reach, an invalid variable:',
    'one line each on stderr, before anything is created or migrated); 3 stopped because a',
    'newer flexgate migrated the database while this one served (started again, it exits 2).',
    '',
  ].join('\n');
}
