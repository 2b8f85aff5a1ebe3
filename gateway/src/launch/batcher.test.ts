import { describe, expect, it } from 'vitest';
import { connectionAccepted } from '../lib/turns';
import { Batcher } from './batcher';

const turn = () => new Promise<void>((r) => setImmediate(r));

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

  // Node accepts one connection a turn: under launches that each open one, each turn brings one
  // launch and accepts the next connection.
  const arrivals = async (b: Batcher<number, number>, n: number, accepting: boolean) => {
    const answers: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      answers.push(b.submit(i));
      if (accepting) connectionAccepted();
      await turn();
    }
    return Promise.all(answers);
  };

  it('waits while connections arrive, so that launches a turn apart, each on a connection of its own, make one batch', async () => {
    const batches: number[][] = [];
    // A budget no turn of a loaded machine exceeds: what is tested is the waiting, not its bound.
    const b = new Batcher<number, number>(
      async (items) => {
        batches.push(items);
        return items;
      },
      10,
      60_000,
    );
    expect(await arrivals(b, 4, true)).toEqual([0, 1, 2, 3]);
    expect(batches).toEqual([[0, 1, 2, 3]]);
    // With no connection arriving, each turn's items are a batch at once.
    batches.length = 0;
    expect(await arrivals(b, 4, false)).toEqual([0, 1, 2, 3]);
    expect(batches).toEqual([[0], [1], [2], [3]]);
  });

  it('does not wait past a few milliseconds while connections keep arriving', async () => {
    const batches: number[][] = [];
    const b = new Batcher<number, number>(async (items) => {
      batches.push(items);
      return items;
    }, 1000);
    const started = performance.now();
    const answers: Promise<number>[] = [];
    // A connection every turn for 30 ms: the first batch runs long before the flood ends.
    for (let i = 0; performance.now() - started < 30; i++) {
      answers.push(b.submit(i));
      connectionAccepted();
      await turn();
    }
    await Promise.all(answers);
    expect(batches.length).toBeGreaterThan(2);
    expect(batches.flat()).toEqual(answers.map((_, i) => i));
  });
});
