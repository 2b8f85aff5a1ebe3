import { randomUUID } from 'node:crypto';
import {
  ALLOWANCE_AUDIENCE,
  ALLOWANCE_TYP,
  ID_TOKEN_AUDIENCE,
  ID_TOKEN_TYP,
  KEY_SET_PATH,
  KEY_SET_VERSION_HEADER,
  ROOT_KEY_PATH,
} from '@flexgate/shared';
import { SignJWT } from 'jose';
import {
  claimsFor,
  makeKey,
  makeRoot,
  readBody,
  sendJson as send,
  sign,
  signKeySet,
  startServer,
  type TestKey,
  type TestRoot,
  type TestServer,
} from './keys';

/**
 * A small stand-in for the gateway, speaking the contract's routes with real signatures, so the
 * client's flows (cache, retries, provisional launches) can be tested before the gateway lands.
 * It is no model of the business rules: one team, a fixed daily rate, 24-hour sessions.
 */
export interface StubGateway {
  url: string;
  key: TestKey;
  /** The root key clients are configured with (`trust: root.thumbprint`). */
  root: TestRoot;
  charges: { user: string; product: string; at: string; provisionalId?: string }[];
  requests: { method: string; path: string; idempotencyKey?: string; body: unknown }[];
  /** Drop the connection after handling the next N launches, as if the answer were lost. */
  dropNextLaunchAnswers: number;
  /** Answer launches with this status and an HTML page, no problem+json, as a proxy in front would; null: answer. */
  plainLaunchStatus: number | null;
  /** Sign the next launch answer with this key instead (a forged entitlement). */
  signWith: TestKey | null;
  entitlementTtlSec: number;
  /** Sign the display names (productName, teamName) into entitlements; false: as an older gateway. */
  signNames: boolean;
  /** Hours an offline allowance lasts; 0: the route refuses (`offline-not-allowed`), as the real one. */
  offlineHours: number;
  offlineLaunches: number;
  stop(): Promise<void>;
  start(): Promise<void>;
}

const RATE = 7;
const TEAM_NAME = 'Demo Architects';
const PRODUCT_NAMES: Record<string, string> = { autocad: 'AutoCAD' };

