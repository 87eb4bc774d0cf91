/**
 * The relay lease on the shared NATS: one holder at a time, standbys wait, a holder notices when
 * the lease is taken from it, and a holder that dies (stops renewing) is replaced within the TTL.
 * Each test uses a bucket of its own, destroyed afterwards.
 */
import { randomUUID } from 'node:crypto';
import { connect, StorageType, type NatsConnection } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import type { Lease } from '../../src/streams/lease.js';
import { createNatsLease } from '../../src/streams/nats/nats-lease.js';
import { NATS_URL, requireService } from '../support/services.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS KV lease tests');
const run = randomUUID().slice(0, 8);
const TTL_MS = 2_000;
let buckets = 0;

describe.skipIf(!ok)('NATS KV lease', () => {
  const leases: Lease[] = [];
  const used: string[] = [];
  const controllers: AbortController[] = [];

  async function contender(bucket: string, owner: string): Promise<Lease> {
    const lease = await createNatsLease({ url: NATS_URL, bucket, ttlMs: TTL_MS, owner });
    leases.push(lease);
    return lease;
  }

  function freshBucket(): string {
    const bucket = `sf-lease-${run}-${buckets++}`;
    used.push(bucket);
    return bucket;
  }

  function signal(): AbortSignal {
    const controller = new AbortController();
    controllers.push(controller);
    return controller.signal;
  }

  afterEach(async () => {
    for (const controller of controllers.splice(0)) controller.abort();
    for (const lease of leases.splice(0)) await lease.close();
    await withConnection(async (nc) => {
      const jsm = await nc.jetstreamManager();
      for (const bucket of used.splice(0)) await jsm.streams.delete(`KV_${bucket}`).catch(() => 0);
    });
  });

  it('has one holder at a time; a contender waits until the holder releases', async () => {
    const bucket = freshBucket();
    const first = await contender(bucket, 'first');
    const second = await contender(bucket, 'second');
    const held = await first.acquire(signal());
    expect(held?.aborted).toBe(false);

    let secondHeld: AbortSignal | undefined;
    const waiting = second.acquire(signal()).then((lost) => (secondHeld = lost));
    // Well past the TTL: the holder keeps renewing, so the contender keeps waiting.
    await delay(TTL_MS * 2);
    expect(secondHeld).toBeUndefined();
    expect(held?.aborted).toBe(false);

    const releasedAt = performance.now();
    await first.release();
    await waiting;
    expect(secondHeld?.aborted).toBe(false);
    expect(performance.now() - releasedAt).toBeLessThan(TTL_MS); // no need to wait for the TTL
    expect(held?.aborted).toBe(true);
    expect(await ownerIn(bucket)).toBe('second');
  });

  it('gives up waiting when its signal aborts', async () => {
    const bucket = freshBucket();
    const holder = await contender(bucket, 'holder');
    await holder.acquire(signal());
    const standby = await contender(bucket, 'standby');
    const result = await standby.acquire(AbortSignal.timeout(500));
    expect(result).toBeUndefined();
  });

  it('tells the holder at its next renewal that the lease was taken from it', async () => {
    const bucket = freshBucket();
    const holder = await contender(bucket, 'holder');
    const held = await holder.acquire(signal());
    // An operator (or a split brain) overwrites the key: the holder's revision is stale now.
    await withConnection(async (nc) => {
      const kv = await nc.jetstream().views.kv(bucket);
      await kv.put('relay', 'someone-else');
    });
    await untilAborted(held, TTL_MS * 3);
    expect(held?.aborted).toBe(true);
    expect(await ownerIn(bucket)).toBe('someone-else');
  });

  it('lets a standby take over within the TTL after the holder stops renewing', async () => {
    const bucket = freshBucket();
    // A holder that wrote once and died: nobody renews the key.
    await withConnection(async (nc) => {
      const kv = await nc
        .jetstream()
        .views.kv(bucket, { history: 1, ttl: TTL_MS, storage: StorageType.File });
      await kv.create('relay', 'dead-holder');
    });
    const diedAt = performance.now();
    const standby = await contender(bucket, 'standby');
    const held = await standby.acquire(signal());
    const tookMs = performance.now() - diedAt;
    expect(held?.aborted).toBe(false);
    expect(await ownerIn(bucket)).toBe('standby');
    // The TTL, plus the server's expiry sweep and one poll interval, with room for a busy machine.
    expect(tookMs).toBeLessThan(TTL_MS + 3_000);
  });

  it('lets a standby take over after the holder dies with its connection', async () => {
    const bucket = freshBucket();
    const holder = await createNatsLease({ url: NATS_URL, bucket, ttlMs: TTL_MS, owner: 'h' });
    await holder.acquire(signal());
    const standby = await contender(bucket, 'standby');
    const acquiring = standby.acquire(signal());
    // Closing without releasing, as a crash would: the key stays until it ages out.
    await abandon(holder);
    const diedAt = performance.now();
    const held = await acquiring;
    expect(held?.aborted).toBe(false);
    expect(await ownerIn(bucket)).toBe('standby');
    expect(performance.now() - diedAt).toBeLessThan(TTL_MS + 3_000);
  });
});

/**
 * Stops a lease the way a killed process would: its connection goes, so renewals stop, and the
 * key is not deleted. The connection is private to the lease; the test reaches in for it.
 */
async function abandon(lease: Lease): Promise<void> {
  await (lease as unknown as { nc: NatsConnection }).nc.close();
}

async function ownerIn(bucket: string): Promise<string | undefined> {
  return withConnection(async (nc) => {
    const kv = await nc.jetstream().views.kv(bucket);
    const entry = await kv.get('relay');
    return entry === null || entry.operation !== 'PUT' ? undefined : entry.string();
  });
}

async function withConnection<T>(use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: NATS_URL });
  try {
    return await use(nc);
  } finally {
    await nc.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function untilAborted(signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    if (signal === undefined || signal.aborted) return resolve();
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
