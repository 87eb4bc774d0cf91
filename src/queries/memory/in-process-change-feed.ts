/**
 * The embedded ChangeFeed: projectors and watchers share one process, so a change goes straight
 * to the local watchers.
 */
import { ClosedError } from '../../errors.js';
import type { ChangeFeed } from '../change-feed.js';
import { createWatcherHub, topicOf, type WatcherHubOptions } from '../live/watchers.js';

export type InProcessChangeFeedOptions = Pick<WatcherHubOptions, 'maxQueued'>;

export function createInProcessChangeFeed(options: InProcessChangeFeedOptions = {}): ChangeFeed {
  const hub = createWatcherHub(options);
  let closed = false;
  return {
    publish(changes) {
      if (closed) return Promise.reject(new ClosedError('In-process change feed'));
      for (const change of changes) hub.deliver(change);
      return Promise.resolve();
    },
    subscribe(collection, id, { signal }) {
      if (closed) throw new ClosedError('In-process change feed');
      const changes = hub.watch(topicOf(collection, id), signal);
      return Object.assign(changes, { ready: Promise.resolve() });
    },
    close() {
      closed = true;
      hub.close();
      return Promise.resolve();
    },
  };
}
