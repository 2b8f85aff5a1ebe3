import { PROBLEM_STATUS, PROBLEM_TITLES, type Problem, type ProblemCode, problemType } from '@flexgate/shared';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { DomainError } from '../domain/errors';
import type { Logger } from '../lib/logger';
import type { AppEnv } from './env';

export function problemResponse(c: Context<AppEnv>, code: ProblemCode, detail: string, extra: Partial<Problem> = {}): Response {
  const status = PROBLEM_STATUS[code];
  const body: Problem = {
    type: problemType(code),
    title: PROBLEM_TITLES[code],
    status,
    code,
    detail,
    requestId: c.get('requestId'),
    ...extra,
  };
  const headers: Record<string, string> = { 'content-type': 'application/problem+json' };
  if (code === 'unauthorized') headers['www-authenticate'] = 'Bearer';
  return new Response(JSON.stringify(body), { status, headers });
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
  return (err: Error, c: Context<AppEnv>): Response => {
    if (err instanceof DomainError) {
      const res = problemResponse(c, err.code, err.message, {
        ...(err.extra.rule ? { rule: err.extra.rule } : {}),
        ...(err.extra.errors ? { errors: err.extra.errors } : {}),
      });
      if (err.extra.retryAfterSeconds !== undefined) res.headers.set('retry-after', String(err.extra.retryAfterSeconds));
      return res;
    }
    if (err instanceof HTTPException) {
      const code = BY_STATUS[err.status] ?? 'invalid-request';
      const detail =
        code === 'payload-too-large'
          ? 'The request body is larger than this route accepts.'
          : err.message || PROBLEM_TITLES[code];
      return problemResponse(c, code, detail);
    }
    logger.error('unhandled error', { requestId: c.get('requestId'), err: err.stack ?? String(err) });
    return problemResponse(c, 'internal-error', 'Something went wrong on our side; the request id identifies it in the logs.');
  };
}
