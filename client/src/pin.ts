import { ROOT_KEY_PATH } from '@flexgate/shared';
import { createDiskStore } from './cache';
import { createHttp, GatewayUnreachableError } from './http';
import { FlexgateError } from './types';
import { parseRootJwk, type RootJwk, rootMatching, thumbprintOf } from './verify';

/**
 * Trust on first use, for the CLI only: without --trust, the first sign-in pins the root key the
 * gateway shows, in `trust.json`. That guards later runs against another gateway, not against
 * this machine's user, who can rewrite the file: a product embeds the root key instead
 * (`createClient({ trust })`), which no file changes.
 */
const PIN_FILE = 'trust.json';

interface PinRecord {
  gatewayUrl: string;
  root: RootJwk;
  thumbprint: string;
  pinnedAt: string;
}

/** The root pinned for this gateway, if any. */
export async function pinnedRoot(cacheDir: string, gatewayUrl: string): Promise<RootJwk | null> {
  const pin = await createDiskStore(cacheDir).read<PinRecord>(PIN_FILE);
  if (!pin || pin.gatewayUrl !== gatewayUrl.replace(/\/+$/, '') || typeof pin.thumbprint !== 'string') return null;
  return rootMatching(pin.root, pin.thumbprint);
}

/** Fetches the gateway's root key and pins it; the thumbprint is what the CLI shows. */
export async function pinGatewayRoot(cacheDir: string, gatewayUrl: string): Promise<{ root: RootJwk; thumbprint: string }> {
  const url = gatewayUrl.replace(/\/+$/, '');
  const http = createHttp(url);
  try {
    const res = await http.request({ method: 'GET', path: ROOT_KEY_PATH });
    const root = res.status === 200 ? parseRootJwk(res.body) : null;
    if (!root)
      throw new FlexgateError('untrusted-gateway', `The gateway at ${url} shows no root key (${ROOT_KEY_PATH} answered ${res.status}).`);
    const thumbprint = await thumbprintOf(root);
    await createDiskStore(cacheDir).write(PIN_FILE, {
      gatewayUrl: url,
      root,
      thumbprint,
      pinnedAt: new Date().toISOString(),
    } satisfies PinRecord);
    return { root, thumbprint };
  } catch (err) {
    if (err instanceof GatewayUnreachableError) throw new FlexgateError('gateway-unreachable', err.message);
    throw err;
  } finally {
    await http.close();
  }
}
