/**
 * Dead letters: events a workflow could not handle after its retries, parked with the error and
 * attempt count, and the later events of the same stream waiting behind them so that per-stream
 * order is kept. Stored as documents of a read-store collection, so every process (API for the
 * admin endpoints, workers for the work) sees the same list.
 */
import { NotFoundError, RuleViolation } from '../errors.js';
import type { FindResult, ReadStore, StoredDocument } from '../projections/read-store.js';
import type { JsonObject, RecordedEvent } from '../streams/event-store.js';

export const DEAD_LETTERS = 'workflow_dead_letters';

export type DeadLetterStatus =
  'failed' | 'waiting' | 'retry-requested' | 'skip-requested' | 'resolved' | 'skipped';

/** Statuses that hold their stream back. */
export const BLOCKING: readonly DeadLetterStatus[] = [
  'failed',
  'waiting',
  'retry-requested',
  'skip-requested',
];

export type DeadLetter = Readonly<{
  id: string;
  workflow: string;
  streamId: string;
  eventId: string;
  eventType: string;
  position: string;
  revision: number;
  status: DeadLetterStatus;
  attempts: number;
  error: string | null;
  /** For a waiting letter, the failed one it waits behind. */
  behind: string | null;
  parkedAt: string;
  updatedAt: string;
}>;

export type DeadLetterStore = Readonly<{
  ensure(): Promise<void>;
  park(letter: Omit<DeadLetter, 'id' | 'parkedAt' | 'updatedAt'>): Promise<DeadLetter>;
  update(
    id: string,
    patch: Partial<Pick<DeadLetter, 'status' | 'attempts' | 'error'>>,
  ): Promise<DeadLetter>;
  get(id: string): Promise<DeadLetter | undefined>;
  list(query: {
    workflow?: string;
    status?: DeadLetterStatus;
    streamId?: string;
    limit?: number;
    cursor?: string;
  }): Promise<{ items: readonly DeadLetter[]; nextCursor?: string }>;
  /** Admin: ask the worker to run a failed letter again. */
  requestRetry(id: string): Promise<DeadLetter>;
  /** Admin: ask the worker to give up on a failed letter and release the ones behind it. */
  requestSkip(id: string): Promise<DeadLetter>;
}>;

export function deadLetterId(workflow: string, event: Pick<RecordedEvent, 'id'>): string {
  return `${workflow}|${event.id}`;
}

export function createDeadLetterStore(
  store: ReadStore,
  now: () => Date = () => new Date(),
): DeadLetterStore {
  async function write(
    letter: DeadLetter,
    previous: StoredDocument | undefined,
  ): Promise<DeadLetter> {
    await store.bulkWrite(DEAD_LETTERS, [
      {
        kind: 'upsert',
        id: letter.id,
        position: nextVersion(previous?.position),
        value: letter as unknown as JsonObject,
      },
    ]);
    return letter;
  }

  async function load(id: string): Promise<{ letter: DeadLetter; doc: StoredDocument }> {
    const doc = await store.get(DEAD_LETTERS, id);
    if (doc === undefined) throw new NotFoundError(`Dead letter ${id} not found`, { id });
    return { letter: doc.value as unknown as DeadLetter, doc };
  }

  async function request(id: string, status: 'retry-requested' | 'skip-requested') {
    const { letter, doc } = await load(id);
    if (letter.status !== 'failed') {
      throw new RuleViolation(
        'dead-letter-not-failed',
        `Dead letter ${id} is ${letter.status}; only failed letters can be retried or skipped`,
        {
          id,
          letterStatus: letter.status,
        },
      );
    }
    return write({ ...letter, status, updatedAt: now().toISOString() }, doc);
  }

  return {
    ensure: () =>
      store.ensureCollection({
        name: DEAD_LETTERS,
        indexes: [
          { field: 'workflow' },
          { field: 'status' },
          { field: 'streamId' },
          { field: 'parkedAt' },
        ],
      }),
    async park(fields) {
      const at = now().toISOString();
      const id = `${fields.workflow}|${fields.eventId}`;
      const previous = await store.get(DEAD_LETTERS, id);
      return write({ ...fields, id, parkedAt: at, updatedAt: at }, previous);
    },
    async update(id, patch) {
      const { letter, doc } = await load(id);
      return write({ ...letter, ...patch, updatedAt: now().toISOString() }, doc);
    },
    async get(id) {
      const doc = await store.get(DEAD_LETTERS, id);
      return doc === undefined ? undefined : (doc.value as unknown as DeadLetter);
    },
    async list(query) {
      const where: Record<string, string> = {};
      if (query.workflow !== undefined) where.workflow = query.workflow;
      if (query.status !== undefined) where.status = query.status;
      if (query.streamId !== undefined) where.streamId = query.streamId;
      const page: FindResult = await store.find(DEAD_LETTERS, {
        where,
        orderBy: { field: 'parkedAt', direction: 'asc' },
        limit: query.limit ?? 50,
        ...(query.cursor === undefined ? {} : { cursor: query.cursor }),
      });
      return {
        items: page.items.map((item) => item.value as unknown as DeadLetter),
        ...(page.nextCursor === undefined ? {} : { nextCursor: page.nextCursor }),
      };
    },
    requestRetry: (id) => request(id, 'retry-requested'),
    requestSkip: (id) => request(id, 'skip-requested'),
  };
}

/**
 * Documents in a read store are position-guarded; a dead letter's "position" is a version
 * that grows with each write, time-based so that writers in different processes agree.
 */
function nextVersion(previous: string | undefined): string {
  const micros = BigInt(Date.now()) * 1000n;
  const after = previous === undefined ? 0n : BigInt(previous) + 1n;
  return (micros > after ? micros : after).toString().padStart(20, '0');
}
