// Reusable stdin chunks of a stream relay, handed back once every outlet that took one has sent it.

/**
 * A pool of equal-sized chunks: a chunk is free again once every outlet that took units cut from it
 * has released them, so that reads reuse warm memory instead of fresh pages that the GC frees at random.
 */
export class ChunkPool {
  private readonly free: Buffer[] = [];
  private readonly held = new Map<ArrayBufferLike, { base: Buffer; count: number }>();

  constructor(
    private readonly size: number,
    private readonly keep: number,
  ) {}

  /** Returns a chunk of the pool's size, reused when one is free. */
  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafe(this.size);
  }

  /** Records that `count` outlets took units cut from base; with none, base is free at once. */
  hold(base: Buffer, count: number): void {
    if (count > 0) this.held.set(base.buffer, { base, count });
    else this.put(base);
  }

  /** One outlet is done with unit; a unit not cut from a pooled chunk is ignored. */
  release(unit: Buffer): void {
    const entry = this.held.get(unit.buffer);
    if (!entry || --entry.count > 0) return;
    this.held.delete(unit.buffer);
    this.put(entry.base);
  }

  private put(base: Buffer): void {
    if (this.free.length < this.keep) this.free.push(base);
  }
}
