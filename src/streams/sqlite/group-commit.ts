/**
 * Group commit: appends that arrive together are written in a single transaction, so a burst of
 * N appends costs one fsync instead of N. Each append is still checked on its own against the
 * stream as the earlier appends of the batch left it, and a conflicting append fails alone.
 *
 * Two committers share the batch writer below. A file-backed store commits on a writer thread
 * (`sqlite-writer.worker.ts`): the inserts and the fsync then never block the event loop that
 * serves requests, and every append that arrives while one batch is being made durable joins
 * the next. An in-memory database belongs to its connection, so `:memory:` stores commit on the
 * caller's thread, batching the appends of one event-loop turn.
 */
import type Database from 'better-sqlite3';
import { ConflictError, OverloadedError } from '../../errors.js';
import type { AppendResult, ExpectedRevision } from '../event-store.js';
import { startWorker, type StartedWorker } from '../../worker-thread.js';
import { encodePosition, type Statements } from './schema.js';

/** An event whose JSON is already serialised, so the transaction does no avoidable work. */
export type SerializedEvent = Readonly<{
  id: string;
  type: string;
  data: string;
  metadata: string;
}>;

/** One append as the batch writer sees it: plain data, so it can cross to the writer thread. */
export type AppendRequest = Readonly<{
  streamId: string;
  events: readonly SerializedEvent[];
  expectedRevision: ExpectedRevision;
}>;

export type PendingAppend = AppendRequest &
  Readonly<{
    resolve: (result: AppendResult) => void;
    reject: (error: unknown) => void;
  }>;

/** What became of one append, as plain data (errors do not keep their class across threads). */
export type AppendOutcome =
  | Readonly<{ result: AppendResult }>
  | Readonly<{ conflict: Readonly<{ expected: string; actual: string; overlap?: string }> }>;

/** Why a whole batch failed (the transaction rolled back), as plain data. */
export type BatchFailure = Readonly<{ message: string; code?: string }>;

export type GroupCommitStats = Readonly<{
  /** Write transactions committed. */
  commits: number;
  /** Append calls settled by those transactions, successful or conflicting. */
  appends: number;
}>;

export type GroupCommitter = {
  enqueue(append: PendingAppend): void;
  /** Writes whatever is queued and waits for it; no append may be enqueued afterwards. */
  close(): Promise<void>;
  stats(): GroupCommitStats;
};

/** The revision of a stream that has no events. */
const NO_STREAM = -1;

/**
 * Writes a batch in one IMMEDIATE transaction and returns each append's outcome. IMMEDIATE
 * takes the write lock before the first read, so the revision checks cannot be invalidated by
 * another process committing in between. Later appends of a batch see the rows of earlier
 * ones: it is one connection and one transaction, so the checks need no cache of their own.
 */
export function createBatchWriter(
  db: Database.Database,
  statements: Statements,
): (batch: readonly AppendRequest[]) => AppendOutcome[] {
  const transaction = db.transaction((batch: readonly AppendRequest[]) =>
    batch.map((append) => writeAppend(statements, append)),
  );
  return (batch) => transaction.immediate(batch);
}

/** Commits on the caller's thread, the appends of one event-loop turn together. */
export function createGroupCommitter(
  db: Database.Database,
  statements: Statements,
  onCommitted: () => void,
): GroupCommitter {
  const writeBatch = createBatchWriter(db, statements);
  const counters = createCounters();
  let queue: PendingAppend[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    let outcomes: AppendOutcome[];
    try {
      outcomes = writeBatch(batch);
    } catch (error) {
      const failure = translate(describeFailure(error), error);
      for (const append of batch) append.reject(failure);
      return;
    }
    counters.committed(batch.length);
    settle(batch, outcomes);
    onCommitted();
  }

  return {
    enqueue(append) {
      queue.push(append);
      if (scheduled) return;
      scheduled = true;
      // setImmediate runs after the I/O callbacks of this turn, so every request that arrived
      // in the same turn joins the batch.
      setImmediate(flush);
    },
    close() {
      flush();
      return Promise.resolve();
    },
    stats: counters.stats,
  };
}

/** Largest batch handed to the writer thread at once, so one reply never grows unbounded. */
const MAX_THREAD_BATCH = 2000;

type WriterReply = Readonly<{ outcomes: AppendOutcome[] }> | Readonly<{ failure: BatchFailure }>;

/**
 * Commits on a writer thread with its own connection to `path`. One batch is in flight at a
 * time; whatever is enqueued meanwhile is the next batch. If the thread dies, the appends it
 * held are rejected (they may or may not have committed: a retry with the same event ids is
 * answered from the log) and the next batch starts a new thread.
 */
