import { describe, expect, it } from 'vitest';
import { Batcher } from './batcher';

describe('Batcher', () => {
  it('runs what one turn submitted as one batch, and what came during it as the next', async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, string>(async (items) => {
      batches.push(items);
      await new Promise((r) => setTimeout(r, 5));
      return items.map((i) => `#${i}`);
    }, 10);
    const first = [1, 2, 3].map((i) => b.submit(i));
    await new Promise((r) => setImmediate(r));
    const later = [4, 5].map((i) => b.submit(i));
    expect(await Promise.all([...first, ...later])).toEqual(['#1', '#2', '#3', '#4', '#5']);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it('lets a running batch take in what it picks of what arrived since, up to its bound, and answers each', async () => {
    const batches: number[][] = [];
    let arrived: Promise<string>[] = [];
    const b = new Batcher<number, string>(async (items, more) => {
      const all = [...items];
      if (items[0] === 1) {
        // Arrivals while the batch waits (for a lock, say): it takes the even ones, up to four in all.
        arrived = [2, 3, 4, 6, 8].map((i) => b.submit(i));
        all.push(...more((i) => i % 2 === 0));
      }
      batches.push(all);
      return all.map((i) => `#${i}`);
    }, 4);
    const one = b.submit(1);
    await one;
    expect(await Promise.all([one, ...arrived])).toEqual(['#1', '#2', '#3', '#4', '#6', '#8']);
    // 1 took 2, 4 and 6 (its bound is 4); 3 and 8 waited for the next batch, in their order.
    expect(batches).toEqual([
      [1, 2, 4, 6],
      [3, 8],
    ]);
  });
});
