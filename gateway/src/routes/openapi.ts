import { OpenAPIHono } from '@hono/zod-openapi';
import type { ZodType } from 'zod';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import type { AppEnv } from '../middleware/env';

/**
 * Every router is an OpenAPIHono whose validation failures become one `invalid-request`
 * problem listing each bad field, so the OpenAPI document and the validation are the same schemas.
 */
/** What a validation target is to the caller: "json" is the request body, whatever failed in it. */
const TARGETS: Record<string, string> = { json: 'request body', query: 'query', param: 'path', header: 'header', form: 'form' };

export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || result.target, message: i.message }));
        const summary = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        throw new DomainError('invalid-request', `Invalid ${TARGETS[result.target] ?? result.target}: ${summary}`, { errors });
      }
    },
  });
}

export const jsonBody = <S extends ZodType>(schema: S, description?: string) => ({
  body: { content: { 'application/json': { schema } }, required: true, ...(description ? { description } : {}) },
});

export const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  code: z.string(),
  detail: z.string(),
  requestId: z.string().optional(),
  rule: z.string().optional().describe('The rule (docs/rules.md) that refused, for programs'),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
});
const problem = { 'application/problem+json': { schema: problemSchema } };

/** A success answer with a JSON body, or another media type (text/csv, application/jose). */
export const body = <S extends ZodType>(schema: S, description: string, type = 'application/json') => ({
  description,
  content: { [type]: { schema } } as Record<'application/json', { schema: S }>,
});

type Success = string | { description: string; content: Record<string, { schema: ZodType }> };

/** Success answers (a string: no body, as a 204) and the problem+json refusals a route can give. */
export const answers = <const O extends Record<number, Success>>(ok: O, errors: number[] = [400, 401, 403]) => {
  const out: Record<number, { description: string; content?: Record<string, { schema: ZodType }> }> = {};
  for (const [status, answer] of Object.entries(ok)) out[Number(status)] = typeof answer === 'string' ? { description: answer } : answer;
  for (const status of errors) out[status] = { description: 'problem+json', content: problem };
  return out as { [K in keyof O]: O[K] extends string ? { description: string } : O[K] };
};

/**
 * Who may call: the security requirements of each kind of operation. Every credential is a bearer
 * token; the schemes tell them apart for a reader (an ID token, an admin key, the operator key).
 */
type Requirement = Record<string, string[]>;
export const callers: Record<'user' | 'admin' | 'operator' | 'anyone', Requirement[]> = {
  user: [{ bearer: [] }],
  admin: [{ adminKey: [] }, { operatorKey: [] }],
  operator: [{ operatorKey: [] }],
  anyone: [{ bearer: [] }, { adminKey: [] }, { operatorKey: [] }],
};

/** The security schemes `callers` names, registered once with the document. */
export const securitySchemes = {
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An ID token from POST /v1/signin (a user).' },
  adminKey: { type: 'http', scheme: 'bearer', description: 'A team admin key (fga_...), from POST /v1/admins.' },
  operatorKey: { type: 'http', scheme: 'bearer', description: 'The platform operator key (FLEXGATE_OPERATOR_KEY).' },
  metricsToken: { type: 'http', scheme: 'bearer', description: 'FLEXGATE_METRICS_TOKEN, for a Prometheus scraper.' },
} as const;

export const teamParam = z.object({
  team: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'must be a team id'),
});

export const idempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(200)
    .regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces')
    .optional(),
});

/**
 * The `Link` header of a page that has a next one: `path` with `query` in the order given (a key
 * may repeat; undefined values left out), each value URI-encoded. Ledger, members, audit, outbox.
 */
export function nextLink(path: string, query: readonly (readonly [string, string | number | undefined])[]): string {
  const params = query.flatMap(([k, v]) => (v === undefined ? [] : [`${k}=${encodeURIComponent(String(v))}`]));
  return `<${path}?${params.join('&')}>; rel="next"`;
}
