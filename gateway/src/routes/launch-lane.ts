import type { IncomingMessage, ServerResponse } from 'node:http';
import { KEY_SET_VERSION_HEADER, type LaunchResponse } from '@flexgate/shared';
import { DomainError } from '../domain/errors';
import { answerJson } from '../launch/warm';
import type { Logger } from '../lib/logger';
import type { Metrics } from '../lib/metrics';
import { errorParts, type ProblemParts } from '../middleware/problem';
import { limitedParts, type TokenBuckets } from '../middleware/rate-limit';
import { isNulFree } from '../middleware/strict-body';
import type { Launch } from '../services/launch';
import type { KeyRing } from '../signing/keyring';
import { idempotencyHeader } from './openapi';
import { countLaunch, type LaunchRequest, launchInput, launchRequest } from './users';

export interface LaneDeps {
  keys: KeyRing;
  launch: Launch;
  metrics: Metrics;
  logger: Logger;
  bodyLimit: number;
  /** The same buckets the general chain uses, so both paths count against one limit; null: off. */
  limits: { perIp: TokenBuckets; perUser: TokenBuckets } | null;
  /** The request id: the client's X-Request-Id when well-formed, as the general chain picks it. */
  requestId: (incoming: string | undefined) => string;
  /** The access log line, as the general chain writes it. */
  accessLog: (id: string, method: string, route: string, status: number, ms: number) => void;
  /** True once a graceful stop began: every answer then closes its connection (server.ts drains). */
  draining: () => boolean;
}

type Head = Record<string, string | number>;

/** A node:http request handler that serves what it can and hands the rest to `chain`. */
export type NodeLane = (req: IncomingMessage, res: ServerResponse, chain: (req: IncomingMessage, res: ServerResponse) => void) => void;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const JSON_TYPE = /^application\/([\w.-]+\+)?json\s*(;|$)/i;
const BEARER = /^Bearer\s+(\S+)\s*$/i;
const ROUTE = '/v1/launch';
const ignore = () => {};

type Chain = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Hands a request whose body the lane already read to the Hono app: node-server reads `rawBody`
 * instead of the (consumed) stream. A module function, not a closure made per request: under tsx
 * (how the gateway runs) every named closure costs an `Object.defineProperty` for its name.
 */
function handOver(req: IncomingMessage, res: ServerResponse, bytes: Buffer, chain: Chain): void {
  (req as IncomingMessage & { rawBody?: Buffer }).rawBody = bytes;
  chain(req, res);
}

/** Three dot-separated parts, as an ID token has; admin keys and the operator key have none. */
function isJwtShaped(token: string): boolean {
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  return second > 0 && token.indexOf('.', second + 1) < 0;
}

/**
 * POST /v1/launch, the check every product makes at start-up, served on node:http ahead of the
 * Hono app. Products send it far more than anything else, and the general path (seven
 * middleware, the OpenAPI validators, web Request, Headers and Response objects) cost more than
 * the launch itself.
 *
 * It is the same endpoint, not a second one: the same body limit, UTF-8 and NUL rules, the same
 * zod schemas, the same rate-limit buckets, the same ID-token check, the same `launch` service,
 * the same problem+json, request id, metrics and access log. Whatever is not the common case (no
 * Content-Length, a body that is not JSON or fails its schema, a credential that is not an ID
 * token) is handed to the Hono app with its body (node-server reads `rawBody`), and the app's
 * answer is the reference. `test/e2e/launch-lane.test.ts` sends the same launches both ways.
 */
