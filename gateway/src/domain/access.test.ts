import { describe, expect, it } from 'vitest';
import { flexProducts } from './access';

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
