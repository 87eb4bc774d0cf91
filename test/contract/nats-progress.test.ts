/**
 * Projection progress across processes over core NATS: announcers (projector processes) tell
 * their partitions' progress, a reader (an API process) takes the minimum per projection.
 * Each test uses a subject unique to the run.
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createNatsProgress,
  startProgressAnnouncer,
  type NatsProgress,
  type PartitionProgress,
  type Stoppable,
} from '../../src/streams/nats/nats-progress.js';
import { NATS_URL, requireService } from '../support/services.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS progress tests');
const run = randomUUID().slice(0, 8);
const at = (n: number): string => String(n).padStart(20, '0');
let subjects = 0;

describe.skipIf(!ok)('projection progress over NATS', () => {
  const closing: (NatsProgress | Stoppable)[] = [];
  afterEach(async () => {
    for (const item of closing.splice(0).reverse()) {
      await ('stop' in item ? item.stop() : item.close());
    }
  });

  /** A reader of 4 partitions and two announcers owning partitions 0,1 and 2,3. */
  async function setUp() {
    const subject = `sf-test.${run}.${subjects++}.progress`;
    const reader = await createNatsProgress({ url: NATS_URL, subject, partitions: 4 });
    closing.push(reader);
    const owned: [PartitionProgress[], PartitionProgress[]] = [
      [0, 1].map((partition) => ({ projection: 'order-view', partition, position: undefined })),
      [2, 3].map((partition) => ({ projection: 'order-view', partition, position: undefined })),
    ];
    for (const entries of owned) {
      const announcer = await startProgressAnnouncer({
        url: NATS_URL,
        subject,
        read: () => entries,
        checkIntervalMs: 10,
      });
      closing.push(announcer);
    }
    const set = (partition: number, n: number): void => {
      const entries = owned[partition < 2 ? 0 : 1];
      const index = entries.findIndex((entry) => entry.partition === partition);
      entries[index] = { projection: 'order-view', partition, position: at(n) };
    };
    return { reader, set, subject };
  }

  it('is the minimum over all partitions, and unknown until every partition has reported', async () => {
    const { reader, set } = await setUp();
    set(0, 40);
    set(1, 10);
    set(2, 30);
    expect(await reader.waitFor('order-view', at(1), 300)).toBe(false); // partition 3 is silent
    expect(reader.position('order-view')).toBeUndefined();

    set(3, 20);
    expect(await reader.waitFor('order-view', at(10), 10_000)).toBe(true);
    expect(reader.position('order-view')).toBe(at(10));
    expect(reader.snapshot()['order-view']?.partitions).toEqual({
      0: at(40),
      1: at(10),
      2: at(30),
      3: at(20),
    });
  });

  it('resolves a wait as soon as the slowest partition announces the position', async () => {
    const { reader, set } = await setUp();
    for (const partition of [0, 1, 2, 3]) set(partition, 5);
    expect(await reader.waitFor('order-view', at(5), 10_000)).toBe(true);

    const waiting = reader.waitFor('order-view', at(50), 20_000);
    for (const partition of [0, 1, 3]) set(partition, 60);
    set(2, 49);
    set(2, 55);
    expect(await waiting).toBe(true);
    expect(reader.position('order-view')).toBe(at(55));
  });

  it('times out when the position is not reached, and never reports a position moving back', async () => {
    const { reader, set } = await setUp();
    for (const partition of [0, 1, 2, 3]) set(partition, 8);
    expect(await reader.waitFor('order-view', at(8), 10_000)).toBe(true);
    set(1, 3); // a stale announcement, e.g. from a projector restarted on an old checkpoint

    const started = performance.now();
    expect(await reader.waitFor('order-view', at(9), 400)).toBe(false);
    expect(performance.now() - started).toBeGreaterThanOrEqual(350);
    expect(reader.position('order-view')).toBe(at(8));
    expect(reader.position('customer-orders')).toBeUndefined();
  });

  it('ignores messages on the subject that are not progress announcements', async () => {
    const { reader, set, subject } = await setUp();
    const nc = await connect({ servers: NATS_URL });
    for (const junk of ['not json', '{"projection":"order-view"}', '[{"partition":"x"}]', 'null']) {
      nc.publish(subject, new TextEncoder().encode(junk));
    }
    await nc.flush();
    await nc.close();
    for (const partition of [0, 1, 2, 3]) set(partition, 12);
    expect(await reader.waitFor('order-view', at(12), 10_000)).toBe(true);
  });
});
