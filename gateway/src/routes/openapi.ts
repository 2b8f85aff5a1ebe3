import { OpenAPIHono } from '@hono/zod-openapi';
import type { ZodType } from 'zod';
import { z } from 'zod';
import { DomainError } from '../domain/errors';
import type { AppEnv } from '../middleware/env';

/**
 * Every router is an OpenAPIHono whose validation failures become one `invalid-request`
 * problem listing each bad field, so the OpenAPI document and the validation are the same schemas.
 */
export function router(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const errors = result.error.issues.map((i) => ({ path: i.path.join('.') || result.target, message: i.message }));
        const summary = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
        throw new DomainError('invalid-request', `Invalid ${result.target}: ${summary}`, { errors });
      }
    },
  });
}

export const jsonBody = <S extends ZodType>(schema: S, description?: string) => ({
  body: { content: { 'application/json': { schema } }, required: true, ...(description ? { description } : {}) },
});

const problem = {
  'application/problem+json': {
    schema: z.object({ type: z.string(), title: z.string(), status: z.number(), code: z.string(), detail: z.string() }),
  },
};

export const answers = (ok: Record<number, string>, errors: number[] = [400, 401, 403]) => {
  const out: Record<number, { description: string; content?: typeof problem }> = {};
  for (const [status, description] of Object.entries(ok)) out[Number(status)] = { description };
  for (const status of errors) out[status] = { description: 'problem+json', content: problem };
  return out;
};

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
