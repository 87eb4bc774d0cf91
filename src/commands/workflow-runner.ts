/**
 * Runs a workflow over the bus: one consume loop per owned partition, events of different
 * streams handled concurrently and events of one stream in order, transient failures retried
 * with back-off and jitter, and an event that still fails parked as a dead letter with the
 * later events of its stream waiting behind it while other streams keep flowing.
 */
import { setMaxListeners } from 'node:events';
import { backoffDelay, sleep } from '../async.js';
import type { ReadStore } from '../projections/read-store.js';
import type { Delivery, EventBus } from '../streams/event-bus.js';
import type { EventStore, Position, RecordedEvent } from '../streams/event-store.js';
import { partitionOf } from '../streams/partition.js';
import { isAfter, minPosition } from '../streams/position.js';
import type { CommandHandler } from './command-handler.js';
import { BLOCKING, createDeadLetterStore, deadLetterId, type DeadLetter } from './dead-letters.js';
import { createKeyedQueue } from './keyed-queue.js';
import {
  workflowContext,
  workflowId,
  type Workflow,
  type WorkflowContext,
  type WorkflowId,
} from './workflow.js';

export type WorkflowLogger = Readonly<{
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}>;

export type WorkflowRunnerOptions = Readonly<{
  workflow: Workflow;
  bus: EventBus;
  /** Reads the events of retried dead letters and the head for a first start. */
  store: EventStore;
  /** Holds the runner's checkpoints and the dead letters. */
  readStore: ReadStore;
  commands: CommandHandler;
  /** @default every partition of the bus */
  partitions?: readonly number[];
  /** Attempts before an event is dead-lettered. @default 5 */
  maxAttempts?: number;
  /** Back-off between attempts. @default { initialMs: 100, maxMs: 5000 } */
  retry?: Readonly<{ initialMs?: number; maxMs?: number }>;
  /** Streams handled at once within one delivery. @default 16 */
  concurrency?: number;
  /** How often retry/skip requests on dead letters are picked up. @default 500 */
  adminPollMs?: number;
  logger?: WorkflowLogger;
}>;

export interface WorkflowRunner {
  readonly id: WorkflowId;
  start(): Promise<void>;
  /** Finishes the deliveries in hand (without waiting out back-offs), then stops. */
  stop(): Promise<void>;
  /** The lowest stored checkpoint over owned partitions; undefined if any is missing. */
  lowestCheckpoint(): Promise<Position | undefined>;
}

/** Thrown inside a handler run when the runner is stopping: nothing is parked or acked. */
class Stopping extends Error {}

type Outcome = { ok: true } | { ok: false; error: string; attempts: number };

const silent: WorkflowLogger = { info() {}, warn() {}, error() {} };

