import { describe, expect, it } from 'vitest';
import type { DocumentChange } from '../../src/queries/change-feed.js';
import { createWatcherHub, topicOf, type WatcherHub } from '../../src/queries/live/watchers.js';

const pos = (n: number): string => String(n).padStart(20, '0');
const change = (n: number, id = 'a'): DocumentChange => ({
  collection: 'c_v1',
  id,
  position: pos(n),
  body: `{"n":${n}}`,
});

function iterate(hub: WatcherHub, id: string, signal: AbortSignal): AsyncIterator<DocumentChange> {
  return hub.watch(topicOf('c_v1', id), signal)[Symbol.asyncIterator]();
}

const positionOf = async (next: Promise<IteratorResult<DocumentChange>>) => {
  const result = await next;
  return result.done === true ? undefined : result.value.position;
};

describe('watcher hub', () => {
  it('a watcher that keeps up gets every change, in order', async () => {
    const hub = createWatcherHub();
    const stop = new AbortController();
    const iterator = iterate(hub, 'a', stop.signal);
    const first = iterator.next();
    const seen: string[] = [];
    hub.deliver(change(1));
    seen.push((await positionOf(first))!);
    for (let n = 2; n <= 5; n++) {
      hub.deliver(change(n));
      hub.deliver(change(n, 'other'));
      seen.push((await positionOf(iterator.next()))!);
    }
    expect(seen).toEqual([1, 2, 3, 4, 5].map(pos));
    stop.abort();
    expect((await iterator.next()).done).toBe(true);
    expect(hub.topics()).toBe(0);
  });

  it('a slow watcher is bounded: its queue collapses, and it still ends at the latest', async () => {
    const hub = createWatcherHub({ maxQueued: 4 });
    const stop = new AbortController();
    const iterator = iterate(hub, 'a', stop.signal);
    const first = iterator.next(); // registers the watcher
    hub.deliver(change(1));
    await first;
    for (let n = 2; n <= 1000; n++) hub.deliver(change(n));
    const rest: number[] = [];
    for (;;) {
      const next = await Promise.race([
        iterator.next(),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 50)),
      ]);
      if (next === undefined || next.done === true) break;
      rest.push(Number(next.value.position));
    }
    expect(rest.length).toBeLessThanOrEqual(4);
    expect(rest.at(-1)).toBe(1000);
    expect([...rest].sort((a, b) => a - b)).toEqual(rest);
    stop.abort();
  });

  it('ignores a late, older change', async () => {
    const hub = createWatcherHub();
    const stop = new AbortController();
    const iterator = iterate(hub, 'a', stop.signal);
    const first = iterator.next();
    hub.deliver(change(5));
    hub.deliver(change(3));
    hub.deliver(change(6));
    expect(await positionOf(first)).toBe(pos(5));
    expect(await positionOf(iterator.next())).toBe(pos(6));
    stop.abort();
  });

  it('close ends every watch and tells the transport the topics are gone', async () => {
    const left: string[] = [];
    const hub = createWatcherHub({ onLast: (topic) => left.push(topic) });
    const watches = ['a', 'b'].map((id) => iterate(hub, id, new AbortController().signal));
    const pending = watches.map((iterator) => iterator.next());
    hub.close();
    expect((await Promise.all(pending)).every((result) => result.done === true)).toBe(true);
    expect(left.sort()).toEqual([topicOf('c_v1', 'a'), topicOf('c_v1', 'b')]);
  });
});
