import { type LineSink, lineSink } from './log-sink';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level | 'silent', number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Field names whose values are secrets: never written, whatever a caller passes. A second line of
 * defence: no code logs bodies or headers, and the test suite greps debug logs for known secrets.
 */
const SECRET_FIELDS = /^(password|newPassword|authorization|token|key|apiKey|adminKey|operatorKey|secret|cookie|privateKey|private_jwk)$/i;

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  for (const k of Object.keys(fields)) {
    if (SECRET_FIELDS.test(k)) {
      out ??= { ...fields };
      out[k] = '[redacted]';
    }
  }
  return out ?? fields;
}

let stdout: LineSink | undefined;
/** The one sink on stdout of this process: every logger's lines share its writes. */
export const stdoutLines = (): LineSink => (stdout ??= lineSink(process.stdout));

/** One JSON object per line on stdout, so operators can ship logs without parsing prose. */
export function jsonLogger(level: Level | 'silent', write: (line: string) => void = stdoutLines().write): Logger {
  const min = ORDER[level];
  const emit = (lvl: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[lvl] < min) return;
    const line = { time: new Date().toISOString(), level: lvl, msg, ...(fields ? redact(fields) : {}) };
    write(`${JSON.stringify(line)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}
