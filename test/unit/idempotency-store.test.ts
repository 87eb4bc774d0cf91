import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  ClaimResult,
  IdempotencyStore,
  StoredResponse,
} from '../../src/commands/idempotency-store.js';
import {
  createSqliteIdempotencyStore,
  type SqliteIdempotencyStoreOptions,
} from '../../src/commands/sqlite/sqlite-idempotency-store.js';
import { ClosedError, ConfigError } from '../../src/errors.js';

const TTL = { ttlMs: 10_000 };
const LEASE_MS = 1_000;
const created: StoredResponse = {
  status: 201,
  headers: { 'content-type': 'application/json; charset=utf-8', location: '/v1/products/a' },
  body: '{"sku":"a","revision":0,"position":"1"}',
};

function tokenOf(result: ClaimResult): string {
  if (result.kind !== 'claimed') throw new Error(`expected a claim, got ${result.kind}`);
  return result.token;
}

describe('SQLite idempotency store', () => {
  let dir: string;
  let clock: number;
  const open: IdempotencyStore[] = [];
  const storeAt = (options: Partial<SqliteIdempotencyStoreOptions> = {}): IdempotencyStore => {
    const store = createSqliteIdempotencyStore({
      path: join(dir, 'idempotency.db'),
      leaseMs: LEASE_MS,
      now: () => clock,
      ...options,
    });
    open.push(store);
    return store;
  };

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'streamfold-idempotency-'));
    clock = 1_700_000_000_000;
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((store) => store.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('claims a new key once; the same request meanwhile is in flight', async () => {
    const store = storeAt();
    expect((await store.claim('k', 'fp', TTL)).kind).toBe('claimed');
    expect(await store.claim('k', 'fp', TTL)).toEqual({ kind: 'in-flight' });
  });

  it('reports a different request with a live key as a mismatch, in flight or completed', async () => {
    const store = storeAt();
    const token = tokenOf(await store.claim('k', 'fp', TTL));
    expect(await store.claim('k', 'other', TTL)).toEqual({ kind: 'mismatch' });
    await store.complete('k', token, created);
    expect(await store.claim('k', 'other', TTL)).toEqual({ kind: 'mismatch' });
  });

  it('replays the completed response to the same request', async () => {
    const store = storeAt();
    const token = tokenOf(await store.claim('k', 'fp', TTL));
    expect(await store.complete('k', token, created)).toBe(true);
    expect(await store.claim('k', 'fp', TTL)).toEqual({ kind: 'completed', response: created });
  });

  it('keeps an empty body and no headers as they were', async () => {
    const store = storeAt();
    const token = tokenOf(await store.claim('k', 'fp', TTL));
    const empty: StoredResponse = { status: 204, headers: {}, body: '' };
    await store.complete('k', token, empty);
    expect(await store.claim('k', 'fp', TTL)).toEqual({ kind: 'completed', response: empty });
  });

  it('lets a released key be claimed again, by any request', async () => {
    const store = storeAt();
    const token = tokenOf(await store.claim('k', 'fp', TTL));
    await store.release('k', token);
    expect((await store.claim('k', 'another body', TTL)).kind).toBe('claimed');
  });

  it('forgets a completed key once its TTL, counted from completion, has passed', async () => {
    const store = storeAt();
    const token = tokenOf(await store.claim('k', 'fp', TTL));
    clock += 500;
    await store.complete('k', token, created);
    clock += TTL.ttlMs - 1;
    expect((await store.claim('k', 'fp', TTL)).kind).toBe('completed');
    clock += 1;
    expect((await store.claim('k', 'other', TTL)).kind).toBe('claimed');
  });

  it('frees an in-flight key after its lease, and the stale claim can no longer complete', async () => {
    const store = storeAt();
    const stale = tokenOf(await store.claim('k', 'fp', TTL));
    clock += LEASE_MS - 1;
    expect(await store.claim('k', 'fp', TTL)).toEqual({ kind: 'in-flight' });
    clock += 1;
    const fresh = tokenOf(await store.claim('k', 'fp', TTL));
    expect(await store.complete('k', stale, created)).toBe(false);
    await store.release('k', stale);
    expect(await store.claim('k', 'fp', TTL)).toEqual({ kind: 'in-flight' });
    expect(await store.complete('k', fresh, created)).toBe(true);
    expect((await store.claim('k', 'fp', TTL)).kind).toBe('completed');
  });

  it('does not let a completed key be released', async () => {
    const store = storeAt();
    const token = tokenOf(await store.claim('k', 'fp', TTL));
    await store.complete('k', token, created);
    await store.release('k', token);
    expect((await store.claim('k', 'fp', TTL)).kind).toBe('completed');
  });

  it('keeps answered keys and in-flight claims across a reopen', async () => {
    const first = storeAt();
    const token = tokenOf(await first.claim('done', 'fp', TTL));
    await first.complete('done', token, created);
    tokenOf(await first.claim('crashed', 'fp', TTL));
    await first.close();

    const second = storeAt();
    expect(await second.claim('done', 'fp', TTL)).toEqual({
      kind: 'completed',
      response: created,
    });
    expect(await second.claim('crashed', 'fp', TTL)).toEqual({ kind: 'in-flight' });
    clock += LEASE_MS;
    expect((await second.claim('crashed', 'fp', TTL)).kind).toBe('claimed');
  });

  it('gives exactly one of many racing claims on two connections to one file', async () => {
    const a = storeAt();
    const b = storeAt();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).claim('k', 'fp', TTL)),
    );
    expect(results.filter((r) => r.kind === 'claimed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in-flight')).toHaveLength(19);
  });

  it('purges expired keys in the background without touching live ones', async () => {
    const store = storeAt({ purgeIntervalMs: 20 });
    const token = tokenOf(await store.claim('old', 'fp', TTL));
    await store.complete('old', token, created);
    clock += TTL.ttlMs;
    tokenOf(await store.claim('live', 'fp', TTL));
    const file = new Database(join(dir, 'idempotency.db'), { readonly: true });
    try {
      const keys = file.prepare<[], string>('SELECT key FROM idempotency_keys').pluck();
      await expect.poll(() => keys.all(), { timeout: 10_000, interval: 50 }).toEqual(['live']);
    } finally {
      file.close();
    }
    expect(await store.claim('live', 'fp', TTL)).toEqual({ kind: 'in-flight' });
  });

  it('refuses bad options and use after close', async () => {
    expect(() => createSqliteIdempotencyStore({ path: '' })).toThrow(ConfigError);
    expect(() => storeAt({ leaseMs: 0 })).toThrow(ConfigError);
    const store = storeAt();
    await expect(store.claim('k', 'fp', { ttlMs: -1 })).rejects.toBeInstanceOf(ConfigError);
    await store.close();
    await expect(store.claim('k', 'fp', TTL)).rejects.toBeInstanceOf(ClosedError);
  });
});
