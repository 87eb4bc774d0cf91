import { createInProcessChangeFeed } from '../../src/queries/memory/in-process-change-feed.js';
import { changeFeedContract } from './change-feed.contract.js';

changeFeedContract('in-process', () => {
  const feed = createInProcessChangeFeed();
  return Promise.resolve({ publisher: feed, watcher: feed, teardown: () => feed.close() });
});
