import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

/** Bytes of one nonce: the secret scalar r (32, reduced mod L) and its point R = rB (32). */
export const NONCE_BYTES = 64;

// A plain CommonJS script: the thread needs no TypeScript loader, only sodium-native (its path is
// resolved here and handed over, since the thread's own resolution would start from the cwd).
const THREAD = `
const { workerData, parentPort } = require('node:worker_threads');
const sodium = require(workerData.module);
const wide = Buffer.alloc(64);
parentPort.on('message', (n) => {
  const out = Buffer.alloc(n * 64);
  for (let i = 0; i < n; i++) {
    const r = out.subarray(i * 64, i * 64 + 32);
    const R = out.subarray(i * 64 + 32, i * 64 + 64);
    // 64 random bytes reduced mod L: uniform to within 2^-259. r = 0 (never in practice) has no point.
    do {
      sodium.randombytes_buf(wide);
      sodium.crypto_core_ed25519_scalar_reduce(r, wide);
    } while (!tryBase(R, r));
  }
  wide.fill(0);
  parentPort.postMessage(out, [out.buffer]);
});
function tryBase(R, r) {
  try {
    sodium.crypto_scalarmult_ed25519_base_noclamp(R, r);
    return true;
  } catch {
    return false;
  }
}
`;

/**
 * Ed25519 nonces made ahead, on a thread of their own. A signature's costly half is its nonce's
 * point R = rB, which does not depend on the key or the message: with r random (a hedged
 * signature, as valid to every verifier as RFC 8032's deterministic one) it is computed before the
 * launch that needs it, off the event loop, and signing is one hash and a few scalar operations.
 * Each nonce is handed out once and wiped as it goes; none ready (a burst, a thread not started
 * yet) means `with` answers null and the caller signs deterministically.
 */
export class Nonces {
  private batches: Buffer[] = [];
  private offset = 0;
  private available = 0;
  private asked = false;
  /** The thread failed or exited: every signature is deterministic from then on. */
  private broken = false;
  private worker: Worker | null = null;

  constructor(
    private readonly batch = 1024,
    private readonly low = 1024,
  ) {}

  /**
   * `use` with the next nonce (r || R at `at` in `batch`), never handed out again and wiped once
   * `use` returns or throws; null when none is ready.
   */
  with<T>(use: (batch: Buffer, at: number) => T): T | null {
    if (this.available <= this.low) this.refill();
    const current = this.batches[0];
    if (!current) return null;
    const at = this.offset;
    this.offset += NONCE_BYTES;
    this.available--;
    if (this.offset >= current.length) {
      this.batches.shift();
      this.offset = 0;
    }
    try {
      return use(current, at);
    } finally {
      current.fill(0, at, at + NONCE_BYTES);
    }
  }

  private refill(): void {
    if (this.asked || this.broken) return;
    this.asked = true;
    if (!this.worker) {
      const module = createRequire(import.meta.url).resolve('sodium-native');
      this.worker = new Worker(THREAD, { eval: true, workerData: { module } });
      this.worker.on('message', (b: Uint8Array) => {
        this.batches.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
        this.available += b.byteLength / NONCE_BYTES;
        this.asked = false;
      });
      // A thread that cannot run (sodium-native not loadable there, say) costs nothing but speed.
      this.worker.on('error', () => {});
      this.worker.once('exit', () => {
        this.broken = true;
      });
      // Never a reason to keep the process alive (after the listeners: attaching one refs it again).
      this.worker.unref();
    }
    this.worker.postMessage(this.batch);
  }
}
