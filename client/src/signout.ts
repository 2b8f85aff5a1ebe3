import type { DiskStore } from './cache';
import type { SignInRecord } from './client';
import { createHttp } from './http';

/** What became of a sign-in the CLI forgot. */
export type SignOutResult = 'ended' | 'unreachable' | 'not-signed-in';

/**
 * Ends the sign-in recorded in the cache on the gateway too (POST /v1/signout: its refresh token and
 * access tokens stop working everywhere), then forgets it here. A copy of the cache taken before
 * then signs in to nothing. No trust root is needed: nothing the gateway answers is believed, only
 * whether it ended the sign-in. The file is forgotten whatever the gateway answers.
 */
export async function signOutEverywhere(store: DiskStore, timeoutMs = 5_000): Promise<SignOutResult> {
  const record = await store.read<SignInRecord>('signin.json').catch(() => null);
  if (!record?.gatewayUrl || !record.token) {
    await store.remove('signin.json');
    return 'not-signed-in';
  }
  const http = createHttp(record.gatewayUrl, { timeoutMs, retry: { attempts: 2 } });
  try {
    let res = await http.request({ method: 'POST', path: '/v1/signout', token: record.token });
    // The access token expired meanwhile: the refresh token gets one that can end the sign-in.
    if (res.status === 401 && record.refreshToken) {
      const renewed = await http.request({ method: 'POST', path: '/v1/token/refresh', body: { refreshToken: record.refreshToken } });
      const token = (renewed.body as { token?: unknown } | null)?.token;
      if (renewed.status === 200 && typeof token === 'string') res = await http.request({ method: 'POST', path: '/v1/signout', token });
      // Refused: the sign-in already ended (signed out, revoked, or its refresh token reused).
      else if (renewed.status === 401) res = renewed;
    }
    await store.remove('signin.json');
    return res.status === 204 || res.status === 401 ? 'ended' : 'unreachable';
  } catch {
    await store.remove('signin.json');
    return 'unreachable';
  } finally {
    await http.close();
  }
}
