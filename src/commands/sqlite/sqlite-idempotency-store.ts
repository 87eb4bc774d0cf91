/**
 * The embedded IdempotencyStore: one SQLite table in its own file, WAL, every commit fsynced,
 * so an answered key survives a crash or restart. Several processes may share the file: a
 * claim is one IMMEDIATE transaction, which SQLite serialises across connections.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { ClosedError, ConfigError } from '../../errors.js';
import type {
  ClaimOptions,
  ClaimResult,
  IdempotencyStore,
  StoredResponse,
} from '../idempotency-store.js';

export type SqliteIdempotencyStoreOptions = Readonly<{
  /** The database file, created with its parent directory when missing, or `':memory:'`. */
  path: string;
  /**
   * How long an unanswered claim holds its key. A process that dies mid-request leaves its
   * claim behind; after the lease the key can be claimed again, so a client is never locked
   * out for good. Longer than any command takes, so a live request keeps its key. @default 60_000
   */
  leaseMs?: number;
  /** How often expired keys are deleted; claims ignore them in between. @default 60_000 */
  purgeIntervalMs?: number;
  /** How long a write waits for another process holding the file's lock. @default 5_000 */
  busyTimeoutMs?: number;
  /** The clock, in epoch milliseconds; tests move it to expire keys. @default Date.now */
  now?: () => number;
}>;

// `expires_at` is the lease end while a key is in flight and the retention end once it is
// completed; a row past it is as good as absent, whatever its state.
const DDL = `
  CREATE TABLE IF NOT EXISTS idempotency_keys (
    key         TEXT    PRIMARY KEY,
    fingerprint TEXT    NOT NULL,
    token       TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN ('in-flight', 'completed')),
    ttl_ms      INTEGER NOT NULL,
    status      INTEGER,
    headers     TEXT,
    body        TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys (expires_at);
`;

type Row = {
  fingerprint: string;
  state: 'in-flight' | 'completed';
  status: number | null;
  headers: string | null;
  body: string | null;
  expires_at: number;
};

/** Bounds one purge transaction, so a backlog never holds the write lock for long. */
const PURGE_BATCH = 1000;
const NAME = 'SQLite idempotency store';

export function createSqliteIdempotencyStore(
  options: SqliteIdempotencyStoreOptions,
): IdempotencyStore {
  const { path, leaseMs, purgeIntervalMs, busyTimeoutMs, now } = validateOptions(options);
  const db = openDatabase(path, busyTimeoutMs);
  const select = db.prepare<[string], Row>(
    'SELECT fingerprint, state, status, headers, body, expires_at FROM idempotency_keys WHERE key = ?',
  );
  const upsert = db.prepare<[string, string, string, number, number, number]>(
    `INSERT OR REPLACE INTO idempotency_keys
       (key, fingerprint, token, state, ttl_ms, created_at, expires_at)
     VALUES (?, ?, ?, 'in-flight', ?, ?, ?)`,
  );
  const finish = db.prepare<[number, string, string, number, string, string]>(
    `UPDATE idempotency_keys
        SET state = 'completed', status = ?, headers = ?, body = ?, expires_at = ? + ttl_ms
      WHERE key = ? AND token = ? AND state = 'in-flight'`,
  );
  const drop = db.prepare<[string, string]>(
    `DELETE FROM idempotency_keys WHERE key = ? AND token = ? AND state = 'in-flight'`,
  );
  const purge = db.prepare<[number, number]>(
    `DELETE FROM idempotency_keys WHERE key IN
       (SELECT key FROM idempotency_keys WHERE expires_at <= ? LIMIT ?)`,
  );

  const claimTx = db.transaction((key: string, fingerprint: string, ttlMs: number): ClaimResult => {
    const at = now();
    const row = select.get(key);
    if (row !== undefined && row.expires_at > at) return holder(row, fingerprint);
    const token = randomUUID();
    upsert.run(key, fingerprint, token, ttlMs, at, at + leaseMs);
    return { kind: 'claimed', token };
  });

  let closed = false;
  const timer = setInterval(() => purgeExpired(), purgeIntervalMs);
  // The timer only tidies the file; it must not keep a process alive that is otherwise done.
  timer.unref();

  function purgeExpired(): void {
    if (closed) return;
    try {
      while (purge.run(now(), PURGE_BATCH).changes === PURGE_BATCH && !closed);
    } catch {
      // A busy or failing purge is retried on the next tick; expired rows are ignored anyway.
    }
  }

  function run<T>(work: () => T): Promise<T> {
    if (closed) return Promise.reject(new ClosedError(NAME));
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  return {
    claim: (key, fingerprint, claimOptions: ClaimOptions) =>
      run(() => claimTx.immediate(key, fingerprint, validTtl(claimOptions.ttlMs))),
    complete: (key, token, response: StoredResponse) =>
      run(() => {
        const headers = JSON.stringify(response.headers);
        return finish.run(response.status, headers, response.body, now(), key, token).changes > 0;
      }),
    release: (key, token) =>
      run(() => {
        drop.run(key, token);
      }),
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      clearInterval(timer);
      db.close();
      return Promise.resolve();
    },
  };
}

function holder(row: Row, fingerprint: string): ClaimResult {
  if (row.fingerprint !== fingerprint) return { kind: 'mismatch' };
  if (row.state === 'in-flight') return { kind: 'in-flight' };
  const headers = JSON.parse(row.headers ?? '{}') as Record<string, string>;
  return {
    kind: 'completed',
    response: { status: row.status ?? 0, headers, body: row.body ?? '' },
  };
}

function openDatabase(path: string, busyTimeoutMs: number): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { timeout: busyTimeoutMs });
  try {
    // FULL fsyncs every commit: a response the client saw must still be on record after a
    // power loss, or its retry would run the command a second time.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec(DDL);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

function validateOptions(options: SqliteIdempotencyStoreOptions) {
  if (typeof options.path !== 'string' || options.path === '') {
    throw new ConfigError('The SQLite idempotency store needs a file path or ":memory:"');
  }
  return Object.freeze({
    path: options.path,
    leaseMs: positive(options.leaseMs ?? 60_000, 'leaseMs'),
    purgeIntervalMs: positive(options.purgeIntervalMs ?? 60_000, 'purgeIntervalMs'),
    busyTimeoutMs: positive(options.busyTimeoutMs ?? 5_000, 'busyTimeoutMs'),
    now: options.now ?? Date.now,
  });
}

function validTtl(ttlMs: number): number {
  return positive(ttlMs, 'ttlMs');
}

function positive(value: number, name: string): number {
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new ConfigError(`${name} must be a positive whole number of milliseconds`, {
    [name]: value,
  });
}
