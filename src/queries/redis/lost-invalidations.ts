/**
 * Invalidations that could not reach Redis. While Redis is unreachable the read store answers,
 * but a Redis that was only cut off (not restarted) still holds the entries the projector
 * meant to drop; served after the outage they would be stale for up to one TTL. So the keys
 * are remembered, treated as misses meanwhile, and invalidated once Redis answers again. Past
 * `max` keys, remembering stops and the whole namespace is flushed instead.
 */
import { comparePositions } from '../../streams/position.js';
import type { Position } from '../../streams/event-store.js';

export type Repair = Readonly<{
  /** Too many were lost to track: drop every key of the namespace. */
  flush: boolean;
  byPosition: ReadonlyMap<Position, readonly string[]>;
}>;

export class LostInvalidations {
  readonly #max: number;
  #pending = new Map<string, Position>();
  #overflowed = false;
  /** Taken for repair; still blocking until the repair has succeeded. */
  #inRepair: { keys: ReadonlyMap<string, Position>; flush: boolean } | undefined;

  constructor(max: number) {
    this.#max = max;
  }

  /** Whether there is something to repair that is not being repaired already. */
  get needsRepair(): boolean {
    return this.#inRepair === undefined && (this.#overflowed || this.#pending.size > 0);
  }

  record(keys: readonly string[], position: Position): void {
    if (this.#overflowed) return;
    for (const key of keys) {
      const known = this.#pending.get(key);
      if (known === undefined || comparePositions(position, known) > 0) {
        this.#pending.set(key, position);
      }
    }
    if (this.#pending.size > this.#max) {
      this.#overflowed = true;
      this.#pending.clear();
    }
  }

  /** Whether the cached copy of `key` may be stale, so it must not be read or written. */
  blocks(key: string): boolean {
    const repairing = this.#inRepair;
    if (this.#overflowed || this.#pending.has(key)) return true;
    return repairing !== undefined && (repairing.flush || repairing.keys.has(key));
  }

  /** Starts a repair: what to invalidate (or whether to flush), grouped by position. */
  take(): Repair {
    const byPosition = new Map<Position, string[]>();
    for (const [key, position] of this.#pending) {
      const keys = byPosition.get(position) ?? [];
      keys.push(key);
      byPosition.set(position, keys);
    }
    this.#inRepair = { keys: this.#pending, flush: this.#overflowed };
    this.#pending = new Map();
    this.#overflowed = false;
    return { flush: this.#inRepair.flush, byPosition };
  }

  /** Ends the repair; a failed one is remembered again for the next attempt. */
  settle(succeeded: boolean): void {
    const repairing = this.#inRepair;
    this.#inRepair = undefined;
    if (succeeded || repairing === undefined) return;
    if (repairing.flush) {
      this.#overflowed = true;
      this.#pending.clear();
      return;
    }
    for (const [key, position] of repairing.keys) this.record([key], position);
  }
}
