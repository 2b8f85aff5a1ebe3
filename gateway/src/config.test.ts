import { describe, expect, it } from 'vitest';
import { ConfigError, helpText, loadConfig, maskUrl, publicUrlOf, readCommand, variables } from './config';

/** The problems loadConfig reports for `env`, one per invalid variable (none: it parsed). */
function problems(env: Record<string, string>, argv?: string[]): readonly string[] {
  try {
    if (argv) readCommand(argv, env);
    else loadConfig(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('configuration messages', () => {
  it('names the variable, says what it takes and echoes what it got', () => {
    expect(problems({ PORT: 'abc' })).toEqual(['PORT must be a whole number from 0 to 65535, not "abc"']);
    expect(problems({ FLEXGATE_LOG: 'verbose' })).toEqual([
      'FLEXGATE_LOG must be one of debug, info, warn, error or silent, not "verbose"',
    ]);
    expect(problems({ FLEXGATE_SQLITE_SYNC: 'fast' })).toEqual(['FLEXGATE_SQLITE_SYNC must be normal or full, not "fast"']);
    expect(problems({ FLEXGATE_SCRYPT_N: '3000' })).toEqual([
      'FLEXGATE_SCRYPT_N must be a power of two from 1024 to 1048576 (1024, 2048, 4096, ...), not "3000"',
    ]);
    expect(problems({ HOST: 'http://localhost' })[0]).toMatch(/^HOST must be a host name or IP address .*, not "http:\/\/localhost"$/);
    expect(problems({ HOST: 'localhost:8787' })[0]).toMatch(/no port: PORT sets the port/);
  });

  it('FLEXGATE_SCRYPT_N: an exact power of two, no larger than scrypt can allocate', () => {
    for (const n of [1024, 16384, 2 ** 20]) expect(loadConfig({ FLEXGATE_SCRYPT_N: String(n) }).scryptN).toBe(n);
    // 12884901888 is 3 x 2^32: a 32-bit `n & (n - 1)` saw 0 and took it.
    for (const bad of ['12884901888', '4294967296', '2147483648', String(2 ** 21), '1536', '512']) {
      expect(problems({ FLEXGATE_SCRYPT_N: bad }), bad).toEqual([
        `FLEXGATE_SCRYPT_N must be a power of two from 1024 to 1048576 (1024, 2048, 4096, ...), not "${bad}"`,
      ]);
    }
  });

  it('takes whole numbers only, within their bounds', () => {
    for (const bad of ['-1', '65536', '1e3', '0x10', '80.5', '8080abc']) expect(problems({ PORT: bad }), bad).toHaveLength(1);
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535);
    expect(loadConfig({ PORT: ' 8080 ' }).port).toBe(8080);
  });

  it('offline allowances: 24 hours and 6 launches by default, never more than Flex’s day, 0 hours turns them off', () => {
    expect(loadConfig({})).toMatchObject({ offlineHours: 24, offlineLaunches: 6 });
    expect(loadConfig({ FLEXGATE_OFFLINE_HOURS: '0', FLEXGATE_OFFLINE_LAUNCHES: '1' })).toMatchObject({
      offlineHours: 0,
      offlineLaunches: 1,
    });
    expect(problems({ FLEXGATE_OFFLINE_HOURS: '25' })).toEqual([
      'FLEXGATE_OFFLINE_HOURS must be a whole number of hours from 0 to 24, not "25"',
    ]);
    expect(problems({ FLEXGATE_OFFLINE_LAUNCHES: '0' })).toHaveLength(1);
  });

  it('gives one line per invalid variable, in the order of the table', () => {
    const lines = problems({ FLEXGATE_LOG: 'loud', PORT: 'abc', DATABASE_POOL_SIZE: '0', FLEXGATE_CLUSTER: '65' });
    expect(lines).toEqual([
      'PORT must be a whole number from 0 to 65535, not "abc"',
      'DATABASE_POOL_SIZE must be a whole number from 1 to 200, not "0"',
      'FLEXGATE_CLUSTER must be a whole number of workers from 0 to 64, not "65"',
      'FLEXGATE_LOG must be one of debug, info, warn, error or silent, not "loud"',
    ]);
    for (const line of lines) expect(line).not.toContain('\n');
  });

  it('never echoes a secret: keys by their length, URLs with the password masked', () => {
    const key = 'hunter2-short';
    expect(problems({ FLEXGATE_OPERATOR_KEY: key })).toEqual([
      "FLEXGATE_OPERATOR_KEY must be a value of at least 16 characters, with other than exactly two dots (an ID token's shape), not a 13-character value",
    ]);
    // A key shaped like an ID token would be checked as one, never as the operator's key.
    expect(problems({ FLEXGATE_OPERATOR_KEY: 'header-part.payload-part.signature' })).toHaveLength(1);
    expect(loadConfig({ FLEXGATE_OPERATOR_KEY: 'op.0123456789abcdef' }).operatorKey).toBe('op.0123456789abcdef');
    const [db] = problems({ DATABASE_URL: 'mysql://admin:s3cret@db.example.com/flex' });
    expect(db).toContain('"mysql://admin:***@db.example.com/flex"');
    expect(db).not.toContain('s3cret');
    const [smtp] = problems({ SMTP_URL: 'http://mailer:p4ss@mail.example.com' });
    expect(smtp).toContain('"http://mailer:***@mail.example.com"');
    // A port no socket can have: refused at start, not by every e-mail afterwards (an operator's review).
    expect(problems({ SMTP_URL: 'smtp://user:pw@127.0.0.1:99999' })).toHaveLength(1);
    expect(problems({ SMTP_URL: 'smtp://127.0.0.1:0' })).toHaveLength(1);
    expect(loadConfig({ SMTP_URL: 'smtps://user:pw@mail.example.com:465' }).smtpUrl).toBe('smtps://user:pw@mail.example.com:465');
  });

  it('trims secrets read from files: a trailing newline is not part of the key', () => {
    const key = 'op_0123456789abcdef';
    const token = 'metrics_0123456789abcdef';
    const kek = Buffer.alloc(32, 7).toString('base64');
    const config = loadConfig({
      FLEXGATE_OPERATOR_KEY: `${key}\n`,
      FLEXGATE_METRICS_TOKEN: ` ${token}\r\n`,
      FLEXGATE_KEK: `${kek}\n`,
    });
    expect(config).toMatchObject({ operatorKey: key, metricsToken: token, kek });
    expect(problems({ FLEXGATE_OPERATOR_KEY: '   short-key    \n' })).toEqual([
      "FLEXGATE_OPERATOR_KEY must be a value of at least 16 characters, with other than exactly two dots (an ID token's shape), not a 9-character value",
    ]);
  });

  it('counts an empty variable as unset: the default, not port 0 or an empty key', () => {
    const config = loadConfig({ PORT: '', FLEXGATE_OPERATOR_KEY: '', DATABASE_URL: '', FLEXGATE_RATE_LIMIT: '' });
    expect(config.port).toBe(8787);
    expect(config.operatorKey).toBeUndefined();
    expect(config.databaseUrl).toBe('sqlite:./data/flexgate.db');
    expect(config.rateLimit).toBe(true);
  });

  it('reads on/off switches in every usual spelling', () => {
    for (const off of ['off', '0', 'false', 'no', 'OFF']) expect(loadConfig({ FLEXGATE_RATE_LIMIT: off }).rateLimit, off).toBe(false);
    for (const on of ['on', '1', 'true', 'yes']) expect(loadConfig({ FLEXGATE_TEST_CLOCK: on }).testClock, on).toBe(true);
    expect(problems({ FLEXGATE_TEST_CLOCK: 'maybe' })).toEqual([
      'FLEXGATE_TEST_CLOCK must be on or off (also 1/0, true/false, yes/no), not "maybe"',
    ]);
  });

  it('returns a frozen object whose defaults are the ones --help shows', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.rateLimits)).toBe(true);
    expect(config.port).toBe(8787);
    expect(config.logLevel).toBe('info');
    expect(variables.find((v) => v.name === 'PORT')?.default).toBe('8787');
  });

  it('masks the password of a URL, in the userinfo or the query', () => {
    expect(maskUrl('postgres://u:pw@h:5432/db')).toBe('postgres://u:***@h:5432/db');
    expect(maskUrl('postgres://u:p@ss@h/db')).toBe('postgres://u:***@h/db');
    expect(maskUrl('postgres://u@h/db?password=pw&sslmode=require')).toBe('postgres://u@h/db?password=***&sslmode=require');
    expect(maskUrl('postgres://u@h/db')).toBe('postgres://u@h/db');
    expect(maskUrl('sqlite:./data/flexgate.db')).toBe('sqlite:./data/flexgate.db');
  });

  it('masks everything up to the last @ of a malformed URL, whatever surrounds it', () => {
    const cases: [string, string][] = [
      [' postgres://app:Sup3rSecret@db.example/flex', ' postgres://app:***@db.example/flex'],
      ['postgres:/app:Sup3rSecret@db.example/flex', 'postgres:/***@db.example/flex'],
      ['smtp:/mailer:MailPassw0rd@mail.example', 'smtp:/***@mail.example'],
      ['postgres://postgres:p@ssw#rd@127.0.0.1:5432/nodb', 'postgres://postgres:***@127.0.0.1:5432/nodb'],
      ['postgres://postgres:p/ss?w#rd@127.0.0.1/db', 'postgres://postgres:***@127.0.0.1/db'],
      ['app:Sup3rSecret@db.example/flex', 'app:***@db.example/flex'],
      ['Sup3rSecret@db.example', '***@db.example'],
      ['sqlite:./data@2/flexgate.db', 'sqlite:./data@2/flexgate.db'],
    ];
    for (const [url, masked] of cases) expect(maskUrl(url), url).toBe(masked);
  });

  it('never echoes the password of an invalid DATABASE_URL or SMTP_URL', () => {
    const env = {
      DATABASE_URL: ' postgres://app:Sup3rSecret@db.example/flex',
      SMTP_URL: 'smtp:/mailer:MailPassw0rd@mail.example',
    };
    const lines = problems(env);
    expect(lines).toEqual([
      'DATABASE_URL must be sqlite:PATH, sqlite::memory: or postgres://USER:PASSWORD@HOST:PORT/DATABASE, not " postgres://app:***@db.example/flex": remove the spaces or line breaks around it',
      'SMTP_URL must be smtp://HOST:PORT or smtps://USER:PASSWORD@HOST, not "smtp:/***@mail.example"',
    ]);
    const [db] = problems({ DATABASE_URL: 'postgres:/app:Sup3rSecret@db.example/flex' });
    expect(db).not.toContain('Sup3rSecret');
  });

  it('refuses a PostgreSQL URL pg cannot read as written: a bad port, an unencoded / ? or # in the password', () => {
    const encode = 'a / ? or # in the user or password must be percent-encoded as %2F %3F %23';
    const cases: [string, string][] = [
      ['postgres://postgres:pw@127.0.0.1:abc/x', 'it is not a valid URL (check the host and the port)'],
      ['postgres://postgres:p/ss@127.0.0.1:5432/x', encode],
      ['postgres://postgres:p?ss@127.0.0.1:5432/x', encode],
      ['postgres://postgres:p@ssw#rd@127.0.0.1:5432/nodb', encode],
      ['postgres://postgres:12/ss@127.0.0.1/x', encode],
      ['postgres://postgres:p@ss/w@127.0.0.1/x', encode],
    ];
    for (const [url, reason] of cases) {
      const lines = problems({ DATABASE_URL: url });
      expect(lines, url).toHaveLength(1);
      expect(lines[0], url).toMatch(/^DATABASE_URL must be /);
      expect(lines[0], url).toContain(`: ${reason}`);
      expect(lines[0], url).not.toMatch(/pw@|p\/ss|p\?ss|ssw#rd|12\/ss|ss\/w/);
    }
  });

  it('takes every PostgreSQL URL pg reads as meant: encoded passwords, sockets, IPv6, query options', () => {
    for (const url of [
      'postgres://postgres:p%2Fs%23s%3Fw%40rd@127.0.0.1:5432/flex',
      'postgresql://u:p@ss@db.example/flex',
      'postgres://u@/flex?host=/var/run/postgresql',
      'postgres:///flex?host=/var/run/postgresql',
      'postgres://u:pw@[::1]:5432/flex',
      'postgres://u:pw@db.example/flex?sslmode=require&application_name=a@b',
      'postgres://u:p%ss@db.example/flex',
    ]) {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl, url).toBe(url);
    }
  });
});

