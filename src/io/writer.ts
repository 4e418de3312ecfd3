// Buffered, non-blocking writes to one descriptor with backpressure (high-water mark and drain callbacks).
import type { FdWatcher } from '../sys/poll';
import { POLLOUT } from '../sys/platform/linux';
import { GATHER_MAX, pollWait, WOULD_BLOCK, write, writeGather } from '../sys/fd';

const BLOCK = 256 * 1024;
export const HIGH_WATER = 1024 * 1024;
/** Owned pieces at least this long are queued as they are (no copy); the blocks leave together in one writev(2). */
const OWNED_AS_IS = 16 * 1024;

/** What the record writers need of a writer: FdWriter (any descriptor) or FileWriter (a regular file, written by a worker thread). */
export interface ByteWriter {
  /** Queues bytes; `owned`: the caller will not reuse them (a writer may then keep them rather than copy). */
  push(bytes: Buffer, owned?: boolean): void;
  /** Writes bytes now, or queues (a copy of) what cannot go yet; the caller may reuse bytes afterwards. */
  writeNow(bytes: Buffer): void;
  /** Writes what is queued as far as the descriptor takes it now, the rest later. */
  flush(): void;
  /** Bytes queued, not written yet. */
  readonly queued: number;
  /** True while producers should wait for whenDrained. */
  readonly full: boolean;
  /** Calls cb once everything queued so far has been written (or the writer failed). */
  whenDrained(cb: () => void): void;
  /** Writes everything queued, blocking up to timeoutMs (the exit path); true when all was written. */
  drainSync(timeoutMs: number): boolean;
  /** Called once when a write fails; the writer then drops what it holds. */
  onError: (err: Error) => void;
  /** Where the writer lets its caller write in place (FileWriter's ring): a view of `length` free bytes, or null. */
  reserve?(length: number): Buffer | null;
  /** Queues the first `length` bytes written into the last reserve's view. */
  commit?(length: number): void;
}

/**
 * Queues bytes for fd and writes them as the fd accepts them. Small pieces are copied into
 * 256 KiB blocks, large ones queued as they are, and up to GATHER_MAX blocks leave in one writev(2).
 * Never closes fd.
 */
export class FdWriter implements ByteWriter {
  private blocks: Buffer[] = [];
  private tailUsed = 0; // bytes used in the last block when it is a copy block
  private tailIsCopy = false;
  private head = 0; // bytes of blocks[0] already written
  queued = 0;
  private drainWaiters: Array<() => void> = [];
  private failed: Error | null = null;
  onError: (err: Error) => void = () => {};

  constructor(readonly watcher: FdWatcher) {}

  /** Queues bytes: copied when small, taken as they are when `owned` (the caller will not reuse them). */
  push(bytes: Buffer, owned = false): void {
    if (this.failed) return;
    if (bytes.length >= BLOCK / 4 || (owned && bytes.length >= OWNED_AS_IS)) {
      this.sealTail();
      this.blocks.push(owned ? bytes : Buffer.from(bytes));
    } else {
      let tail = this.blocks[this.blocks.length - 1];
      if (!tail || !this.tailIsCopy || this.tailUsed + bytes.length > tail.length) {
        this.sealTail();
        tail = Buffer.allocUnsafe(BLOCK);
        this.blocks.push(tail);
        this.tailIsCopy = true;
        this.tailUsed = 0;
      }
      bytes.copy(tail, this.tailUsed);
      this.tailUsed += bytes.length;
    }
    this.queued += bytes.length;
  }

  /** Writes bytes at once when nothing is queued, and queues a copy of what the fd did not take; the caller may reuse bytes afterwards. */
  writeNow(bytes: Buffer): void {
    if (this.failed) return;
    let rest = bytes;
    if (this.queued === 0) {
      try {
        while (rest.length) {
          const n = write(this.watcher.fd, rest);
          if (n === WOULD_BLOCK) break;
          rest = rest.subarray(n);
        }
      } catch (err) {
        this.failed = err as Error;
        this.onError(err as Error);
        return;
      }
    }
    if (rest.length) {
      this.push(rest);
      this.flush();
    }
  }

  /** Returns where the data of blocks[i] ends: the last block, when it is a copy block, is filled up to tailUsed. */
  private blockEnd(i: number): number {
    return i === this.blocks.length - 1 && this.tailIsCopy ? this.tailUsed : this.blocks[i]!.length;
  }

  /** Trims a partly filled copy block to what it holds, so that later blocks can follow it. */
  private sealTail(): void {
    if (!this.tailIsCopy) return;
    const last = this.blocks.length - 1;
    this.blocks[last] = this.blocks[last]!.subarray(0, this.tailUsed);
    this.tailIsCopy = false;
  }

  /** True while more is queued than the high-water mark: producers should wait for drain. */
  get full(): boolean {
    return this.queued >= HIGH_WATER;
  }

  /** Calls cb once everything queued so far has been written (at once when nothing is queued). */
  whenDrained(cb: () => void): void {
    if (this.queued === 0 || this.failed) cb();
    else {
      this.drainWaiters.push(cb);
      this.flush();
    }
  }

  /**
   * Writes everything queued, blocking (poll) until the fd takes it or timeoutMs pass: for the signal
   * path, so that a frame partly written is finished before the process dies. Returns true when all was written.
   */
  drainSync(timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    while (this.queued > 0 && !this.failed) {
      this.flush();
      if (this.queued === 0) break;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      try {
        pollWait(this.watcher.fd, POLLOUT, left);
      } catch {
        return false;
      }
    }
    return this.queued === 0;
  }

  /** Writes what the fd accepts now; waits for writability for the rest. */
  flush(): void {
    if (this.failed) return;
    try {
      while (this.blocks.length) {
        const count = Math.min(this.blocks.length, GATHER_MAX);
        const pieces: Buffer[] = [];
        for (let i = 0; i < count; i++) pieces.push(this.blocks[i]!.subarray(i === 0 ? this.head : 0, this.blockEnd(i)));
        const n = count === 1 ? write(this.watcher.fd, pieces[0]!) : writeGather(this.watcher.fd, pieces);
        if (n === WOULD_BLOCK) {
          this.watcher.onWritable(() => this.flush());
          return;
        }
        this.queued -= n;
        for (let left = n; left > 0 || (this.blocks.length && this.head >= this.blockEnd(0)); ) {
          const take = Math.min(left, this.blockEnd(0) - this.head);
          this.head += take;
          left -= take;
          if (this.head >= this.blockEnd(0)) {
            this.blocks.shift();
            this.head = 0;
            if (this.blocks.length === 0) this.tailIsCopy = false;
          }
        }
      }
      this.watcher.onWritable(null);
    } catch (err) {
      this.failed = err as Error;
      this.blocks = [];
      this.queued = 0;
      this.watcher.onWritable(null);
      this.onError(err as Error);
    }
    if (this.queued === 0) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const cb of waiters) cb();
    }
  }
}