export function launchLane(d: LaneDeps): NodeLane {
  const problem = errorParts(d.logger);
  const ok = d.metrics.requests.bind({ method: 'POST', route: ROUTE, status: '200' });
  const okLatency = d.metrics.latency.bind({ method: 'POST', route: ROUTE });
  const flexWarm = d.metrics.launches.bind({ source: 'flex', charged: 'no' });
  /** An answer's head, with `Connection: close` while draining (no keep-alive socket outlives it). */
  const closing = (head: Head): Head => {
    if (d.draining()) head.connection = 'close';
    return head;
  };

  const answer = (res: ServerResponse, id: string, started: number, p: ProblemParts) => {
    const ms = performance.now() - started;
    d.metrics.requests.inc({ method: 'POST', route: ROUTE, status: String(p.status) });
    d.metrics.latency.observe({ method: 'POST', route: ROUTE }, ms / 1000);
    d.accessLog(id, 'POST', ROUTE, p.status, ms);
    res.writeHead(
      p.status,
      closing({
        ...p.headers,
        'content-length': Buffer.byteLength(p.body),
        'x-request-id': id,
        [KEY_SET_VERSION_HEADER]: d.keys.keySetVersion,
      }),
    );
    res.end(p.body);
  };

  /** What no answer above covered (a bug): logged, and a bare 500 rather than a hung request. */
  const failed = (res: ServerResponse, error: unknown) => {
    d.logger.error('launch lane failed', { err: error instanceof Error ? (error.stack ?? String(error)) : String(error) });
    if (!res.headersSent) res.writeHead(500, closing({ 'content-type': 'application/problem+json' }));
    res.end();
  };

  const granted = (res: ServerResponse, id: string, started: number, answer: LaunchResponse) => {
    if (answer.source === 'flex' && answer.charged === 0) flexWarm();
    else countLaunch(d.metrics, answer);
    const json = answerJson(answer);
    const ms = performance.now() - started;
    ok();
    okLatency(ms / 1000);
    d.accessLog(id, 'POST', ROUTE, 200, ms);
    res.writeHead(
      200,
      closing({
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(json),
        'x-request-id': id,
        // As on every answer of the app: the current key set's version.
        [KEY_SET_VERSION_HEADER]: d.keys.keySetVersion,
      }),
    );
    res.end(json);
  };

  const refused = (res: ServerResponse, id: string, started: number, error: unknown, launching: boolean) => {
    if (launching && error instanceof DomainError) d.metrics.refusals.inc({ code: error.code });
    answer(res, id, started, problem(error, id));
  };

  /** A launch that waits on something: a session to open or charge, a decision not cached. */
  const launchFor = async (res: ServerResponse, id: string, started: number, pending: Promise<LaunchResponse>) => {
    try {
      granted(res, id, started, await pending);
    } catch (error) {
      refused(res, id, started, error, true);
    }
  };

  /** A token this instance has not verified yet (or that no longer holds). */
  const verifyFirst = async (
    res: ServerResponse,
    id: string,
    started: number,
    bearer: string,
    input: LaunchRequest,
    key: string | undefined,
  ) => {
    let autodeskId: string;
    try {
      autodeskId = (await d.keys.verifyIdToken(bearer)).sub;
    } catch (error) {
      // A bad token is not a launch refusal (as in the chain).
      return refused(res, id, started, error, false);
    }
    return launchAs(res, id, started, autodeskId, input, key);
  };

  const launchAs = (
    res: ServerResponse,
    id: string,
    started: number,
    autodeskId: string,
    input: LaunchRequest,
    key: string | undefined,
  ) => {
    const userWait = d.limits ? d.limits.perUser.take(autodeskId) : 0;
    if (userWait > 0)
      return answer(res, id, started, limitedParts(id, { name: 'launch-per-user', metrics: d.metrics, launch: true }, userWait));
    // The common case answers here, without a promise: a session open and cached, vouched for.
    let launched: LaunchResponse | Promise<LaunchResponse>;
    try {
      launched = d.launch(launchInput(autodeskId, input, key));
    } catch (error) {
      return refused(res, id, started, error, true);
    }
    if (launched instanceof Promise) return launchFor(res, id, started, launched);
    return granted(res, id, started, launched);
  };

  const serve = (req: IncomingMessage, res: ServerResponse, bytes: Buffer, bearer: string, key: string | undefined, chain: Chain) => {
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return handOver(req, res, bytes, chain);
    }
    if (!isNulFree(text)) return handOver(req, res, bytes, chain);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return handOver(req, res, bytes, chain);
    }
    const body = launchRequest.safeParse(parsed);
    // A dry run is rare and writes nothing: the general route answers it.
    if (!body.success || body.data.dryRun) return handOver(req, res, bytes, chain);

    const started = performance.now();
    const header = req.headers['x-request-id'];
    const id = d.requestId(typeof header === 'string' ? header : undefined);
    // Per address before the credential is checked (a flood costs no signature check), per user after.
    const ipWait = d.limits ? d.limits.perIp.take(req.socket.remoteAddress ?? 'unknown') : 0;
    if (ipWait > 0) return answer(res, id, started, limitedParts(id, { name: 'launch-per-ip', metrics: d.metrics, launch: true }, ipWait));
    // A token verified before is known at once: the common case answers in the turn that read it.
    const claims = d.keys.knownIdToken(bearer);
    if (claims !== undefined) return launchAs(res, id, started, claims.sub, body.data, key);
    return verifyFirst(res, id, started, bearer, body.data, key);
  };

  return (req, res, chain) => {
    if (req.method !== 'POST' || req.url !== ROUTE) return chain(req, res);
    const h = req.headers;
    const declared = h['content-length'];
    if (declared === undefined || h['transfer-encoding'] !== undefined || !/^\d{1,7}$/.test(declared) || Number(declared) > d.bodyLimit)
      return chain(req, res);
    const type = h['content-type'];
    const bearer = BEARER.exec(h.authorization ?? '')?.[1];
    if (type === undefined || !JSON_TYPE.test(type) || bearer === undefined || bearer.length > 4096 || !isJwtShaped(bearer))
      return chain(req, res);
    const keyHeader = h['idempotency-key'];
    let key: string | undefined;
    if (keyHeader !== undefined) {
      const parsed = idempotencyHeader.safeParse({ 'idempotency-key': keyHeader });
      if (!parsed.success) return chain(req, res);
      key = parsed.data['idempotency-key'];
    }
    const chunks: Buffer[] = [];
    // A client gone mid-body: nothing to answer, and no 'end' will come.
    req.on('error', ignore);
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.once('end', () => {
      const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      try {
        serve(req, res, bytes, bearer, key, chain)?.catch((error: unknown) => failed(res, error));
      } catch (error) {
        failed(res, error);
      }
    });
  };
}