export function createThreadedCommitter(path: string, onCommitted: () => void): GroupCommitter {
  const counters = createCounters();
  let queue: PendingAppend[] = [];
  let inFlight: PendingAppend[] | undefined;
  let writer: StartedWorker | undefined;
  let scheduled = false;
  let closing: (() => void) | undefined;

  function writerThread(): StartedWorker {
    if (writer !== undefined) return writer;
    const started = startWorker<WriterReply>(
      new URL(`./sqlite-writer.worker${moduleExtension()}`, import.meta.url),
      { path },
      {
        onMessage: (reply) => replied(reply),
        onExit: (error) => {
          writer = undefined;
          const lost = inFlight;
          inFlight = undefined;
          if (lost !== undefined) {
            const failure = new Error(`The event store's writer thread stopped: ${error.message}`, {
              cause: error,
            });
            for (const append of lost) append.reject(failure);
          }
          next();
        },
      },
    );
    writer = started;
    return started;
  }

  function next(): void {
    scheduled = false;
    if (inFlight !== undefined) return;
    if (queue.length === 0) {
      writer?.idle();
      closing?.();
      return;
    }
    const batch = queue.slice(0, MAX_THREAD_BATCH);
    queue = queue.slice(batch.length);
    inFlight = batch;
    const requests: AppendRequest[] = batch.map(({ streamId, events, expectedRevision }) => ({
      streamId,
      events,
      expectedRevision,
    }));
    writerThread().post(requests);
  }

  function replied(reply: WriterReply): void {
    const batch = inFlight;
    inFlight = undefined;
    if (batch !== undefined) {
      if ('failure' in reply) {
        const failure = translate(reply.failure);
        for (const append of batch) append.reject(failure);
      } else {
        counters.committed(batch.length);
        settle(batch, reply.outcomes);
        onCommitted();
      }
    }
    next();
  }

  return {
    enqueue(append) {
      queue.push(append);
      if (scheduled || inFlight !== undefined) return;
      scheduled = true;
      // Like the in-thread committer, the first batch gathers the appends of this turn; later
      // ones gather while the previous batch is being committed.
      setImmediate(next);
    },
    async close() {
      if (inFlight !== undefined || queue.length > 0) {
        await new Promise<void>((resolve) => {
          closing = resolve;
          if (!scheduled && inFlight === undefined) next();
        });
      }
      await writer?.stop();
      writer = undefined;
    },
    stats: counters.stats,
  };
}

/** `.ts` when running from the sources (tests, `tsx`), `.js` when running the build. */
function moduleExtension(): string {
  return import.meta.url.endsWith('.ts') ? '.ts' : '.js';
}

function createCounters() {
  let commits = 0;
  let appends = 0;
  return {
    committed(count: number) {
      commits += 1;
      appends += count;
    },
    stats: (): GroupCommitStats => ({ commits, appends }),
  };
}

function settle(batch: readonly PendingAppend[], outcomes: readonly AppendOutcome[]): void {
  batch.forEach((append, index) => {
    const outcome = outcomes[index];
    if (outcome === undefined) return;
    if ('result' in outcome) {
      append.resolve(outcome.result);
      return;
    }
    const { expected, actual, overlap } = outcome.conflict;
    append.reject(
      new ConflictError(
        append.streamId,
        expected,
        actual,
        overlap === undefined ? undefined : new Error(overlap),
      ),
    );
  });
}

function writeAppend(statements: Statements, append: AppendRequest): AppendOutcome {
  const { streamId, events, expectedRevision } = append;
  const current = statements.lastRevision.get(streamId) ?? NO_STREAM;
  // A new stream cannot hold any of the ids, which spares the lookups on the common path.
  if (current !== NO_STREAM) {
    const replay = findReplay(statements, append, current);
    if (replay !== undefined) return replay;
  }
  if (!expectationHolds(expectedRevision, current)) {
    return conflict(expectedRevision, current);
  }
  let revision = current;
  let position = 0;
  for (const event of events) {
    revision += 1;
    const info = statements.insert.run(
      streamId,
      revision,
      event.id,
      event.type,
      event.data,
      event.metadata,
    );
    position = Number(info.lastInsertRowid);
  }
  return { result: { nextExpectedRevision: revision, position: encodePosition(position) } };
}

/**
 * Recognises a retry: when the first id is already in the stream, every id must follow it at
 * consecutive revisions, and the retry gets the original result. Any other overlap between
 * the append and the stream is a conflict, whatever the expected revision.
 */
function findReplay(
  statements: Statements,
  append: AppendRequest,
  current: number,
): AppendOutcome | undefined {
  const { streamId, events, expectedRevision } = append;
  const found = events.map((event) => statements.findEventId.get(streamId, event.id));
  if (found.every((row) => row === undefined)) return undefined;
  const first = found[0];
  const isRetry =
    first !== undefined && found.every((row, index) => row?.revision === first.revision + index);
  const last = found[found.length - 1];
  if (isRetry && last !== undefined) {
    return {
      result: { nextExpectedRevision: last.revision, position: encodePosition(last.position) },
    };
  }
  return conflict(
    expectedRevision,
    current,
    `Some of the appended event ids are already in stream ${streamId}, but not as one consecutive run in the same order`,
  );
}

function conflict(expected: ExpectedRevision, current: number, overlap?: string): AppendOutcome {
  const base = { expected: renderRevision(expected), actual: renderRevision(current) };
  return { conflict: overlap === undefined ? base : { ...base, overlap } };
}

function expectationHolds(expected: ExpectedRevision, current: number): boolean {
  switch (expected) {
    case 'any':
      return true;
    case 'no-stream':
      return current === NO_STREAM;
    case 'stream-exists':
      return current !== NO_STREAM;
    default:
      return expected === current;
  }
}

/** How conflicts show revisions: a number, or `no-stream` for a stream without events. */
function renderRevision(revision: ExpectedRevision): string {
  return revision === NO_STREAM ? 'no-stream' : String(revision);
}

/** A failed batch as plain data, so the writer thread can send it. */
export function describeFailure(error: unknown): BatchFailure {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  return code === undefined ? { message: error.message } : { message: error.message, code };
}

function translate(failure: BatchFailure, original?: unknown): unknown {
  // Another process kept the write lock past the busy timeout: a transient overload, the
  // caller may retry. Anything else (disk full, I/O error) is passed on with its SQLite code.
  if (failure.code?.startsWith('SQLITE_BUSY') === true) {
    return new OverloadedError(`The event store is locked by another writer: ${failure.message}`);
  }
  if (original !== undefined) return original;
  const error = new Error(failure.message);
  return failure.code === undefined ? error : Object.assign(error, { code: failure.code });
}
