import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { get, post } from '../support/http.js';
import { startServerProcess, type ServerProcess } from '../support/server-process.js';

describe('durability of acknowledged commands', () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function tempDataDir(): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'streamfold-kill-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return dir;
  }

  function track(server: ServerProcess): ServerProcess {
    cleanups.push(async () => {
      await server.kill('SIGKILL');
    });
    return server;
  }

  it(
    'keeps every acknowledged event and its read-model effect across kill -9',
    { timeout: 120_000 },
    async () => {
      const dataDir = tempDataDir();
      const first = track(await startServerProcess({ STREAMFOLD_DATA_DIR: dataDir }));
      const product = await post(first.url, '/v1/products', {
        sku: 'widget',
        name: 'Widget',
        priceCents: 500,
        initialStock: 1000,
      });
      expect(product.status).toBe(201);

      // Fire a burst of orders and kill the server the moment the last answer arrives.
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          post(first.url, '/v1/orders', {
            orderId: `kill-${i}`,
            customerId: `c-${i % 7}`,
            items: [{ sku: 'widget', quantity: 1 + (i % 3) }],
          }),
        ),
      );
      const exit = await first.kill('SIGKILL');
      expect(exit.signal).toBe('SIGKILL');
      const acknowledged = results
        .filter((r) => r.status === 202)
        .map((r) => r.body as { orderId: string; position: string });
      expect(acknowledged.length).toBe(60);
      const highest =
        acknowledged
          .map((a) => a.position)
          .sort()
          .at(-1) ?? '';

      const second = track(await startServerProcess({ STREAMFOLD_DATA_DIR: dataDir }));
      for (const { orderId } of acknowledged) {
        const order = await get(second.url, `/v1/orders/${orderId}`, {
          'streamfold-min-position': highest,
        });
        expect(order.status, `${orderId}: ${JSON.stringify(order.body)}`).toBe(200);
        expect(order.body).toMatchObject({
          orderId,
          customerId: expect.stringMatching(/^c-/) as unknown,
        });
      }
      const customer = await get<{ items: unknown[] }>(
        second.url,
        '/v1/customers/c-0/orders?limit=100',
        {
          'streamfold-min-position': highest,
        },
      );
      expect(customer.body.items).toHaveLength(acknowledged.filter((_, i) => i % 7 === 0).length);
    },
  );

  it(
    'shuts down gracefully on SIGTERM and resumes where it left off',
    { timeout: 120_000 },
    async () => {
      const dataDir = tempDataDir();
      const first = track(await startServerProcess({ STREAMFOLD_DATA_DIR: dataDir }));
      const placed = await post<{ position: string }>(first.url, '/v1/products', {
        sku: 'gadget',
        name: 'Gadget',
        priceCents: 1,
        initialStock: 1,
      });
      expect(placed.status).toBe(201);
      const exit = await first.kill('SIGTERM');
      expect(exit.code).toBe(0);
      expect(first.output()).toContain('stopped');

      const second = track(await startServerProcess({ STREAMFOLD_DATA_DIR: dataDir }));
      const product = await get(second.url, '/v1/products/gadget', {
        'streamfold-min-position': placed.body.position,
      });
      expect(product.body).toMatchObject({ sku: 'gadget', available: 1 });
    },
  );

  it('refuses to start with a clear message for a bad setting', { timeout: 60_000 }, async () => {
    await expect(
      startServerProcess({ STREAMFOLD_DATA_DIR: tempDataDir(), STREAMFOLD_PARTITIONS: 'many' }),
    ).rejects.toThrow(/STREAMFOLD_PARTITIONS=many is not a whole number/);
  });
});
