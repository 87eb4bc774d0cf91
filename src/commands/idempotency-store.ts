/**
 * The IdempotencyStore port: remembers, per `Idempotency-Key`, which request claimed the key
 * and the response it got, so that a retried command is answered from memory instead of being
 * decided again. Adapters: `sqlite/` (embedded). The HTTP side lives in `src/http/idempotency.ts`.
 */

/** A response as it was sent, kept to be replayed byte for byte. */
export type StoredResponse = Readonly<{
  status: number;
  /** Only the headers worth replaying (lower-case names), never hop-by-hop ones. */
  headers: Readonly<Record<string, string>>;
  /** The serialised body as sent; empty when the response had none. */
  body: string;
}>;

export type ClaimResult =
  /** The caller owns the key now; it must `complete` or `release` it with `token`. */
  | Readonly<{ kind: 'claimed'; token: string }>
  /** Another request with the same key and fingerprint is still being handled. */
  | Readonly<{ kind: 'in-flight' }>
  /** The key is live but was first used for a different request (fingerprint). */
  | Readonly<{ kind: 'mismatch' }>
  /** The key has been answered already; replay `response`. */
  | Readonly<{ kind: 'completed'; response: StoredResponse }>;

export type ClaimOptions = Readonly<{
  /** How long a completed key is kept, counted from its completion. */
  ttlMs: number;
}>;

export interface IdempotencyStore {
  /**
   * Atomically claims `key` for a request whose identity is `fingerprint`, or reports what
   * holds the key. An expired key (completed longer than its TTL ago, or an in-flight claim
   * whose lease ran out because its process died) is claimed as if it were new.
   */
  claim(key: string, fingerprint: string, options: ClaimOptions): Promise<ClaimResult>;

  /**
   * Records the response of the claim `token` holds. Resolves false, storing nothing, when
   * that claim is no longer the key's owner (its lease ran out and another request took it).
   */
  complete(key: string, token: string, response: StoredResponse): Promise<boolean>;

  /** Forgets the claim `token` holds, so the client may retry (after a 5xx). */
  release(key: string, token: string): Promise<void>;

  close(): Promise<void>;
}
