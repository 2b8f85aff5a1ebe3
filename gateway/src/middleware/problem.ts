import { PROBLEM_STATUS, PROBLEM_TITLES, type Problem, type ProblemCode, problemType } from '@flexgate/shared';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { isDatabaseUnavailable } from '../db/errors';
import { DomainError } from '../domain/errors';
import type { Logger } from '../lib/logger';
import type { AppEnv } from './env';

/** A problem+json answer as plain parts, for Hono (`problemResponse`) and the launch lane alike. */
export interface ProblemParts {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function problemParts(requestId: string | undefined, code: ProblemCode, detail: string, extra: Partial<Problem> = {}): ProblemParts {
  const status = PROBLEM_STATUS[code];
  const body: Problem = { type: problemType(code), title: PROBLEM_TITLES[code], status, code, detail, requestId, ...extra };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  return { status, headers, body: JSON.stringify(body) };
}

export function toResponse(p: ProblemParts): Response {
  return new Response(p.body, { status: p.status, headers: p.headers });
}

export function problemResponse(c: Context<AppEnv>, code: ProblemCode, detail: string, extra: Partial<Problem> = {}): Response {
  return toResponse(problemParts(c.get('requestId'), code, detail, extra));
}

const BY_STATUS: Record<number, ProblemCode> = {
  400: 'invalid-request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  429: 'too-many-requests',
  503: 'service-unavailable',
};

/** The single place where anything thrown becomes problem+json; unknown errors are logged 500s. */
export function onError(logger: Logger) {
  const parts = errorParts(logger);
  return (err: Error, c: Context<AppEnv>): Response => toResponse(parts(err, c.get('requestId')));
}

/** `onError` without Hono: what the launch lane answers when its launch throws. */
export function errorParts(logger: Logger) {
  return (err: unknown, requestId: string | undefined): ProblemParts => {
    if (err instanceof DomainError) {
      const p = problemParts(requestId, err.code, err.message, {
        ...(err.extra.rule ? { rule: err.extra.rule } : {}),
        ...(err.extra.errors ? { errors: err.extra.errors } : {}),
      });
      if (err.extra.retryAfterSeconds !== undefined) p.headers['retry-after'] = String(err.extra.retryAfterSeconds);
      return p;
    }
    if (err instanceof HTTPException) {
      const code = BY_STATUS[err.status] ?? 'invalid-request';
      const detail =
        code === 'payload-too-large' ? 'The request body is larger than this route accepts.' : err.message || PROBLEM_TITLES[code];
      return problemParts(requestId, code, detail);
    }
    if (isDatabaseUnavailable(err)) {
      // A client retries a 503 after Retry-After (with its Idempotency-Key, a launch is charged once).
      logger.warn('database unavailable', { requestId, err: err instanceof Error ? err.message : String(err) });
      const p = problemParts(requestId, 'service-unavailable', 'The database is unavailable for a moment; retry.');
      p.headers['retry-after'] = '1';
      return p;
    }
    logger.error('unhandled error', { requestId, err: err instanceof Error ? (err.stack ?? String(err)) : String(err) });
    return problemParts(requestId, 'internal-error', 'Something went wrong on our side; the request id identifies it in the logs.');
  };
}
