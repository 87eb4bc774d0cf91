/**
 * The Lease port: at most one holder at a time among processes that compete for a role (the
 * relay). Adapter: `nats/nats-lease.ts` (a NATS KV key with a TTL).
 */

export interface Lease {
  /** Who this process is, as stored in the lease. */
  readonly owner: string;
  /**
   * Resolves once this process holds the lease, with a signal that aborts when it is lost
   * (renewal rejected or not confirmed in time); resolves undefined when `signal` aborts first.
   */
  acquire(signal: AbortSignal): Promise<AbortSignal | undefined>;
  /** Gives the lease up at once, so a standby need not wait for the TTL. */
  release(): Promise<void>;
  close(): Promise<void>;
}
