import { Worker } from 'node:worker_threads';

/**
 * scrypt on threads of its own. `crypto.scrypt` runs on libuv's pool, the 4 threads that also sign
 * entitlements and read files: a burst of sign-ins queued ahead of every launch's signature. Here
 * hashing has its own threads and a bounded queue; past the bound a sign-in is refused at once
 * (the caller answers 503 with Retry-After) rather than waiting behind work it cannot overtake.
 */

// Evaluated as CommonJS inside the worker: it must survive bundling, so it is a string, not a file.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync } = require('node:crypto');
parentPort.on('message', (m) => {
  try {
    const key = scryptSync(m.password, Buffer.from(m.salt), m.keyLen, { N: m.N, r: 8, p: 1, maxmem: 256 * m.N * 8 });
    parentPort.postMessage({ id: m.id, key });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: e instanceof Error ? e.message : String(e) });
  }
});
`;

export class PoolBusy extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('password hashing is saturated');
  }
}

interface Job {
  id: number;
  password: string;
  salt: Uint8Array;
  N: number;
  keyLen: number;
  resolve: (key: Buffer) => void;
  reject: (error: Error) => void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

export interface PasswordPoolOptions {
  /** Threads hashing at once. */
  threads: number;
  /** Sign-ins waiting for a thread; beyond, `PoolBusy`. */
  queue: number;
}

export class PasswordPool {
  private slots: Slot[] = [];
  private readonly waiting: Job[] = [];
  private nextId = 1;
  /** A moving average of one hash's duration, to tell a refused caller when to come back. */
  private avgMs = 50;

  constructor(private readonly options: PasswordPoolOptions) {}

  derive(password: string, salt: Uint8Array, N: number, keyLen: number): Promise<Buffer> {
    if (this.waiting.length >= this.options.queue) {
      const waitMs = ((this.waiting.length + this.options.threads) * this.avgMs) / this.options.threads;
      return Promise.reject(new PoolBusy(Math.max(1, Math.ceil(waitMs / 1000))));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, password, salt, N, keyLen, resolve, reject });
      this.pump();
    });
  }

  /** Pending and running hashes, for metrics and tests. */
  get load(): { running: number; waiting: number } {
    return { running: this.slots.filter((s) => s.job).length, waiting: this.waiting.length };
  }

  async close(): Promise<void> {
    const slots = this.slots;
    this.slots = [];
    for (const job of this.waiting.splice(0)) job.reject(new Error('password pool closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private pump(): void {
    while (this.waiting.length > 0) {
      const slot = this.slots.find((s) => s.job === null) ?? (this.slots.length < this.options.threads ? this.spawn() : undefined);
      if (!slot) return;
      const job = this.waiting.shift() as Job;
      slot.job = job;
      const started = performance.now();
      const done = () => {
        this.avgMs = this.avgMs * 0.8 + (performance.now() - started) * 0.2;
      };
      slot.worker.once('message', (m: { id: number; key?: Uint8Array; error?: string }) => {
        done();
        slot.job = null;
        if (m.key) job.resolve(Buffer.from(m.key));
        else job.reject(new Error(m.error ?? 'scrypt failed'));
        this.pump();
      });
      slot.worker.postMessage({ id: job.id, password: job.password, salt: job.salt, N: job.N, keyLen: job.keyLen });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    // Idle hashing threads must not keep a process alive that has nothing else to do.
    worker.unref();
    const slot: Slot = { worker, job: null };
    worker.on('error', (error) => {
      this.slots = this.slots.filter((s) => s !== slot);
      slot.job?.reject(error);
      slot.job = null;
      this.pump();
    });
    this.slots.push(slot);
    return slot;
  }
}
