import { describe, expect, it } from 'vitest';
import { actionFilter, auditActorLabel, auditCsv, auditRecord } from './audit';
import { parseCsv } from './csv';

describe('audit entries', () => {
  it('labels who acted: the API key and the console of one admin are told apart', () => {
    expect(auditActorLabel({ kind: 'operator' })).toBe('operator');
    expect(auditActorLabel({ kind: 'admin', id: 'adm_1', via: 'api' })).toBe('admin:adm_1');
    expect(auditActorLabel({ kind: 'admin', id: 'adm_1', via: 'console' })).toBe('console:adm_1');
    expect(auditActorLabel({ kind: 'user', autodeskId: 'ada@example.com' })).toBe('user:ada@example.com');
  });

  it('keeps before and after as JSON, null where the action has none', () => {
    const r = auditRecord({ actor: { kind: 'operator' }, requestId: 'req_1' }, '2026-03-15T10:00:00.000Z', {
      team: null,
      action: 'catalog.rate.changed',
      target: 'revit',
      before: { dailyRate: 10 },
      after: { dailyRate: 12 },
    });
    expect(r).toEqual({
      teamId: null,
      at: '2026-03-15T10:00:00.000Z',
      actor: 'operator',
      action: 'catalog.rate.changed',
      target: 'revit',
      before: '{"dailyRate":10}',
      after: '{"dailyRate":12}',
      requestId: 'req_1',
    });
    const bare = auditRecord({ actor: { kind: 'operator' }, requestId: null }, 'x', { team: 't', action: 'signing-key.rotated' });
    expect([bare.target, bare.before, bare.after, bare.requestId]).toEqual([null, null, null, null]);
  });

  it('filters one action, or a family with `.*`', () => {
    expect(actionFilter(undefined)).toBeNull();
    expect(actionFilter('member.invited')).toEqual({ exact: 'member.invited' });
    expect(actionFilter('member.*')).toEqual({ prefix: 'member.' });
  });

  it('exports CSV a spreadsheet opens safely: quoted JSON, no formula from a name', () => {
    const csv = auditCsv([
      {
        at: '2026-03-15T10:00:00.000Z',
        team: 'tm_1',
        actor: 'admin:adm_1',
        action: 'member.invited',
        target: '=cmd@example.com',
        before: null,
        after: { name: '=HYPERLINK("x")', products: ['autocad', 'revit'] },
        requestId: 'req_1',
      },
    ]);
    const parsed = parseCsv(csv);
    if (!parsed.ok) throw new Error(parsed.message);
    const [head, row] = parsed.records.map((r) => r.fields);
    expect(head).toEqual(['At', 'Team', 'Actor', 'Action', 'Target', 'Before', 'After', 'Request id']);
    expect(row?.[4]).toBe("'=cmd@example.com");
    expect(JSON.parse(row?.[6] as string)).toEqual({ name: '=HYPERLINK("x")', products: ['autocad', 'revit'] });
    expect(csv.endsWith('\r\n')).toBe(true);
  });
});
