import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCommandHandler } from '../../src/commands/command-handler.js';
import { createDeadLetterStore, type DeadLetter } from '../../src/commands/dead-letters.js';
import type { Decider } from '../../src/commands/decider.js';
import { createWorkflowRunner, type WorkflowRunner } from '../../src/commands/workflow-runner.js';
import type { Workflow } from '../../src/commands/workflow.js';
import type { ReadStore } from '../../src/projections/read-store.js';
import { createSqliteReadStore } from '../../src/projections/sqlite/sqlite-read-store.js';
import type { EventStore } from '../../src/streams/event-store.js';
import { createInProcessBus } from '../../src/streams/memory/in-process-bus.js';
import { createRelay, type Relay } from '../../src/streams/relay.js';
import { createSqliteEventStore } from '../../src/streams/sqlite/sqlite-event-store.js';
import { eventually } from '../support/eventually.js';

type Echo = { type: 'Echo'; data: { of: string } };
/** Appends one `Echoed` per command: the workflow's effect, so duplicates would show. */
const echoDecider: Decider<Echo, { type: 'Echoed'; data: { of: string } }, null> = {
  initialState: () => null,
  decide: (command) => [{ type: 'Echoed', data: { of: command.data.of } }],
  evolve: (state) => state,
};

describe('workflow runner', () => {
  let store: EventStore;
  let readStore: ReadStore;
  let relay: Relay;
  let runner: WorkflowRunner | undefined;
  const handled: string[] = [];
  const failures = new Map<string, number>(); // event id → failures left (Infinity = always)
  const bus = () => createInProcessBus({ partitions: 2 });

  const workflow: Workflow = {
    name: 'echo',
    version: 1,
    handles: ['Ping'],
    async handle(event, context) {
      const left = failures.get(event.id) ?? 0;
      if (left > 0) {
        failures.set(event.id, left - 1);
        throw new Error(`refusing ${event.data.label as string}`);
      }
      await context.execute(
        echoDecider,
        `echo-${event.streamId}`,
        { type: 'Echo', data: { of: event.id } },
        'echo',
      );
      handled.push(event.data.label as string);
    },
  };

  async function ping(streamId: string, label: string) {
    const id = randomUUID();
    await store.append(streamId, [
      { id, type: 'Ping', data: { label }, metadata: { occurredAt: '2026-01-01T00:00:00.000Z' } },
    ]);
    return id;
  }

  async function start(options: { maxAttempts?: number } = {}) {
    const eventBus = bus();
    const commands = createCommandHandler({ store });
    runner = createWorkflowRunner({
      workflow,
      bus: eventBus,
      store,
      readStore,
      commands,
      maxAttempts: options.maxAttempts ?? 3,
      retry: { initialMs: 1, maxMs: 5 },
      adminPollMs: 10,
    });
    await runner.start();
    relay = createRelay({
      store,
      bus: eventBus,
      checkpoints: { get: async () => undefined, put: async () => undefined },
    });
    await relay.start({});
  }

  const letters = () => createDeadLetterStore(readStore);
  async function lettersWith(status: DeadLetter['status']) {
    return (await letters().list({ status, limit: 100 })).items;
  }

  beforeEach(async () => {
    store = createSqliteEventStore({ path: ':memory:' });
    readStore = createSqliteReadStore({ path: ':memory:' });
    handled.length = 0;
    failures.clear();
  });
  afterEach(async () => {
    await runner?.stop();
    await relay.stop();
    await store.close();
    await readStore.close();
  });

  it('reacts to each event of a stream in order, and only to live events', async () => {
    await ping('s-old', 'history');
    await start();
    await ping('s-a', 'a1');
    await ping('s-b', 'b1');
    await ping('s-a', 'a2');
    await eventually(() => expect([...handled].sort()).toEqual(['a1', 'a2', 'b1']));
    expect(handled.indexOf('a1')).toBeLessThan(handled.indexOf('a2'));
    expect(await store.readStream('echo-s-old')).toEqual([]);
  });

  it('retries a transient failure with back-off and then succeeds', async () => {
    await start();
    const id = randomUUID();
    failures.set(id, 2);
    await store.append('s-t', [
      {
        id,
        type: 'Ping',
        data: { label: 't' },
        metadata: { occurredAt: '2026-01-01T00:00:00.000Z' },
      },
    ]);
    await eventually(() => expect(handled).toEqual(['t']));
    expect(await store.readStream('echo-s-t')).toHaveLength(1);
    expect(await lettersWith('failed')).toEqual([]);
  });

  it('parks a failing event, holds its stream back, lets others flow, and resumes in order on retry', async () => {
    await start({ maxAttempts: 2 });
    await ping('s-x', 'x1');
    await eventually(() => expect(handled).toEqual(['x1']));
    const stuck = randomUUID();
    failures.set(stuck, Number.POSITIVE_INFINITY);
    await store.append('s-x', [
      {
        id: stuck,
        type: 'Ping',
        data: { label: 'x2' },
        metadata: { occurredAt: '2026-01-01T00:00:00.000Z' },
      },
    ]);
    await ping('s-x', 'x3');
    await ping('s-y', 'y1');
    await eventually(async () => expect(await lettersWith('waiting')).toHaveLength(1));
    await eventually(() => expect(handled).toEqual(['x1', 'y1']));

    const [failed] = await lettersWith('failed');
    expect(failed).toMatchObject({
      streamId: 's-x',
      eventId: stuck,
      attempts: 2,
      error: 'Error: refusing x2',
    });
    const [waiting] = await lettersWith('waiting');
    expect(waiting).toMatchObject({ streamId: 's-x', behind: failed?.id });

    failures.set(stuck, 0);
    await letters().requestRetry(failed?.id ?? '');
    await eventually(() => expect(handled).toEqual(['x1', 'y1', 'x2', 'x3']));
    await eventually(async () =>
      expect((await lettersWith('resolved')).map((l) => l.eventId).sort()).toHaveLength(2),
    );
    await ping('s-x', 'x4');
    await eventually(() => expect(handled.at(-1)).toBe('x4'));
    expect(await store.readStream('echo-s-x')).toHaveLength(4);
  });

  it('skips a dead letter on request and releases the events waiting behind it', async () => {
    await start({ maxAttempts: 1 });
    const stuck = randomUUID();
    failures.set(stuck, Number.POSITIVE_INFINITY);
    await store.append('s-z', [
      {
        id: stuck,
        type: 'Ping',
        data: { label: 'z1' },
        metadata: { occurredAt: '2026-01-01T00:00:00.000Z' },
      },
    ]);
    await ping('s-z', 'z2');
    await eventually(async () => expect(await lettersWith('waiting')).toHaveLength(1));
    const [failed] = await lettersWith('failed');
    await letters().requestSkip(failed?.id ?? '');
    await eventually(() => expect(handled).toEqual(['z2']));
    expect((await lettersWith('skipped')).map((l) => l.eventId)).toEqual([stuck]);
    await expect(letters().requestRetry(failed?.id ?? '')).rejects.toMatchObject({
      rule: 'dead-letter-not-failed',
    });
  });

  it('keeps dead letters and the held-back streams across a restart', async () => {
    await start({ maxAttempts: 1 });
    const stuck = randomUUID();
    failures.set(stuck, Number.POSITIVE_INFINITY);
    await store.append('s-r', [
      {
        id: stuck,
        type: 'Ping',
        data: { label: 'r1' },
        metadata: { occurredAt: '2026-01-01T00:00:00.000Z' },
      },
    ]);
    await eventually(async () => expect(await lettersWith('failed')).toHaveLength(1));
    await runner?.stop();
    await relay.stop();

    await start({ maxAttempts: 1 });
    await ping('s-r', 'r2');
    await eventually(async () => expect(await lettersWith('waiting')).toHaveLength(1));
    expect(handled).toEqual([]);
  });
});
