import { healthResponse, indexResponse, jwksResponse, KEY_SET_PATH, ROOT_KEY_PATH, rootKeyResponse } from '@flexgate/shared';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { z } from 'zod';
import type { AppEnv } from '../middleware/env';
import { answers, body, callers, problemSchema, securitySchemes } from './openapi';

const tags = ['public'];

/**
 * The routes app.ts answers with plain handlers (no request to validate), written into the
 * OpenAPI document beside the validated ones, and the security schemes the operations name.
 */
export function documentPublicRoutes(app: OpenAPIHono<AppEnv>): void {
  const r = app.openAPIRegistry;
  for (const [name, scheme] of Object.entries(securitySchemes)) r.registerComponent('securitySchemes', name, scheme);
  r.registerPath({
    method: 'get',
    path: '/',
    tags,
    summary: 'Where things are (a browser asking for HTML is sent to /console)',
    responses: {
      200: body(indexResponse, 'Paths of the console, this document, the keys and the health check'),
      302: { description: 'To /console' },
    },
  });
  r.registerPath({
    method: 'get',
    path: '/healthz',
    tags,
    summary: 'Liveness and readiness: 503 while the gateway drains on shutdown',
    responses: {
      200: body(healthResponse, 'Ready, on this database engine'),
      503: { description: 'problem+json', content: { 'application/problem+json': { schema: problemSchema } } },
    },
  });
  r.registerPath({
    method: 'get',
    path: '/metrics',
    tags,
    summary: 'Prometheus metrics: for a loopback peer without credentials, the operator key, or FLEXGATE_METRICS_TOKEN',
    security: [...callers.operator, { metricsToken: [] }, {}],
    responses: {
      200: body(z.string().describe('Prometheus text exposition format 0.0.4'), 'The metrics', 'text/plain'),
      ...answers({}, [403]),
    },
  });
  r.registerPath({
    method: 'get',
    path: '/openapi.json',
    tags,
    summary: 'This document (OpenAPI 3.1)',
    responses: { 200: body(z.looseObject({ openapi: z.string() }), 'The OpenAPI document') },
  });
  r.registerPath({
    method: 'get',
    path: '/favicon.ico',
    tags,
    summary: "The console's icon, for browsers that ask for it",
    responses: { 200: body(z.string(), 'An SVG icon', 'image/svg+xml') },
  });
  r.registerPath({
    method: 'get',
    path: '/.well-known/jwks.json',
    tags,
    summary: 'The public keys that sign entitlements and ID tokens (JWKS, RFC 7517)',
    responses: { 200: body(jwksResponse, 'The key set') },
  });
  r.registerPath({
    method: 'get',
    path: KEY_SET_PATH,
    tags,
    summary: 'The key set signed by the trust root, with revocations and a version (a compact JWS)',
    responses: { 200: body(z.string().describe('A compact JWS'), 'The signed key set', 'application/jose') },
  });
  r.registerPath({
    method: 'get',
    path: ROOT_KEY_PATH,
    tags,
    summary: "The trust root's public key (a JWK); clients pin it",
    responses: { 200: body(rootKeyResponse, 'The root key') },
  });
}
