/**
 * The ChangeFeed contract: every adapter runs these assertions through the port alone. The
 * factory gives two feeds, a publisher's and a watcher's, which for a distributed adapter are
 * separate connections, as in separate processes.
 */
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ClosedError } from '../../src/errors.js';
import type { ChangeFeed, DocumentChange } from '../../src/queries/change-feed.js';

export type ChangeFeedFactory = () => Promise<{
  publisher: ChangeFeed;
  watcher: ChangeFeed;
  teardown: () => Promise<void>;
}>;

const pos = (n: number): string => String(n).padStart(20, '0');

/** Takes changes until one at `last` arrives, or fails after `timeoutMs`. */
async function takeUntil(
  iterator: AsyncIterator<DocumentChange>,
  last: string,
  timeoutMs = 10_000,
): Promise<DocumentChange[]> {
  const taken: DocumentChange[] = [];
  const deadline = Date.now() + timeoutMs;
  while (taken.at(-1)?.position !== last) {
    const timeout = new Promise<'timeout'>((resolve) =>
      setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now())),
    );
    const next = await Promise.race([iterator.next(), timeout]);
    if (next === 'timeout' || next.done === true) throw new Error(`no change at ${last} came`);
    taken.push(next.value);
  }
  return taken;
}

export function changeFeedContract(name: string, factory: ChangeFeedFactory): void {
  describe(`ChangeFeed contract: ${name}`, () => {
    let publisher: ChangeFeed;
    let watcher: ChangeFeed;
    let teardown: () => Promise<void>;
    let collection: string;
    const change = (id: string, n: number, body: string | null = `{"n":${n}}`) => ({
      collection,
      id,
      position: pos(n),
      body,
    });

    beforeEach(async () => {
      ({ publisher, watcher, teardown } = await factory());
      collection = `c_${randomUUID().slice(0, 8)}_v1`;
    });
    afterEach(async () => {
      await teardown();
    });

    it('delivers the changes of the watched document only, in order, bodies included', async () => {
      const stop = new AbortController();
      const subscription = watcher.subscribe(collection, 'a.1', { signal: stop.signal });
      await subscription.ready;
      const iterator = subscription[Symbol.asyncIterator]();
      await publisher.publish([change('a.1', 1), change('b', 2)]);
      await publisher.publish([change('a.1', 3, null)]);
      const taken = await takeUntil(iterator, pos(3));
      expect(taken).toEqual([change('a.1', 1), change('a.1', 3, null)]);
      stop.abort();
    });

    it('every watcher of a document gets its changes', async () => {
      const stop = new AbortController();
      const subscriptions = [1, 2].map(() =>
        watcher.subscribe(collection, 'a', { signal: stop.signal }),
      );
      await Promise.all(subscriptions.map((subscription) => subscription.ready));
      await publisher.publish([change('a', 5)]);
      for (const subscription of subscriptions) {
        const taken = await takeUntil(subscription[Symbol.asyncIterator](), pos(5));
        expect(taken).toEqual([change('a', 5)]);
      }
      stop.abort();
    });

    it('a watcher that falls behind ends at the latest version, in order, with bounded memory', async () => {
      const stop = new AbortController();
      const subscription = watcher.subscribe(collection, 'a', { signal: stop.signal });
      await subscription.ready;
      for (let n = 1; n <= 500; n++) await publisher.publish([change('a', n)]);
      const taken = await takeUntil(subscription[Symbol.asyncIterator](), pos(500));
      expect(taken.length).toBeLessThan(500);
      const positions = taken.map((c) => c.position);
      expect([...positions].sort()).toEqual(positions);
      stop.abort();
    });

    it('aborting the signal ends the iteration', async () => {
      const stop = new AbortController();
      const iterator = watcher
        .subscribe(collection, 'a', { signal: stop.signal })
        [Symbol.asyncIterator]();
      const next = iterator.next();
      stop.abort();
      expect((await next).done).toBe(true);
    });

    it('rejects publishing after close with ClosedError', async () => {
      await publisher.close();
      await expect(publisher.publish([change('a', 1)])).rejects.toThrow(ClosedError);
    });
  });
}
