import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { balanceOf, newMember, newTeam, seedCatalog } from '../harness/fixtures';
import { startTestGateway, type TestGateway } from '../harness/gateway';
import { expectStatus } from '../harness/http';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
  await seedCatalog(gw);
});
afterAll(async () => gw?.close());

it('R17: a restart keeps the signing keys, so entitlements signed before it still verify', async () => {
  const team = await newTeam(gw, 50);
  const u = await newMember(gw, team, ['autocad']);
  const before = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
  const jwksBefore = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);

  await gw.restart();

  const jwksAfter = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
  expect(jwksAfter).toEqual(jwksBefore);
  await jwtVerify(before.entitlement, createLocalJWKSet(jwksAfter), { algorithms: ['EdDSA'] });
  // The session, the charge and the user's ID token all survived too.
  const again = expectStatus(await u.api.post('/v1/launch', { product: 'autocad' }), 200);
  expect(again).toMatchObject({ charged: 0, session: { id: before.session.id } });
  expect(await balanceOf(gw, team)).toBe(43);
});

it('R17: after a key rotation old entitlements still verify and new ones use the new kid', async () => {
  const team = await newTeam(gw, 50);
  const u = await newMember(gw, team, ['revit']);
  const old = expectStatus(await u.api.post('/v1/launch', { product: 'revit' }), 200);
  const { kid } = expectStatus(await gw.op.post('/v1/keys/rotate'), 200);
  const jwks = expectStatus(await gw.anon.get('/.well-known/jwks.json'), 200);
  expect(jwks.keys.length).toBeGreaterThanOrEqual(2);
  expect(jwks.keys.map((k: any) => k.kid)).toContain(kid);
  await jwtVerify(old.entitlement, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
  const u2 = await newMember(gw, team, ['revit']);
  const fresh = expectStatus(await u2.api.post('/v1/launch', { product: 'revit' }), 200);
  const { protectedHeader } = await jwtVerify(fresh.entitlement, createLocalJWKSet(jwks), { algorithms: ['EdDSA'] });
  expect(protectedHeader.kid).toBe(kid);
});
