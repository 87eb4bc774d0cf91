import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, ConflictError, ValidationError } from '../../src/errors.js';
import type { NewEvent, RecordedEvent } from '../../src/streams/event-store.js';
import {
  createSqliteEventStore,
  type SqliteEventStore,
  type SqliteEventStoreOptions,
} from '../../src/streams/sqlite/sqlite-event-store.js';
import { eventStoreContract } from './event-store.contract.js';

const ROOT = resolvePath(import.meta.dirname, '../..');

async function newTempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'streamfold-sqlite-'));
}

eventStoreContract('SQLite file', async () => {
  const dir = await newTempDir();
  // A parent directory that does not exist yet: the store creates it.
  const store = createSqliteEventStore({ path: join(dir, 'data', 'events.db') });
  return {
    store,
    teardown: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

eventStoreContract('SQLite in memory', () => {
  const store = createSqliteEventStore({ path: ':memory:' });
  return Promise.resolve({ store, teardown: () => store.close() });
});

function event(data: NewEvent['data'] = {}): NewEvent {
  return { id: randomUUID(), type: 'SqliteTested', data, metadata: { occurredAt: 'now' } };
}

/** Resolves once `predicate` holds, polling; rejects after `timeoutMs`. */
async function eventually(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('The condition did not hold in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Collects a subscription's events in the background until aborted. */
function collect(store: SqliteEventStore, after?: string) {
  const controller = new AbortController();
  const events: RecordedEvent[] = [];
  const options = { signal: controller.signal, ...(after === undefined ? {} : { after }) };
  const done = (async () => {
    for await (const recorded of store.subscribeToAll(options)) events.push(recorded);
  })();
  return {
    events,
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

describe('SQLite event store', () => {
  let dir: string;
  let file: string;
  const opened: SqliteEventStore[] = [];

  function open(options: Partial<SqliteEventStoreOptions> = {}): SqliteEventStore {
    const store = createSqliteEventStore({ path: file, ...options });
    opened.push(store);
    return store;
  }

  beforeEach(async () => {
    dir = await newTempDir();
    file = join(dir, 'events.db');
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
    await rm(dir, { recursive: true, force: true });
  });

  describe('group commit', () => {
    it('commits 200 appends issued in the same turn in one transaction', async () => {
      const store = open();

      const results = await Promise.all(
        Array.from({ length: 200 }, (_, index) => store.append(`order-${index % 7}`, [event()])),
      );

      expect(store.stats).toEqual({ commits: 1, appends: 200 });
      expect(new Set(results.map((result) => result.position)).size).toBe(200);
    });

    it('batches appends of writers that each wait for their previous append', async () => {
      const store = open();
      const writer = async (id: number) => {
        for (let i = 0; i < 20; i++) await store.append(`cart-${id}`, [event()]);
      };

      await Promise.all(Array.from({ length: 20 }, (_, id) => writer(id)));

      expect(store.stats.appends).toBe(400);
      expect(store.stats.commits).toBeLessThanOrEqual(40);
    });

    it('checks each append of a batch against the earlier ones, and a conflict fails alone', async () => {
      const store = open();

      const [created, duplicate, next, other] = await Promise.allSettled([
        store.append('order-1', [event()], { expectedRevision: 'no-stream' }),
        store.append('order-1', [event()], { expectedRevision: 'no-stream' }),
        store.append('order-1', [event()], { expectedRevision: 0 }),
        store.append('order-2', [event()], { expectedRevision: 'no-stream' }),
      ]);

      expect(store.stats.commits).toBe(1);
      expect(created).toMatchObject({ status: 'fulfilled', value: { nextExpectedRevision: 0 } });
      expect(duplicate).toMatchObject({ status: 'rejected' });
      expect(duplicate.status === 'rejected' && duplicate.reason).toBeInstanceOf(ConflictError);
      expect(next).toMatchObject({ status: 'fulfilled', value: { nextExpectedRevision: 1 } });
      expect(other).toMatchObject({ status: 'fulfilled', value: { nextExpectedRevision: 0 } });
      expect(await store.readStream('order-1')).toHaveLength(2);
    });

    it('a retry in the same batch as its original gets the original result', async () => {
      const store = open();
      const events = [event(), event()];

      const [original, retry] = await Promise.all([
        store.append('order-1', events, { expectedRevision: 'no-stream' }),
        store.append('order-1', events, { expectedRevision: 'no-stream' }),
      ]);

      expect(retry).toEqual(original);
      expect(await store.readStream('order-1')).toHaveLength(2);
    });

    it('an event that is not JSON rejects alone, before the batch is written', async () => {
      const store = open();
      const bad: NewEvent = { ...event(), data: { amount: 10n as unknown as number } };

      const [rejected, fine] = await Promise.allSettled([
        store.append('order-1', [bad]),
        store.append('order-2', [event()]),
      ]);

      expect(rejected.status === 'rejected' && rejected.reason).toBeInstanceOf(ValidationError);
      expect(fine.status).toBe('fulfilled');
      expect(await store.readStream('order-1')).toEqual([]);
    });

    it('an append has committed when it resolves: another connection reads it', async () => {
      const store = open();
      const other = open();

      const result = await store.append('order-1', [event()]);

      expect(await other.headPosition()).toBe(result.position);
    });
  });

  describe('the file', () => {
    it('uses WAL journal mode', async () => {
      const store = open();
      await store.append('order-1', [event()]);
      const db = new Database(file, { readonly: true });
      try {
        expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        db.close();
      }
    });

    it('keeps every event across a reopen, and appends continue where they stopped', async () => {
      const first = open();
      const appended = [event({ n: 1 }), event({ n: 2 })];
      const pending = first.append('order-1', appended);
      await first.close();
      const before = await pending;

      const reopened = open();
      const read = await reopened.readStream('order-1');
      const next = await reopened.append('order-1', [event()], { expectedRevision: 1 });

      expect(read.map((recorded) => recorded.data)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(await reopened.readAll()).toHaveLength(3);
      expect(before.position < next.position).toBe(true);
      expect(next.nextExpectedRevision).toBe(2);
    });

    it('an empty log has no head position', async () => {
      expect(await open().headPosition()).toBeUndefined();
    });
  });

  describe('positions', () => {
    it('are the sequence number as 20 zero-padded digits', async () => {
      const store = open();
      await store.append('order-1', [event(), event()]);
      const positions = (await store.readAll()).map((recorded) => recorded.position);
      expect(positions).toEqual(['00000000000000000001', '00000000000000000002']);
    });

    it.each(['', '1', '-0000000000000000001', '000000000000000000001', '0000000000000000000x'])(
      'rejects the malformed position %j with a ValidationError',
      async (after) => {
        const store = open();
        await expect(store.readAll({ after })).rejects.toBeInstanceOf(ValidationError);
        const iterator = store.subscribeToAll({ after })[Symbol.asyncIterator]();
        await expect(iterator.next()).rejects.toBeInstanceOf(ValidationError);
      },
    );
  });

  describe('subscriptions', () => {
    it('are woken by appends of the same store at once, without waiting for the poll', async () => {
      const store = open({ pollIntervalMs: 60_000 });
      const subscription = collect(store);
      await new Promise((resolve) => setTimeout(resolve, 20));
      // Timed from the commit: the first append also starts the writer thread.
      await store.append('order-1', [event()]);
      const started = Date.now();
      await eventually(() => subscription.events.length === 1, 1_000);

      expect(Date.now() - started).toBeLessThan(1_000);
      await subscription.stop();
    });

    it('see appends of another store on the same file by polling', async () => {
      const reader = open({ pollIntervalMs: 20 });
      const writer = open();
      const subscription = collect(reader);
      await new Promise((resolve) => setTimeout(resolve, 30));

      await writer.append('order-1', [event(), event()]);
      await eventually(() => subscription.events.length === 2);

      await subscription.stop();
      expect(subscription.events.map((recorded) => recorded.revision)).toEqual([0, 1]);
    });

    it('read the log one batch at a time as the consumer pulls', async () => {
      const store = open();
      await store.append(
        'order-1',
        Array.from({ length: 10 }, () => event()),
      );
      const iterator = store.subscribeToAll({ batchSize: 3 })[Symbol.asyncIterator]();

      const first = await iterator.next();
      // Appended after the first batch was read, and still delivered in order: the
      // subscription reads the rest lazily rather than from a snapshot taken up front.
      await store.append('order-1', [event()]);
      const rest: RecordedEvent[] = [];
      for (let i = 0; i < 10; i++) {
        const next = await iterator.next();
        if (next.done !== true) rest.push(next.value);
      }
      await iterator.return?.();

      expect(first.value).toMatchObject({ revision: 0 });
      expect(rest.map((recorded) => recorded.revision)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });
  });

  it('rejects a poll interval that is not a positive number', () => {
    expect(() => createSqliteEventStore({ path: ':memory:', pollIntervalMs: 0 })).toThrow(
      ConfigError,
    );
  });

  it('two processes appending to one file keep streams contiguous and conflicts exact', async () => {
    const observer = open({ pollIntervalMs: 20 });
    const subscription = collect(observer);
    const writers = [startWriterProcess(file), startWriterProcess(file)];
    await Promise.all(writers.map((writer) => writer.ready));
    writers.forEach((writer) => writer.go());

    const won = await Promise.all(writers.map((writer) => writer.result));

    for (let stream = 0; stream < SHARED_STREAMS; stream++) {
      const read = await observer.readStream(`shared-${stream}`);
      expect(read.map((recorded) => recorded.revision)).toEqual(read.map((_, index) => index));
      expect(read).toHaveLength(2 * ROUNDS);
    }
    for (let race = 0; race < RACES; race++) {
      expect(await observer.readStream(`race-${race}`)).toHaveLength(1);
    }
    expect(won.reduce((sum, count) => sum + count, 0)).toBe(RACES);
    await eventually(() => subscription.events.length === 2 * SHARED_STREAMS * ROUNDS + RACES);
    await subscription.stop();
  });
});

const SHARED_STREAMS = 5;
const ROUNDS = 40;
const RACES = 20;
const STORE_MODULE = join(ROOT, 'src/streams/sqlite/sqlite-event-store.ts');

/**
 * A writer process: rounds of concurrent appends to shared streams, then races to create the
 * same streams with "no-stream"; it reports how many races it won.
 */
function writerSource(file: string): string {
  return `
    const { createSqliteEventStore } = await import(${JSON.stringify(STORE_MODULE)});
    const store = createSqliteEventStore({ path: ${JSON.stringify(file)} });
    const newEvent = () => ({
      id: crypto.randomUUID(), type: 'Raced', data: {}, metadata: { occurredAt: 'now' },
    });
    process.stdout.write('ready\\n');
    await new Promise((resolve) => process.stdin.once('data', resolve));
    for (let round = 0; round < ${ROUNDS}; round++) {
      await Promise.all(Array.from({ length: ${SHARED_STREAMS} }, (_, stream) =>
        store.append('shared-' + stream, [newEvent()])));
    }
    const races = await Promise.allSettled(Array.from({ length: ${RACES} }, (_, race) =>
      store.append('race-' + race, [newEvent()], { expectedRevision: 'no-stream' })));
    await store.close();
    process.stdout.write('won ' + races.filter((r) => r.status === 'fulfilled').length + '\\n');
    process.stdin.destroy();
  `;
}

function startWriterProcess(file: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', writerSource(file)],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const result = exited.then((code) => {
    const won = /won (\d+)/.exec(output)?.[1];
    if (code !== 0 || won === undefined) throw new Error(`writer process failed:\n${output}`);
    return Number(won);
  });
  return {
    ready: eventually(() => output.includes('ready\n'), 20_000),
    go: () => child.stdin.write('go\n'),
    result,
  };
}
