/** Where the lines go: stdout, or any writable stream (a pipe, a file). */
export interface LineOutput {
  write(chunk: string, done: (error?: Error | null) => void): unknown;
}

export interface LineSink {
  /** One whole line, with its newline. */
  write(line: string): void;
  /** Everything not yet written, in one write, without waiting for the reader: at exit. */
  flushNow(): void;
  /** Lines dropped so far while the reader was too far behind. */
  readonly dropped: number;
}

/**
 * The kernel never splits a write of at most this many bytes to a pipe, so the lines of several
 * processes on one pipe (`--cluster`) cannot interleave.
 */
const PIPE_BUF = 4096;
/** How long a line may wait for others to share its write: a log read a few ms late loses nothing. */
const GATHER_MS = 10;
/** What may wait for a slow reader before lines are dropped: seconds of a busy gateway's log. */
const MAX_WAITING_BYTES = 8 * 1024 * 1024;

/**
 * Log lines leave together, a write for up to 10 ms of lines, not a write a line: the access log
 * writes a line a request, and a write a line cost a warm launch more than its line's building
 * (BENCHMARKS.md); a turn of the event loop often holds a request or two, too few to gather. A
 * line after a quiet spell leaves at the end of its turn. One write at a time, each of at most
 * PIPE_BUF bytes, so that a write is never split (Node would merge what waits into one larger
 * write). A reader that stops (a stalled log shipper) must not take the gateway's memory: past
 * `maxWaitingBytes` waiting, lines are dropped and counted, and the count is written as a line of
 * its own once there is room again.
 */
export function lineSink(out: LineOutput, maxWaitingBytes = MAX_WAITING_BYTES): LineSink {
  let chunk = '';
  let chunkBytes = 0;
  let chunkLines = 0;
  let scheduled = false;
  const waiting: { text: string; bytes: number }[] = [];
  let waitingBytes = 0;
  let writing = false;
  let dropped = 0;
  let droppedUnsaid = 0;

  const pump = () => {
    const next = waiting[0];
    if (writing || !next) return;
    writing = true;
    out.write(next.text, () => {
      waiting.shift();
      waitingBytes -= next.bytes;
      writing = false;
      pump();
    });
  };
  const enqueue = (text: string, bytes: number) => {
    waiting.push({ text, bytes });
    waitingBytes += bytes;
  };
  const emit = () => {
    if (chunkLines === 0) return;
    const text = chunk;
    const bytes = chunkBytes;
    const lines = chunkLines;
    chunk = '';
    chunkBytes = 0;
    chunkLines = 0;
    if (waitingBytes + bytes > maxWaitingBytes) {
      dropped += lines;
      droppedUnsaid += lines;
      return;
    }
    if (droppedUnsaid > 0) {
      const said = `${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'log lines dropped: the log reader fell behind', lines: droppedUnsaid })}\n`;
      enqueue(said, Buffer.byteLength(said));
      droppedUnsaid = 0;
    }
    enqueue(text, bytes);
    pump();
  };
  let lastGathered = Number.NEGATIVE_INFINITY;
  const gathered = () => {
    scheduled = false;
    lastGathered = performance.now();
    emit();
  };

  return {
    write(line) {
      const bytes = Buffer.byteLength(line);
      if (chunkBytes + bytes > PIPE_BUF) emit();
      chunk += line;
      chunkBytes += bytes;
      chunkLines += 1;
      if (!scheduled) {
        scheduled = true;
        // A line after a quiet spell leaves at the end of the turn; lines coming fast, each 10 ms.
        const wait = lastGathered + GATHER_MS - performance.now();
        if (wait > 0) setTimeout(gathered, wait);
        else setImmediate(gathered);
      }
    },
    flushNow() {
      emit();
      // The one in flight is already the stream's; the rest go in one write.
      const rest = waiting.slice(writing ? 1 : 0);
      if (rest.length === 0) return;
      waiting.length = writing ? 1 : 0;
      waitingBytes = waiting.reduce((n, w) => n + w.bytes, 0);
      out.write(rest.map((w) => w.text).join(''), () => {});
    },
    get dropped() {
      return dropped;
    },
  };
}