describe('command line', () => {
  it('--help and -h ask for the help, whatever the environment says', () => {
    expect(readCommand(['--help'], { PORT: 'abc' })).toEqual({ help: true });
    expect(readCommand(['-h'], {})).toEqual({ help: true });
    expect(readCommand(['--', '--help'], {})).toEqual({ help: true });
  });

  it('--cluster N stands for FLEXGATE_CLUSTER and is named as the option when invalid', () => {
    const command = readCommand(['--cluster', '3'], { FLEXGATE_CLUSTER: '1' });
    expect(command.help === false && command.config.cluster).toBe(3);
    expect(problems({}, ['--cluster=abc'])).toEqual(['--cluster must be a whole number of workers from 0 to 64, not "abc"']);
    expect(problems({}, ['--', '--cluster', '2'])).toEqual([]);
  });

  it('refuses several workers on one in-memory SQLite database: each worker would have its own', () => {
    const refusal = /with DATABASE_URL=sqlite::memory: would give every worker its own database; use a SQLite file or PostgreSQL/;
    expect(problems({ DATABASE_URL: 'sqlite::memory:', FLEXGATE_CLUSTER: '2' })).toEqual([
      expect.stringMatching(new RegExp(`^FLEXGATE_CLUSTER=2 ${refusal.source}`)),
    ]);
    expect(problems({ DATABASE_URL: 'sqlite::memory:' }, ['--cluster', '4'])).toEqual([
      expect.stringMatching(new RegExp(`^--cluster 4 ${refusal.source}`)),
    ]);
    expect(problems({ DATABASE_URL: 'sqlite:./data/flexgate.db', FLEXGATE_CLUSTER: '2' })).toEqual([]);
    expect(problems({ DATABASE_URL: 'sqlite::memory:', FLEXGATE_CLUSTER: '1' })).toEqual([]);
  });

  it('refuses unknown options, missing values and stray arguments in one line each', () => {
    expect(problems({}, ['--frob'])).toEqual(['unknown option --frob; pnpm gateway --help lists the options']);
    expect(problems({}, ['--cluster'])).toEqual(['--cluster needs a value: --cluster N']);
    expect(problems({}, ['serve'])).toEqual(['unexpected argument "serve"; pnpm gateway --help lists the options']);
  });

  it('the help lists --cluster and every variable with its default', () => {
    const help = helpText();
    expect(help).toContain('--cluster N');
    expect(variables.length).toBeGreaterThan(20);
    for (const v of variables) {
      const heading = v.default === undefined ? `  ${v.name} (unset)` : `  ${v.name}=`;
      expect(help, v.name).toContain(heading);
      if (v.default !== undefined) expect(help, v.name).toContain(v.default);
    }
  });
});

