/**
 * Local fan-out of document changes to the watchers in this process, shared by every
 * ChangeFeed adapter. Each watcher has a small queue; when it fills (the watcher is slower than
 * the document changes), the queue collapses to the newest change. A watcher always ends up
 * with the latest version, and memory per watcher stays bounded.
 */
import { isAfter } from '../../streams/position.js';
import type { DocumentChange } from '../change-feed.js';

type Watcher = {
  queue: DocumentChange[];
  wake: (() => void) | undefined;
};

export type WatcherHub = Readonly<{
  /** Hands a change to every watcher of its document. */
  deliver(change: DocumentChange): void;
  /** Follows one topic (see `topicOf`) until `signal` aborts or the hub closes. */
  watch(topic: string, signal: AbortSignal): AsyncIterable<DocumentChange>;
  topics(): number;
  /** Ends every watch. */
  close(): void;
}>;

export type WatcherHubOptions = Readonly<{
  /** Changes queued per watcher before the queue collapses to the newest. @default 16 */
  maxQueued?: number;
  /** Called when the first watcher of a topic arrives. */
  onFirst?: (topic: string) => void;
  /** Called when the last watcher of a topic leaves. */
  onLast?: (topic: string) => void;
}>;

export function topicOf(collection: string, id: string): string {
  return `${collection}\u0000${id}`;
}

export function createWatcherHub(options: WatcherHubOptions = {}): WatcherHub {
  const maxQueued = options.maxQueued ?? 16;
  const byTopic = new Map<string, Set<Watcher>>();
  // A flag rather than a shared AbortSignal: thousands of watchers listening on one signal
  // would each add a listener to it.
  let closed = false;

  function enqueue(watcher: Watcher, change: DocumentChange): void {
    const last = watcher.queue.at(-1);
    // A redelivered or late, older change adds nothing: the watcher has a newer one coming.
    if (last !== undefined && !isAfter(change.position, last.position)) return;
    if (watcher.queue.length >= maxQueued) watcher.queue.length = 0;
    watcher.queue.push(change);
    watcher.wake?.();
  }

  function join(topic: string, watcher: Watcher): void {
    let watchers = byTopic.get(topic);
    if (watchers === undefined) {
      watchers = new Set();
      byTopic.set(topic, watchers);
      options.onFirst?.(topic);
    }
    watchers.add(watcher);
  }

  function leave(topic: string, watcher: Watcher): void {
    const watchers = byTopic.get(topic);
    if (watchers === undefined || !watchers.delete(watcher) || watchers.size > 0) return;
    byTopic.delete(topic);
    options.onLast?.(topic);
  }

  /** Registers at once, so changes delivered before the first `next()` are not lost. */
  function watch(topic: string, signal: AbortSignal): AsyncIterable<DocumentChange> {
    const watcher: Watcher = { queue: [], wake: undefined };
    const onStop = () => {
      leave(topic, watcher);
      watcher.wake?.();
    };
    join(topic, watcher);
    signal.addEventListener('abort', onStop, { once: true });
    if (signal.aborted) onStop();
    async function* follow(): AsyncGenerator<DocumentChange> {
      try {
        while (!signal.aborted && !closed) {
          const next = watcher.queue.shift();
          if (next !== undefined) {
            yield next;
            continue;
          }
          await new Promise<void>((resolve) => (watcher.wake = resolve));
          watcher.wake = undefined;
        }
      } finally {
        signal.removeEventListener('abort', onStop);
        leave(topic, watcher);
      }
    }
    return { [Symbol.asyncIterator]: follow };
  }

  return {
    deliver(change) {
      const watchers = byTopic.get(topicOf(change.collection, change.id));
      for (const watcher of watchers ?? []) enqueue(watcher, change);
    },
    watch,
    topics: () => byTopic.size,
    close() {
      closed = true;
      for (const watchers of byTopic.values()) for (const watcher of watchers) watcher.wake?.();
    },
  };
}