export function createWorkflowRunner(options: WorkflowRunnerOptions): WorkflowRunner {
  const { workflow, bus, store, readStore, commands } = options;
  const id = workflowId(workflow);
  const logger = options.logger ?? silent;
  const maxAttempts = options.maxAttempts ?? 5;
  const initialMs = options.retry?.initialMs ?? 100;
  const maxMs = options.retry?.maxMs ?? 5000;
  const concurrency = options.concurrency ?? 16;
  const partitions = options.partitions ?? Array.from({ length: bus.partitions }, (_, i) => i);
  const owned = new Set(partitions);
  const handled = new Set(workflow.handles);
  const letters = createDeadLetterStore(readStore);
  const perStream = createKeyedQueue();
  /** Streams held back by a dead letter, with the id of the letter at their head. */
  const blocked = new Map<string, string>();
  const stopping = new AbortController();
  // One listener per partition loop, stream lane and back-off; many are not a leak.
  setMaxListeners(0, stopping.signal);
  const loops: Promise<void>[] = [];
  const checkpointId = (partition: number) => `${id}:p${partition}`;

  const context = (event: RecordedEvent): WorkflowContext =>
    workflowContext(workflow, event, commands, stopping.signal);

  async function attempt(event: RecordedEvent, already = 0): Promise<Outcome> {
    let lastError = '';
    for (let n = 1; n <= maxAttempts; n++) {
      if (stopping.signal.aborted) throw new Stopping();
      try {
        await workflow.handle(event, context(event));
        return { ok: true };
      } catch (error) {
        if (stopping.signal.aborted) throw new Stopping();
        lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        logger.warn(
          { workflow: id, eventId: event.id, attempt: already + n, err: error },
          'workflow step failed',
        );
        if (n < maxAttempts) await sleep(backoffDelay(n, initialMs, maxMs), stopping.signal);
      }
    }
    return { ok: false, error: lastError, attempts: already + maxAttempts };
  }

  async function park(event: RecordedEvent, outcome: Outcome & { ok: false }): Promise<void> {
    const letter = await letters.park({
      workflow: id,
      streamId: event.streamId,
      eventId: event.id,
      eventType: event.type,
      position: event.position,
      revision: event.revision,
      status: 'failed',
      attempts: outcome.attempts,
      error: outcome.error,
      behind: null,
    });
    blocked.set(event.streamId, letter.id);
    logger.error(
      { workflow: id, deadLetter: letter.id, error: outcome.error },
      'event dead-lettered',
    );
  }

  /** Handles one event in its stream's turn: waits behind a dead letter or runs. */
  function process(event: RecordedEvent): Promise<void> {
    return perStream(event.streamId, async () => {
      const head = blocked.get(event.streamId);
      if (head !== undefined) {
        if (head === deadLetterId(id, event)) return; // redelivered head: already parked
        await letters.park({
          workflow: id,
          streamId: event.streamId,
          eventId: event.id,
          eventType: event.type,
          position: event.position,
          revision: event.revision,
          status: 'waiting',
          attempts: 0,
          error: null,
          behind: head,
        });
        return;
      }
      const outcome = await attempt(event);
      if (!outcome.ok) await park(event, outcome);
    });
  }

  async function handleDelivery(
    delivery: Delivery,
    after: Position | undefined,
  ): Promise<Position | undefined> {
    const byStream = new Map<string, RecordedEvent[]>();
    let last: Position | undefined;
    for (const message of delivery.messages) {
      const position = message.kind === 'event' ? message.event.position : message.position;
      last = position;
      if (message.kind !== 'event' || !handled.has(message.event.type)) continue;
      if (!isAfter(position, after)) continue;
      const events = byStream.get(message.event.streamId) ?? [];
      events.push(message.event);
      byStream.set(message.event.streamId, events);
    }
    const groups = [...byStream.values()];
    let next = 0;
    const lane = async () => {
      while (next < groups.length) {
        const group = groups[next++] ?? [];
        for (const event of group) await process(event);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, groups.length) }, lane));
    return last;
  }

  async function consume(partition: number): Promise<void> {
    let checkpoint = await readStore.getCheckpoint(checkpointId(partition));
    let failures = 0;
    while (!stopping.signal.aborted) {
      try {
        for await (const delivery of bus.consume({
          consumer: id,
          partition,
          signal: stopping.signal,
        })) {
          const last = await handleDelivery(delivery, checkpoint);
          if (last !== undefined && isAfter(last, checkpoint)) {
            await readStore.putCheckpoint({ id: checkpointId(partition), position: last });
            checkpoint = last;
          }
          await delivery.ack();
          failures = 0;
        }
      } catch (error) {
        if (error instanceof Stopping || stopping.signal.aborted) return;
        failures++;
        logger.error({ workflow: id, partition, err: error }, 'workflow delivery failed; retrying');
        await sleep(backoffDelay(failures, initialMs, maxMs), stopping.signal);
      }
    }
  }

  /** Runs what waits behind a resolved or skipped letter, in stream order, until one fails. */
  async function drain(streamId: string): Promise<void> {
    const waiting: DeadLetter[] = [];
    let cursor: string | undefined;
    do {
      const page = await letters.list({
        workflow: id,
        streamId,
        status: 'waiting',
        limit: 200,
        ...(cursor === undefined ? {} : { cursor }),
      });
      waiting.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    waiting.sort((a, b) => a.revision - b.revision);
    for (const letter of waiting) {
      const outcome = await rerun(letter);
      if (!outcome.ok) {
        blocked.set(streamId, letter.id);
        return;
      }
    }
    blocked.delete(streamId);
  }

  async function rerun(letter: DeadLetter): Promise<Outcome> {
    const [event] = await store.readStream(letter.streamId, {
      fromRevision: letter.revision,
      maxCount: 1,
    });
    const outcome: Outcome =
      event === undefined || event.id !== letter.eventId
        ? { ok: true }
        : await attempt(event, letter.attempts);
    await letters.update(
      letter.id,
      outcome.ok
        ? { status: 'resolved', error: null }
        : { status: 'failed', attempts: outcome.attempts, error: outcome.error },
    );
    return outcome;
  }

  async function serveRequests(): Promise<void> {
    while (!stopping.signal.aborted) {
      try {
        for (const status of ['retry-requested', 'skip-requested'] as const) {
          const page = await letters.list({ workflow: id, status, limit: 100 });
          for (const letter of page.items) {
            if (!owned.has(partitionOf(letter.streamId, bus.partitions))) continue;
            await perStream(letter.streamId, async () => {
              if (status === 'skip-requested') {
                await letters.update(letter.id, { status: 'skipped' });
                await drain(letter.streamId);
              } else if ((await rerun(letter)).ok) {
                await drain(letter.streamId);
              }
            });
          }
        }
      } catch (error) {
        if (error instanceof Stopping || stopping.signal.aborted) return;
        logger.error({ workflow: id, err: error }, 'serving dead-letter requests failed');
      }
      await sleep(options.adminPollMs ?? 500, stopping.signal);
    }
  }

  async function loadBlocked(): Promise<void> {
    for (const status of BLOCKING) {
      let cursor: string | undefined;
      do {
        const page = await letters.list({
          workflow: id,
          status,
          limit: 500,
          ...(cursor === undefined ? {} : { cursor }),
        });
        for (const letter of page.items) {
          if (letter.status !== 'waiting') blocked.set(letter.streamId, letter.id);
          else if (!blocked.has(letter.streamId))
            blocked.set(letter.streamId, letter.behind ?? letter.id);
        }
        cursor = page.nextCursor;
      } while (cursor !== undefined);
    }
  }

  /** A workflow that has never run starts at the head: it must not react to history. */
  async function startAtHead(): Promise<void> {
    const head = await store.headPosition();
    if (head === undefined) return;
    for (const partition of partitions) {
      if ((await readStore.getCheckpoint(checkpointId(partition))) === undefined) {
        await readStore.putCheckpoint({ id: checkpointId(partition), position: head });
      }
    }
  }

  return {
    id,
    async start() {
      await letters.ensure();
      await loadBlocked();
      await startAtHead();
      for (const partition of partitions) loops.push(consume(partition));
      loops.push(serveRequests());
      logger.info({ workflow: id, partitions }, 'workflow started');
    },
    async stop() {
      stopping.abort();
      await Promise.allSettled(loops);
    },
    async lowestCheckpoint() {
      let lowest: Position | undefined;
      for (const [index, partition] of partitions.entries()) {
        const position = await readStore.getCheckpoint(checkpointId(partition));
        if (position === undefined) return undefined;
        lowest = index === 0 ? position : minPosition(lowest, position);
      }
      return lowest;
    },
  };
}