describe('FLEXGATE_PUBLIC_URL: the address in e-mailed links', () => {
  it('takes an http(s) address, a path allowed, without its trailing slash; refuses a query or another scheme', () => {
    expect(loadConfig({ FLEXGATE_PUBLIC_URL: 'https://flex.example.com/gw/' }).publicUrl).toBe('https://flex.example.com/gw');
    expect(problems({ FLEXGATE_PUBLIC_URL: 'https://flex.example.com/?a=1' })[0]).toMatch(/^FLEXGATE_PUBLIC_URL must be http\(s\):\/\//);
    expect(problems({ FLEXGATE_PUBLIC_URL: 'ftp://flex.example.com' })).toHaveLength(1);
  });

  it('defaults to the listening address, a wildcard one as localhost', () => {
    expect(publicUrlOf(loadConfig({}), 8787)).toBe('http://127.0.0.1:8787');
    expect(publicUrlOf(loadConfig({ HOST: '0.0.0.0' }), 4000)).toBe('http://localhost:4000');
    expect(publicUrlOf(loadConfig({ HOST: '::1' }), 4000)).toBe('http://[::1]:4000');
    expect(publicUrlOf(loadConfig({ FLEXGATE_PUBLIC_URL: 'https://flex.example.com' }), 4000)).toBe('https://flex.example.com');
  });
});
