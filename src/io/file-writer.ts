// Bytes to a regular file, written by a worker thread once they come in bulk: the event loop copies them into a shared ring and goes on; the worker does the write(2)s, so a file system's write path (as costly as a relay's, and slow on a slow disk) never holds up the relay.
import { Worker } from 'node:worker_threads';
import { SysError } from '../sys/errors';
import { copyInto } from '../sys/memory';
import { write } from '../sys/fd';
import type { ByteWriter } from './writer';

/** The ring's size when the caller gives none (a power of two): what the event loop may have copied ahead of the worker. */
const RING = 4 * 1024 * 1024;
/** A flush of this much or more starts the worker; until then the event loop writes (small records need no thread). */
const WORKER_FROM = 64 * 1024;

/** The control words shared with the worker (Int32Array indexes); the two counters are byte counts modulo 2^32. */
const PRODUCED = 0; // bytes the event loop has put in the ring (the worker waits on it)
const CONSUMED = 1; // bytes the worker has written (drainSync waits on it)
const WANT = 2; // 1: the event loop wants a message after the worker's next write
const STOP = 3; // 1: the worker returns once it has written everything produced
const ERRNO = 4; // the errno of a failed write: the worker has stopped
const SLEEPING = 5; // 1: the worker waits for PRODUCED to change (only then does the event loop wake it)
const DRAINING = 6; // 1: the event loop waits for CONSUMED to change (only then does the worker wake it)
/** Bytes handed over that wake a sleeping worker at once; less waits for the end of the event loop's turn (one wake-up, not one a record). */
const WAKE_AT = 256 * 1024;

/**
 * The worker (plain JavaScript, evaluated in the thread): writes the ring's bytes in order as the
 * event loop produces them, posts a message after a write when asked (WANT), and on a failed write
 * stores its errno, posts it and returns.
 */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const { fd, ring, ringOffset, ringSize, control } = workerData;
