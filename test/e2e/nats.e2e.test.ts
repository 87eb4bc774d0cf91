/**
 * The distributed pipeline: an API process, a relay and projector processes, over NATS
 * JetStream, each a separate child process.
 */
import { describe, vi } from 'vitest';
import { checkoutScenario } from '../support/checkout-scenario.js';
import { startNatsCluster } from '../support/nats-cluster.js';
import { NATS_URL, requireService } from '../support/services.js';

// Four child processes start on a shared 2-core machine.
vi.setConfig({ hookTimeout: 120_000, testTimeout: 60_000 });

const ok = await requireService('NATS', NATS_URL, 'the NATS end-to-end suite');

describe.skipIf(!ok)('distributed over NATS JetStream', () => {
  checkoutScenario('api, relay and two projector processes over NATS JetStream', async () => {
    const cluster = await startNatsCluster({
      natsUrl: NATS_URL,
      projectorPartitions: ['0,1', '2,3'],
    });
    return { url: cluster.api.url, stop: () => cluster.dispose() };
  });
});
