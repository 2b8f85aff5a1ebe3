import { describe, expect, it } from 'vitest';
import { flexProducts, memberStatus } from './access';

const catalog = ['autocad', 'maya', 'revit'];

describe('R12/R13 effective Flex access', () => {
  it('R12: "all products" follows the catalog, a fixed list does not', () => {
    const grown = [...catalog, 'fusion'];
    expect(flexProducts({ guest: false, allProducts: true, products: [] }, [], grown)).toEqual(grown);
    expect(flexProducts({ guest: false, allProducts: false, products: ['maya'] }, [], grown)).toEqual(['maya']);
  });

  it('R13: own selection ∪ defaults for members, own selection only for guests', () => {
    expect(flexProducts({ guest: false, allProducts: false, products: ['maya'] }, ['revit'], catalog)).toEqual(['maya', 'revit']);
    expect(flexProducts({ guest: true, allProducts: false, products: ['maya'] }, ['revit'], catalog)).toEqual(['maya']);
  });
});

describe('R11 member status', () => {
  it('R11: invited while the invitation runs, expired from its end, active once accepted', () => {
    const ends = '2026-03-22T10:00:00.000Z';
    expect(memberStatus('invited', ends, new Date('2026-03-22T09:59:59Z'))).toBe('invited');
    expect(memberStatus('invited', ends, new Date('2026-03-22T10:00:00Z'))).toBe('expired');
    expect(memberStatus('invited', undefined, new Date('2026-03-01T00:00:00Z'))).toBe('expired');
    expect(memberStatus('active', undefined, new Date('2030-01-01T00:00:00Z'))).toBe('active');
  });
});