const ctl = new Int32Array(control);
const bytes = new Uint8Array(ring, ringOffset, ringSize);
const size = bytes.length;
let consumed = Atomics.load(ctl, ${CONSUMED}); // the event loop wrote the bytes before it
for (;;) {
  const produced = Atomics.load(ctl, ${PRODUCED});
  if (produced === consumed) {
    if (Atomics.load(ctl, ${STOP})) break;
    Atomics.store(ctl, ${SLEEPING}, 1); // then the event loop wakes it: seen here or there, never missed
    if (Atomics.load(ctl, ${PRODUCED}) === produced) Atomics.wait(ctl, ${PRODUCED}, produced);
    Atomics.store(ctl, ${SLEEPING}, 0);
    continue;
  }
  const start = consumed & (size - 1);
  const length = Math.min((produced - consumed) >>> 0, size - start);
  try {
    consumed = (consumed + writeSync(fd, bytes, start, length)) | 0;
  } catch (err) {
    Atomics.store(ctl, ${ERRNO}, typeof err.errno === 'number' ? Math.abs(err.errno) : 5);
    Atomics.notify(ctl, ${CONSUMED});
    parentPort.postMessage(0);
    break;
  }
  Atomics.store(ctl, ${CONSUMED}, consumed);
  if (Atomics.load(ctl, ${DRAINING})) Atomics.notify(ctl, ${CONSUMED}); // a notify takes V8's one lock: only when awaited
  if (Atomics.exchange(ctl, ${WANT}, 0) === 1) parentPort.postMessage(0);
}
`;

/**
 * Writes to fd, a regular file: push and writeNow copy the bytes into a ring (or, when the ring is full,
 * queue a copy), so the caller may reuse them at once; or the caller writes into the ring itself
 * (reserve, commit). Each flush writes the ring on the event loop
 * until one flush finds WORKER_FROM bytes or more: from then on a worker thread sharing the ring writes
 * it. Writes in order; a write that fails stops the writer and calls onError once. Never closes fd: the
 * caller closes it after drainSync or stop.
 */
export class FileWriter implements ByteWriter {
  private readonly control = new Int32Array(new SharedArrayBuffer(7 * 4));
  private readonly ring: Buffer;
  private readonly size: number;
  private worker: Worker | null = null;
  private produced = 0; // as CONSUMED: modulo 2^32
  private published = 0; // produced as the worker last saw it
  private spill: Buffer[] = []; // copies that did not fit in the ring, in order
  private spillBytes = 0;
  private drainWaiters: Array<() => void> = [];
  private failed: Error | null = null;
  private wakeQueued = false;
  onError: (err: Error) => void = () => {};

  /** ring: a view of shared memory (a SharedArrayBuffer) whose length is a power of two, to use as the ring; by default a new one of 4 MiB. */
  constructor(
    readonly fd: number,
    ring?: Buffer,
  ) {
    this.ring = ring ?? Buffer.from(new SharedArrayBuffer(RING));
    this.size = this.ring.length;
    if (!(this.ring.buffer instanceof SharedArrayBuffer) || (this.size & (this.size - 1)) !== 0)
      throw new Error('FileWriter: the ring must be shared memory, a power of two long');
  }

  /** Returns the bytes not written yet. */
  get queued(): number {
    return this.failed ? 0 : this.inRing() + this.spillBytes;
  }

  /** True while more than half the ring's worth waits: producers should wait for drain. */
  get full(): boolean {
    return this.queued >= this.size / 2;
  }

  /** Queues a copy of bytes; the worker sees it at the next flush. */
  push(bytes: Buffer): void {
    if (this.failed) return;
    if (this.spillBytes === 0 && bytes.length <= this.size - this.inRing()) this.copyIn(bytes);
    else {
      this.spill.push(Buffer.from(bytes));
      this.spillBytes += bytes.length;
    }
  }

  /** Queues a copy of bytes and hands it to the worker at once. */
  writeNow(bytes: Buffer): void {
    this.push(bytes);
    this.flush();
  }

  /** Writes what is queued, or hands it to the worker (what the ring has room for; the rest once the worker has caught up). */
  flush(): void {
    if (this.failed) return;
    this.refill();
    if (!this.worker) {
      if (this.inRing() < WORKER_FROM) return this.writeHere();
      this.startWorker();
    }
    if (this.produced !== this.published) {
      this.published = this.produced;
      Atomics.store(this.control, PRODUCED, this.produced);
      this.wake();
    }
    if (this.spillBytes > 0) this.wantProgress();
  }

  /** Calls cb once everything queued so far has been written (at once when nothing is queued, or after a failure). */
  whenDrained(cb: () => void): void {
    this.flush();
    if (this.queued === 0 || this.failed) return cb();
    this.drainWaiters.push(cb);
    this.wantProgress();
  }

  /** Hands everything to the worker and waits (blocking) until it is written or timeoutMs pass: for the exit path. Returns true when all was written. */
  drainSync(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.flush();
      this.checkFailed();
      if (this.failed) return false;
      if (this.queued === 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.store(this.control, DRAINING, 1);
      const consumed = Atomics.load(this.control, CONSUMED);
      if (consumed !== this.produced) Atomics.wait(this.control, CONSUMED, consumed, left);
      Atomics.store(this.control, DRAINING, 0);
    }
  }

  /** Lets the worker end once it has written what it was given (drainSync first to wait for that). */
  stop(): void {
    if (!this.worker) return;
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, PRODUCED);
  }

  /** Returns a view of the ring where `length` bytes may be written now, contiguous, after everything queued; null when the ring has no such room (or the writer failed). */
  reserve(length: number): Buffer | null {
    if (this.failed || this.spillBytes > 0) return null;
    const start = this.produced & (this.size - 1);
    if (length > Math.min(this.size - this.inRing(), this.size - start)) return null;
    return this.ring.subarray(start, start + length);
  }

  /** Queues the first `length` bytes written into the last reserve's view; the worker sees them at the next flush. */
  commit(length: number): void {
    this.produced = (this.produced + length) | 0;
  }

  /** Writes the ring (and what spilled beyond it) on the event loop: before the worker starts. */
  private writeHere(): void {
    try {
      while (this.inRing() > 0) {
        const consumed = Atomics.load(this.control, CONSUMED);
        const start = consumed & (this.size - 1);
        const n = write(this.fd, this.ring.subarray(start, start + Math.min(this.inRing(), this.size - start)));
        if (typeof n !== 'number') throw new Error('write: a regular file would block'); // O_NONBLOCK does not apply to files
        Atomics.store(this.control, CONSUMED, (consumed + n) | 0);
        this.refill();
      }
      this.published = this.produced;
      Atomics.store(this.control, PRODUCED, this.produced);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  /** Starts the worker, which takes over the ring where the event loop left it. */
  private startWorker(): void {
    const { buffer, byteOffset, length } = this.ring;
    const worker = new Worker(WORKER, {
      eval: true,
      workerData: { fd: this.fd, ring: buffer, ringOffset: byteOffset, ringSize: length, control: this.control.buffer },
    });
    worker.unref(); // referenced only while someone waits for it (see wantProgress)
    worker.on('message', () => this.progress());
    worker.on('error', (err) => this.fail(err));
    this.worker = worker;
  }

  /** Wakes the worker if it sleeps: at once for WAKE_AT bytes or more, else at the end of this turn of the event loop. */
  private wake(): void {
    if (Atomics.load(this.control, SLEEPING) === 0) return; // awake: it reads PRODUCED after each write
    if (this.inRing() >= WAKE_AT) Atomics.notify(this.control, PRODUCED);
    else if (!this.wakeQueued) {
      this.wakeQueued = true;
      setImmediate(() => {
        this.wakeQueued = false;
        Atomics.notify(this.control, PRODUCED);
      });
    }
  }

  /** Bytes in the ring not written yet. */
  private inRing(): number {
    return (this.produced - Atomics.load(this.control, CONSUMED)) >>> 0;
  }

  /** Copies bytes into the ring after what it holds (they fit), wrapping at its end. */
  private copyIn(bytes: Buffer): void {
    const start = this.produced & (this.size - 1);
    const first = Math.min(bytes.length, this.size - start);
    copyInto(this.ring, start, first < bytes.length ? bytes.subarray(0, first) : bytes);
    if (first < bytes.length) copyInto(this.ring, 0, bytes.subarray(first));
    this.produced = (this.produced + bytes.length) | 0;
  }

  /** Moves spilled copies into the ring as far as it has room. */
  private refill(): void {
    while (this.spill.length) {
      const room = this.size - this.inRing();
      if (room === 0) return;
      const head = this.spill[0]!;
      const part = head.length <= room ? head : head.subarray(0, room);
      this.copyIn(part);
      this.spillBytes -= part.length;
      if (part === head) this.spill.shift();
      else this.spill[0] = head.subarray(room);
    }
  }

  /** Asks the worker for a message after its next write (the event loop then waits for it), or calls progress when it has already caught up. */
  private wantProgress(): void {
    if (!this.worker) return;
    this.worker.ref();
    Atomics.store(this.control, WANT, 1);
    // The worker may have written everything before it saw WANT: then no message comes.
    if (Atomics.load(this.control, CONSUMED) === this.published || Atomics.load(this.control, ERRNO) !== 0) {
      Atomics.store(this.control, WANT, 0);
      queueMicrotask(() => this.progress());
    }
  }

  /** The worker wrote something: refill the ring, call the drain waiters once all is written, else wait for more. */
  private progress(): void {
    this.checkFailed();
    if (!this.failed) this.flush();
    if (this.queued === 0 || this.failed) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const cb of waiters) cb();
    }
    if (!this.failed && (this.drainWaiters.length || this.spillBytes > 0)) this.wantProgress();
    else this.worker?.unref();
  }

  /** Takes the worker's failure, if it has failed (once). */
  private checkFailed(): void {
    const errno = Atomics.load(this.control, ERRNO);
    if (errno !== 0 && !this.failed) this.fail(new SysError('write', errno));
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.spill = [];
    this.spillBytes = 0;
    this.worker?.unref();
    this.onError(err);
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const cb of waiters) cb();
  }
}
