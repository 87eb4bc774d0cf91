/**
 * A lease in a NATS KV bucket whose TTL is the lease time: the holder creates the key (which
 * fails while anyone else holds it) and renews it with a compare-and-set on its revision. If the
 * holder dies, its last write ages out after the TTL and a standby's create succeeds.
 *
 * The holder gives up on its own before the TTL runs out when it cannot renew (NATS down, or
 * partitioned away), so two holders never act at once as long as clocks run at similar speeds.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { StorageType, type KV, type NatsConnection } from 'nats';
import { sleep } from '../../async.js';
import { ConfigError } from '../../errors.js';
import type { Lease } from '../lease.js';
import { closeNatsConnection, openNatsConnection, unavailable } from './connection.js';
import { kvKey } from './nats-checkpoints.js';

export type NatsLeaseOptions = Readonly<{
  url: string;
  /** The bucket's TTL is the lease time; one bucket per TTL. @default 'streamfold-leases' */
  bucket?: string;
  /** @default 'relay' */
  name?: string;
  /** How long a dead holder keeps the lease. @default 5_000 */
  ttlMs?: number;
  /** @default `<hostname>:<pid>:<random>` */
  owner?: string;
  /** Told when a renewal or an attempt to acquire fails for a reason other than contention. */
  onError?: (error: unknown) => void;
}>;

export async function createNatsLease(options: NatsLeaseOptions): Promise<Lease> {
  const ttlMs = options.ttlMs ?? 5_000;
  if (!Number.isInteger(ttlMs) || ttlMs < 1_000) {
    throw new ConfigError('Lease ttlMs must be a whole number of at least 1000', { ttlMs });
  }
  const nc = await openNatsConnection({ url: options.url, name: 'streamfold-lease' });
  let kv: KV;
  try {
    kv = await nc.jetstream().views.kv(options.bucket ?? 'streamfold-leases', {
      history: 1,
      ttl: ttlMs,
      storage: StorageType.File,
    });
  } catch (cause) {
    await closeNatsConnection(nc);
    throw unavailable('Could not open the NATS KV bucket for leases', cause);
  }
  const owner = options.owner ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  return new KvLease(nc, kv, kvKey(options.name ?? 'relay'), owner, ttlMs, options.onError);
}

class KvLease implements Lease {
  #held: { revision: number; lost: AbortController; renewing: Promise<void> } | undefined;
  readonly #closing = new AbortController();

  constructor(
    private readonly nc: NatsConnection,
    private readonly kv: KV,
    private readonly key: string,
    readonly owner: string,
    private readonly ttlMs: number,
    private readonly onError: ((error: unknown) => void) | undefined,
  ) {}

  async acquire(signal: AbortSignal): Promise<AbortSignal | undefined> {
    if (this.#held !== undefined) throw new Error('This process already holds the lease');
    const stop = AbortSignal.any([signal, this.#closing.signal]);
    while (!stop.aborted) {
      const revision = await this.#tryCreate();
      if (revision !== undefined) {
        const lost = new AbortController();
        this.#held = { revision, lost, renewing: Promise.resolve() };
        this.#held.renewing = this.#renew(this.#held);
        return lost.signal;
      }
      // Polling is cheap here (one KV read per interval, only on standbys).
      await sleep(Math.max(100, Math.floor(this.ttlMs / 5)), stop);
    }
    return undefined;
  }

  async release(): Promise<void> {
    const held = this.#held;
    if (held === undefined) return;
    held.lost.abort();
    await held.renewing;
    this.#held = undefined;
    try {
      await this.kv.delete(this.key, { previousSeq: held.revision });
    } catch (error) {
      this.onError?.(error); // It expires after the TTL anyway.
    }
  }

  async close(): Promise<void> {
    this.#closing.abort();
    await this.release();
    await closeNatsConnection(this.nc);
  }

  async #tryCreate(): Promise<number | undefined> {
    try {
      return await this.kv.create(this.key, this.owner);
    } catch (error) {
      if (!/wrong last sequence|key exists/i.test(String(error))) this.onError?.(error);
      return undefined;
    }
  }

  /** Renews at a third of the TTL; gives up once a renewal is refused or the TTL is nearly spent. */
  async #renew(held: { revision: number; lost: AbortController }): Promise<void> {
    let confirmedAt = performance.now();
    const interval = Math.floor(this.ttlMs / 3);
    while (!held.lost.signal.aborted) {
      await sleep(interval, held.lost.signal);
      if (held.lost.signal.aborted) return;
      // A renewal that hangs (NATS down) must not keep us past the point a standby may take over.
      const leftMs = confirmedAt + this.ttlMs * 0.7 - performance.now();
      try {
        const update = this.kv.update(this.key, this.owner, held.revision);
        held.revision = await withinMs(update, Math.max(1, leftMs));
        confirmedAt = performance.now();
      } catch (error) {
        const refused = /wrong last sequence/i.test(String(error));
        this.onError?.(error);
        if (refused || performance.now() - confirmedAt > this.ttlMs * 0.7) held.lost.abort();
      }
    }
  }
}

function withinMs<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`lease renewal not confirmed in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
