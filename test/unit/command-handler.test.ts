import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createCommandHandler, type CommandHandler } from '../../src/commands/command-handler.js';
import type { Decider } from '../../src/commands/decider.js';
import { ConflictError, RuleViolation } from '../../src/errors.js';
import {
  createSqliteEventStore,
  type SqliteEventStore,
} from '../../src/streams/sqlite/sqlite-event-store.js';

type Add = { type: 'Add'; data: { amount: number; limit?: number } };
type Added = { type: 'Added'; data: { amount: number } };
/** A counter that refuses to pass its limit: decisions depend on every earlier event. */
const counter: Decider<Add, Added, number> = {
  initialState: () => 0,
  decide: (command, total) => {
    const limit = command.data.limit ?? Number.POSITIVE_INFINITY;
    if (total + command.data.amount > limit)
      throw new RuleViolation('over-limit', 'over the limit');
    return [{ type: 'Added', data: { amount: command.data.amount } }];
  },
  evolve: (total, event) => total + event.data.amount,
};

describe('command handler', () => {
  let store: SqliteEventStore;
  let commands: CommandHandler;
  beforeEach(() => {
    store = createSqliteEventStore({ path: ':memory:' });
    commands = createCommandHandler({ store });
  });
  afterEach(async () => store.close());

  it('decides concurrent commands on one stream in turn and commits them together', async () => {
    const before = store.stats.commits;
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        commands.execute(counter, 'counter-1', { type: 'Add', data: { amount: 1 } }),
      ),
    );
    expect(results.map((r) => r.revision).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    const events = await store.readStream('counter-1');
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(store.stats.commits - before).toBeLessThan(20);
    expect((await commands.load(counter, 'counter-1')).state).toBe(100);
  });

  it('applies rules against the state the earlier in-flight commands leave', async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        commands.execute(counter, 'counter-2', { type: 'Add', data: { amount: 1, limit: 6 } }),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(6);
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(refused.every((o) => o.reason instanceof RuleViolation)).toBe(true);
    expect(await store.readStream('counter-2')).toHaveLength(6);
  });

  it('refuses a stale expected revision without appending', async () => {
    await commands.execute(counter, 'counter-3', { type: 'Add', data: { amount: 1 } });
    await expect(
      commands.execute(
        counter,
        'counter-3',
        { type: 'Add', data: { amount: 1 } },
        { expectedRevision: 5 },
      ),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(await store.readStream('counter-3')).toHaveLength(1);
  });

  it('recovers when another writer appended behind its cached state', async () => {
    await commands.execute(counter, 'counter-4', { type: 'Add', data: { amount: 1 } });
    const other = createCommandHandler({ store });
    await other.execute(counter, 'counter-4', { type: 'Add', data: { amount: 10 } });
    const result = await commands.execute(counter, 'counter-4', {
      type: 'Add',
      data: { amount: 100 },
    });
    expect(result.revision).toBe(2);
    expect((await commands.load(counter, 'counter-4')).state).toBe(111);
  });

  it('never lets a rule pass on a cached state another writer has moved past', async () => {
    await commands.execute(counter, 'counter-6', { type: 'Add', data: { amount: 1 } });
    await createCommandHandler({ store }).execute(counter, 'counter-6', {
      type: 'Add',
      data: { amount: 10 },
    });
    // On the cached state (1) this would pass; on the stream's state (11) it must not.
    await expect(
      commands.execute(counter, 'counter-6', { type: 'Add', data: { amount: 5, limit: 12 } }),
    ).rejects.toBeInstanceOf(RuleViolation);
    expect(await store.readStream('counter-6')).toHaveLength(2);
  });

  it('checks a refusal against the stream, not a stale cached state', async () => {
    type Spend = { type: 'Spend'; data: { amount: number } };
    const wallet: Decider<Spend | Add, Added, number> = {
      initialState: () => 0,
      decide: (command, total) => {
        if (command.type === 'Add')
          return [{ type: 'Added', data: { amount: command.data.amount } }];
        if (command.data.amount > total) throw new RuleViolation('insufficient', 'not enough');
        return [{ type: 'Added', data: { amount: -command.data.amount } }];
      },
      evolve: (total, event) => total + event.data.amount,
    };
    await commands.execute(wallet, 'counter-9', { type: 'Add', data: { amount: 1 } });
    await createCommandHandler({ store }).execute(wallet, 'counter-9', {
      type: 'Add',
      data: { amount: 10 },
    });
    // The cached total (1) refuses; the stream's (11) allows.
    const result = await commands.execute(wallet, 'counter-9', {
      type: 'Spend',
      data: { amount: 5 },
    });
    expect(result.revision).toBe(2);
    expect((await commands.load(wallet, 'counter-9')).state).toBe(6);
  });

  it("checks a client's expected revision against the stream, not a stale cache", async () => {
    await commands.execute(counter, 'counter-7', { type: 'Add', data: { amount: 1 } });
    await createCommandHandler({ store }).execute(counter, 'counter-7', {
      type: 'Add',
      data: { amount: 1 },
    });
    const result = await commands.execute(
      counter,
      'counter-7',
      { type: 'Add', data: { amount: 1 } },
      { expectedRevision: 1 },
    );
    expect(result.revision).toBe(2);
  });

  it('reads the stream before deciding to append nothing on a cached state', async () => {
    type Drain = { type: 'Drain'; data: Record<string, never> };
    const drain: Decider<Drain | Add, Added, number> = {
      initialState: () => 0,
      decide: (command, total) => {
        if (command.type === 'Add')
          return [{ type: 'Added', data: { amount: command.data.amount } }];
        return total === 0 ? [] : [{ type: 'Added', data: { amount: -total } }];
      },
      evolve: (total, event) => total + event.data.amount,
    };
    await commands.execute(drain, 'counter-8', { type: 'Add', data: { amount: 0 } });
    await createCommandHandler({ store }).execute(drain, 'counter-8', {
      type: 'Add',
      data: { amount: 5 },
    });
    // The cached total is 0 (nothing to drain); the stream's is 5.
    const result = await commands.execute(drain, 'counter-8', { type: 'Drain', data: {} });
    expect(result.events).toEqual([{ type: 'Added', data: { amount: -5 } }]);
    expect((await commands.load(drain, 'counter-8')).state).toBe(0);
  });

  it('reads a stream before deciding only once another writer has been seen on it', async () => {
    let reads = 0;
    const counted: typeof store = Object.create(store, {
      readStream: {
        value: (...args: Parameters<typeof store.readStream>) => {
          reads++;
          return store.readStream(...args);
        },
      },
    }) as typeof store;
    const mine = createCommandHandler({ store: counted });
    const add = { type: 'Add', data: { amount: 1 } } as const;
    await mine.execute(counter, 'counter-10', add);
    const afterFirst = reads;
    await mine.execute(counter, 'counter-10', add);
    expect(reads).toBe(afterFirst); // the only writer: its cached state is the stream's
    await createCommandHandler({ store }).execute(counter, 'counter-10', add);
    await mine.execute(counter, 'counter-10', add); // conflicts once, then reads and retries
    const afterConflict = reads;
    await mine.execute(counter, 'counter-10', add);
    expect(reads).toBeGreaterThan(afterConflict); // contended now: reads first
    expect((await mine.load(counter, 'counter-10')).state).toBe(5);
  });

  it('appends nothing again when a workflow repeats a command with the same event ids', async () => {
    const ids = { eventIds: (i: number) => `00000000-0000-4000-8000-00000000000${i}` };
    const first = await commands.execute(
      counter,
      'counter-5',
      { type: 'Add', data: { amount: 1 } },
      ids,
    );
    // A redelivered trigger, handled by a restarted process: same ids, newer state.
    const again = await createCommandHandler({ store }).execute(
      counter,
      'counter-5',
      { type: 'Add', data: { amount: 1 } },
      ids,
    );
    expect(again).toMatchObject({ revision: first.revision, position: first.position });
    expect(await store.readStream('counter-5')).toHaveLength(1);
  });
});
