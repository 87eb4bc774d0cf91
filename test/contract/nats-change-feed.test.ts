import { randomUUID } from 'node:crypto';
import { describe } from 'vitest';
import { createNatsChangeFeed } from '../../src/queries/nats/nats-change-feed.js';
import { NATS_URL, requireService } from '../support/services.js';
import { changeFeedContract } from './change-feed.contract.js';

const ok = await requireService('NATS', NATS_URL, 'NATS change feed contract');

describe.skipIf(!ok)('NATS change feed', () => {
  changeFeedContract('NATS core subjects, two connections', async () => {
    // Subjects unique to the run; core subjects leave nothing behind on the server.
    const subjectPrefix = `sf-test-${randomUUID().slice(0, 8)}.live`;
    const publisher = await createNatsChangeFeed({ url: NATS_URL, subjectPrefix });
    const watcher = await createNatsChangeFeed({ url: NATS_URL, subjectPrefix });
    return {
      publisher,
      watcher,
      teardown: async () => {
        await Promise.all([publisher.close(), watcher.close()]);
      },
    };
  });
});
