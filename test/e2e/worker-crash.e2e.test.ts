import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { settledOrder } from '../support/checkout-scenario.js';
import { post } from '../support/http.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';
import { startWebhookReceiver } from '../support/webhook-receiver.js';

describe('the worker killed with SIGKILL mid-run', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it(
    'settles every order exactly once after a restart, reserving and notifying once',
    { timeout: 180_000 },
    async () => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-worker-kill-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const webhook = await startWebhookReceiver();
      cleanups.push(() => webhook.close());
      const env = {
        STREAMFOLD_DATA_DIR: dataDir,
        STREAMFOLD_NOTIFIER_URL: webhook.url,
      };
      const track = (server: ServerProcess) => {
        cleanups.push(async () => void (await server.kill('SIGKILL')));
        return server;
      };

      const first = track(await startServerProcess(env));
      const skus = ['k1', 'k2', 'k3'];
      for (const sku of skus)
        await post(first.url, '/v1/products', {
          sku,
          name: sku,
          priceCents: 10,
          initialStock: 100,
        });
      const orders = Array.from({ length: 150 }, (_, i) => ({
        orderId: `kill-${i}`,
        customerId: `c${i % 5}`,
        items: [{ sku: skus[i % 3] ?? 'k1', quantity: 1 + (i % 2) }],
      }));
      const placed = await Promise.all(orders.map((order) => post(first.url, '/v1/orders', order)));
      expect(placed.every((response) => response.status === 202)).toBe(true);
      // Kill while the workflow is part-way through the backlog.
      while (webhook.accepted.length < 10) await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
      const sentBeforeKill = webhook.accepted.length;
      expect(sentBeforeKill).toBeLessThan(150);

      const second = track(await startServerProcess(env));
      for (const { orderId } of orders) {
        expect(['confirmed', 'rejected']).toContain(
          (await settledOrder(second.url, orderId, 30_000)).status,
        );
      }
      await second.kill('SIGTERM');

      const store = createSqliteEventStore({ path: path.join(dataDir, 'events.db') });
      cleanups.push(() => store.close());
      for (const { orderId } of orders) {
        const events = await store.readStream(`order-${orderId}`);
        const outcomes = events.filter(
          (e) => e.type === 'OrderConfirmed' || e.type === 'OrderRejected',
        );
        expect(outcomes, orderId).toHaveLength(1);
      }
      for (const sku of skus) {
        const reservations = (await store.readStream(`product-${sku}`)).filter(
          (e) => e.type === 'StockReserved',
        );
        const orderIds = reservations.map((e) => e.data.orderId as string);
        expect(new Set(orderIds).size).toBe(orderIds.length);
      }
      // Every notification went out; a receiver that honours Idempotency-Key sees each once.
      // A send that was answered in the instant before the kill but not yet recorded is sent
      // again after the restart (at least once): at most the sends that were in flight.
      expect(new Set(webhook.accepted).size).toBe(150);
      const repeats = webhook.accepted.length - 150;
      expect(repeats).toBeLessThanOrEqual(16);
      for (const { orderId } of orders) {
        const outbox = await store.readStream(`notification-${orderId}`);
        expect(outbox.filter((e) => e.type === 'NotificationRequested')).toHaveLength(1);
        expect(outbox.filter((e) => e.type === 'NotificationSent')).toHaveLength(1);
      }
    },
  );
});
