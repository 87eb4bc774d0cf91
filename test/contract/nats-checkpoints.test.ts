/**
 * Relay checkpoints in a NATS KV bucket: they only move forward, several processes see one
 * value, and the value survives a NATS restart (the test's own server, never the shared one).
 */
import { randomUUID } from 'node:crypto';
import { connect } from 'nats';
import { ErrorCodes } from '../../src/errors.js';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createNatsCheckpoints,
  kvKey,
  type NatsCheckpoints,
} from '../../src/streams/nats/nats-checkpoints.js';
import { startNatsServer, type NatsServer } from '../support/nats-server.js';
import { NATS_URL, requireService } from '../support/services.js';

const ok = await requireService('NATS', NATS_URL, 'the NATS KV checkpoint tests');
const run = randomUUID().slice(0, 8);
const at = (n: number): string => String(n).padStart(20, '0');

describe.skipIf(!ok)('NATS KV checkpoints', () => {
  const bucket = `sf-checkpoints-${run}`;
  const opened: NatsCheckpoints[] = [];
  async function open(url = NATS_URL): Promise<NatsCheckpoints> {
    const checkpoints = await createNatsCheckpoints({ url, bucket });
    opened.push(checkpoints);
    return checkpoints;
  }
  afterAll(async () => {
    for (const checkpoints of opened) await checkpoints.close();
    const nc = await connect({ servers: NATS_URL });
    await (await nc.jetstreamManager()).streams.delete(`KV_${bucket}`).catch(() => false);
    await nc.close();
  });

  it('reads nothing for a checkpoint never stored', async () => {
    const checkpoints = await open();
    expect(await checkpoints.get('never-stored')).toBeUndefined();
  });

  it('only moves forward', async () => {
    const checkpoints = await open();
    await checkpoints.put('relay', at(5));
    await checkpoints.put('relay', at(9));
    await checkpoints.put('relay', at(7)); // a late save from a relay that lost its lease
    await checkpoints.put('relay', at(9));
    expect(await checkpoints.get('relay')).toBe(at(9));
  });

  it('is shared between processes, and keeps ids apart that differ only in odd characters', async () => {
    const writer = await open();
    const reader = await open();
    await writer.put('relay:a', at(3));
    await writer.put('relay b', at(4));
    expect(kvKey('relay:a')).toMatch(/^[-/_=.a-zA-Z0-9]+$/);
    expect(await reader.get('relay:a')).toBe(at(3));
    expect(await reader.get('relay b')).toBe(at(4));
  });
});

describe.skipIf(!ok)('NATS KV checkpoints across a NATS restart', () => {
  let server: NatsServer | undefined;
  let checkpoints: NatsCheckpoints | undefined;
  afterAll(async () => {
    await checkpoints?.close();
    await server?.dispose();
  });

  it('keeps the stored value and accepts saves once the connection is back', async () => {
    server = await startNatsServer();
    checkpoints = await createNatsCheckpoints({ url: server.url, bucket: 'restart' });
    await checkpoints.put('relay', at(10));

    await server.stop('SIGKILL');
    await expect(checkpoints.put('relay', at(11))).rejects.toMatchObject({
      code: ErrorCodes.OVERLOADED,
    });
    await server.start();

    // The same client reconnects on its own; retry as the relay's periodic save does.
    await eventually(() => checkpoints?.put('relay', at(12)));
    expect(await checkpoints.get('relay')).toBe(at(12));
    const fresh = await createNatsCheckpoints({ url: server.url, bucket: 'restart' });
    expect(await fresh.get('relay')).toBe(at(12));
    await fresh.close();
  });
});

async function eventually(attempt: () => Promise<unknown> | undefined, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