export async function startStubGateway(now: () => Date): Promise<StubGateway> {
  const key = await makeKey('stub-key-1');
  const root = await makeRoot();
  const keySet = await signKeySet(root, { ver: 1, keys: [key], iat: Math.floor(now().getTime() / 1000) });
  const sessions = new Map<string, { id: string; startsAt: string; endsAt: string; user: string; product: string }>();
  const answers = new Map<string, unknown>();
  const seenProvisional = new Set<string>();
  const allowances = new Map<string, string>();
  let server: TestServer | null = null;
  let port = 0;

  const stub: StubGateway = {
    url: '',
    key,
    root,
    charges: [],
    requests: [],
    dropNextLaunchAnswers: 0,
    plainLaunchStatus: null,
    signWith: null,
    entitlementTtlSec: 3600,
    signNames: true,
    offlineHours: 24,
    offlineLaunches: 3,
    async stop() {
      await server?.close();
      server = null;
    },
    async start() {
      server = await startServer(handle, port);
      port = server.port;
      stub.url = server.url;
    },
  };

  function userOf(auth: string | undefined): string | null {
    const token = auth?.replace(/^Bearer /, '');
    if (!token) return null;
    try {
      const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString());
      return typeof payload.sub === 'string' ? payload.sub : null;
    } catch {
      return null;
    }
  }

  async function launchAnswer(user: string, product: string, at: Date, provisionalId?: string) {
    const k = `${user}|${product}`;
    let session = sessions.get(k);
    let charged = 0;
    if (!session || Date.parse(session.endsAt) <= at.getTime()) {
      session = { id: randomUUID(), startsAt: at.toISOString(), endsAt: new Date(at.getTime() + 86_400_000).toISOString(), user, product };
      sessions.set(k, session);
      charged = RATE;
      stub.charges.push({ user, product, at: at.toISOString(), ...(provisionalId && { provisionalId }) });
    }
    const signer = stub.signWith ?? key;
    const names = stub.signNames ? { productName: PRODUCT_NAMES[product] ?? product, teamName: TEAM_NAME } : {};
    const entitlement = await sign(
      signer,
      claimsFor({ now: now(), ttlSec: stub.entitlementTtlSec, sub: user, product, sid: session.id, ...names }),
    );
    return {
      granted: true,
      source: 'flex',
      charged,
      session: { id: session.id, startsAt: session.startsAt, endsAt: session.endsAt },
      balance: 1000 - stub.charges.length * RATE,
      team: 'team-1',
      entitlement,
      expiresAt: new Date((Math.floor(now().getTime() / 1000) + stub.entitlementTtlSec) * 1000).toISOString(),
    };
  }

  const problem = (code: string, status: number, detail: string) => ({
    type: `urn:flexgate:problem:${code}`,
    title: code,
    status,
    code,
    detail,
  });

  function handle(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
    // Every answer names the key set's version, as the gateway's do.
    const sendJson = (r: typeof res, status: number, body: unknown, type?: string) =>
      send(r, status, body, type, { [KEY_SET_VERSION_HEADER]: '1' });
    void (async () => {
      const body = (await readBody(req)) as Record<string, unknown> | undefined;
      const path = req.url ?? '';
      const idem = req.headers['idempotency-key'] as string | undefined;
      stub.requests.push({ method: req.method ?? '', path, ...(idem && { idempotencyKey: idem }), body });
      if (path === KEY_SET_PATH) return sendJson(res, 200, keySet, 'application/jose');
      if (path === ROOT_KEY_PATH) return sendJson(res, 200, { ...root.jwk, kid: root.thumbprint, alg: 'EdDSA' });
      if (path === '/v1/signin') {
        const id = String(body?.autodeskId ?? '').toLowerCase();
        if (body?.password !== 'correct horse')
          return sendJson(res, 401, problem('unauthorized', 401, 'Wrong Autodesk ID or password.'), 'application/problem+json');
        const token = await new SignJWT({})
          .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: ID_TOKEN_TYP })
          .setIssuer('flexgate')
          .setAudience(ID_TOKEN_AUDIENCE)
          .setSubject(id)
          .setIssuedAt(Math.floor(now().getTime() / 1000))
          .setExpirationTime(Math.floor(now().getTime() / 1000) + 3600)
          .setJti(randomUUID())
          .sign(key.privateKey);
        return sendJson(res, 200, { token, expiresAt: new Date(now().getTime() + 3600_000).toISOString() });
      }
      const user = userOf(req.headers.authorization);
      if (!user) return sendJson(res, 401, problem('unauthorized', 401, 'Sign in first.'), 'application/problem+json');
      if (path === '/v1/offline-allowance') {
        if (stub.offlineHours === 0)
          return sendJson(res, 403, problem('offline-not-allowed', 403, 'No offline use here.'), 'application/problem+json');
        const id = `alw_${randomUUID().slice(0, 8)}`;
        allowances.set(id, user);
        const iat = Math.floor(now().getTime() / 1000);
        const claims = { sub: user, aid: id, products: [{ product: 'autocad', team: 'team-1' }], launches: stub.offlineLaunches };
        const allowance = await new SignJWT(claims)
          .setProtectedHeader({ alg: 'EdDSA', kid: key.kid, typ: ALLOWANCE_TYP })
          .setIssuer('flexgate')
          .setAudience(ALLOWANCE_AUDIENCE)
          .setIssuedAt(iat)
          .setExpirationTime(iat + stub.offlineHours * 3600)
          .sign(key.privateKey);
        return sendJson(res, 201, { allowance, id });
      }
      if (path === '/v1/launch') {
        if (stub.plainLaunchStatus !== null) {
          res.writeHead(stub.plainLaunchStatus, { 'content-type': 'text/html' });
          return res.end('<html><body>Not the gateway speaking</body></html>');
        }
        const product = String(body?.product);
        const reported = body?.provisional as { id: string } | undefined;
        if (reported && allowances.get(reported.id.split('.')[0] ?? '') !== user)
          return sendJson(res, 403, problem('offline-not-allowed', 403, 'Not under an allowance.'), 'application/problem+json');
        if (product === 'nope')
          return sendJson(res, 404, problem('unknown-product', 404, 'There is no product "nope".'), 'application/problem+json');
        const cacheKey = idem ? `${user}|${idem}` : null;
        let answer = cacheKey ? answers.get(cacheKey) : undefined;
        if (!answer) {
          const prov = body?.provisional as { id: string; launchedAt: string } | undefined;
          if (prov && seenProvisional.has(prov.id)) answer = await launchAnswer(user, product, now());
          else {
            if (prov) seenProvisional.add(prov.id);
            answer = await launchAnswer(user, product, prov ? new Date(prov.launchedAt) : now(), prov?.id);
          }
          if (cacheKey) answers.set(cacheKey, answer);
        }
        if (stub.dropNextLaunchAnswers > 0) {
          stub.dropNextLaunchAnswers--;
          req.socket.destroy();
          return;
        }
        return sendJson(res, 200, answer);
      }
      const m = /^\/v1\/sessions\/([^/]+)\/(heartbeat|end)$/.exec(path);
      const session = m ? [...sessions.values()].find((s) => s.id === m[1] && s.user === user) : undefined;
      if (m && session) {
        if (m[2] === 'heartbeat') return sendJson(res, 200, await launchAnswer(user, session.product, now()));
        const within5 = now().getTime() - Date.parse(session.startsAt) < 5 * 60_000;
        if (within5) {
          const i = stub.charges.findIndex((c) => c.user === user && c.product === session.product && c.at === session.startsAt);
          if (i >= 0) stub.charges.splice(i, 1);
          sessions.delete(`${user}|${session.product}`);
        }
        return sendJson(res, 200, {
          session: session.id,
          charged: within5 ? 0 : RATE,
          refunded: within5 ? RATE : 0,
          endedAt: now().toISOString(),
        });
      }
      if (path === '/v1/me/products' || path === '/v1/products') {
        return sendJson(res, 200, [{ key: 'autocad', name: 'AutoCAD', dailyRate: 7, addedAt: '2026-01-01T00:00:00Z' }]);
      }
      return sendJson(res, 404, problem('not-found', 404, 'No such route.'), 'application/problem+json');
    })().catch((err: unknown) => {
      send(res, 500, problem('internal-error', 500, String(err)), 'application/problem+json');
    });
  }

  await stub.start();
  return stub;
}
